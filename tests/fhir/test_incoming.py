"""FHIR in: bundles become cases, and nothing is guessed.

Each test states one rule of :mod:`spinecare.fhir.incoming`: unknown codes are reported and
ignored, the latest of two values wins and is said, entered-in-error and refuted resources never
count, units are UCUM and converted, a field no resource speaks of stays unknown.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from spinecare.case import parse_case
from spinecare.fhir.codes import code_map, parse_code_file
from spinecare.fhir.incoming import FhirInputError, to_case
from spinecare.instruments.fhir import UCUM, questionnaire_response
from spinecare.kb import KnowledgeFileError, knowledge_dir, read_toml
from tests.conftest import CASES as CASE_DIR
from tests.fhir.bundles import ON, PATIENT, bundle, case_bundle, observation, patient

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def condition(rid: str, system: str, code: str, *, clinical: str | None = "active",
              verification: str | None = None, recorded: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Condition", "id": rid,
                           "code": {"coding": [{"system": system, "code": code}]},
                           "subject": {"reference": PATIENT}}
    if clinical:
        out["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    if verification:
        out["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
    if recorded:
        out["recordedDate"] = recorded
    return out


CASES = sorted(CASE_DIR.glob("*.case.json"))


def messages(result: Any) -> list[str]:
    return [f"{p.ref}: {p.message}" for p in result.problems]


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_a_case_written_as_fhir_comes_back_the_same(path: Any) -> None:
    case = parse_case(path.read_bytes())
    result = to_case(case_bundle(case), on=ON, case_id=case.id)
    assert result.problems == []
    expected = case.model_dump(mode="json", by_alias=True, exclude_none=True)
    # The FHIR bundle carries no prior treatments or motor deficits (lists of records).
    for section in ("history", "exam"):
        expected.get(section, {}).pop("prior_treatments", None)
        expected.get(section, {}).pop("motor_deficits", None)
        if section in expected and not expected[section]:
            del expected[section]
    assert parse_case(result.case) == parse_case(expected)


def test_every_filled_field_names_the_resources_it_came_from() -> None:
    case = parse_case(CASES[0].read_bytes())
    result = to_case(case_bundle(case), on=ON)
    assert result.sources["patient.age"] == ["Patient/p1"]
    for path in result.sources:
        assert path.startswith(("patient.", "history.", "symptoms.", "exam.", "instruments."))
        assert all("/" in ref for ref in result.sources[path])
    odi = [p for p in result.sources if p.startswith("instruments.odi")]
    assert not odi or result.sources[odi[0]][0].startswith("QuestionnaireResponse/")


# --- what counts -----------------------------------------------------------------------------


def test_a_field_no_resource_speaks_of_stays_unknown() -> None:
    result = to_case(bundle(patient(60), observation("o1", "exam.hoffmann", True)), on=ON)
    assert result.case["exam"] == {"hoffmann": True}
    assert "history" not in result.case and "symptoms" not in result.case
    assert parse_case(result.case).exam.babinski is None


def test_an_empty_bundle_is_an_empty_case() -> None:
    result = to_case({"resourceType": "Bundle", "type": "collection"}, on=ON)
    assert result.case == {"schema": "spinecare.case/1", "id": "fhir-case",
                           "patient": {"age": None}}
    assert result.sources == {} and result.problems == []


def test_an_unknown_code_is_reported_and_ignored() -> None:
    obs = observation("o1", "exam.hoffmann", True)
    obs["code"] = {"coding": [{"system": LOINC, "code": "1234-5", "display": "Something"}]}
    result = to_case(bundle(patient(60), obs), on=ON)
    assert "exam" not in result.case
    assert messages(result) == [
        "Observation/o1: unknown code http://loinc.org|1234-5 (Something): ignored"]


def test_an_entered_in_error_observation_never_counts() -> None:
    result = to_case(bundle(patient(60), observation("o1", "symptoms.saddle_anesthesia", True,
                                                     status="entered-in-error")), on=ON)
    assert "symptoms" not in result.case
    assert messages(result) == ["Observation/o1: status entered-in-error: ignored"]


def test_a_cancelled_observation_never_counts() -> None:
    result = to_case(bundle(observation("o1", "exam.babinski", True, status="cancelled")), on=ON)
    assert "exam" not in result.case
    assert "status cancelled: ignored" in messages(result)[0]


def test_a_refuted_condition_never_counts() -> None:
    result = to_case(bundle(patient(60), condition("c1", SCT, "64859006",
                                                   verification="refuted")), on=ON)
    assert "history" not in result.case
    assert messages(result) == ["Condition/c1: verificationStatus refuted: never counts; ignored"]


def test_an_entered_in_error_condition_never_counts_even_beside_a_good_one() -> None:
    result = to_case(bundle(patient(60), condition("c1", SCT, "73211009",
                                                   verification="entered-in-error"),
                            condition("c2", ICD, "E11.65")), on=ON)
    assert result.case["history"] == {"diabetes": True}
    assert result.sources["history.diabetes"] == ["Condition/c2"]


def test_an_unconfirmed_condition_is_not_taken() -> None:
    result = to_case(bundle(condition("c1", SCT, "386661006", verification="provisional")),
                     on=ON)
    assert "history" not in result.case
    assert "not confirmed" in messages(result)[0]


def test_a_resolved_condition_counts_only_for_a_history_item() -> None:
    result = to_case(bundle(condition("c1", SCT, "386661006", clinical="resolved"),
                            condition("c2", ICD, "C61", clinical="remission")), on=ON)
    assert result.case["history"] == {"cancer_history": True}
    assert messages(result) == ["Condition/c1: history.fever: clinicalStatus resolved: not "
                                "current; ignored"]


def test_an_icd10cm_category_covers_its_subcodes_and_the_row_is_flagged_unverified() -> None:
    result = to_case(bundle(condition("c1", ICD, "M81.0")), on=ON)
    assert result.case["history"] == {"osteoporosis": True}
    assert result.unverified == {"history.osteoporosis": [f"{ICD}|M81"]}


def test_a_known_diagnosis_with_no_case_field_is_reported_with_its_reason() -> None:
    result = to_case(bundle(condition("c1", SCT, "192970008")), on=ON)
    assert result.case.get("symptoms") is None
    assert "Cauda equina syndrome (192970008): a diagnosis: record its findings" in \
        messages(result)[0]


# --- duplicates -----------------------------------------------------------------------------


def test_two_values_for_one_field_take_the_latest_and_say_so() -> None:
    result = to_case(bundle(observation("old", "symptoms.walking_tolerance_minutes", 20,
                                        when="2026-09-01"),
                            observation("new", "symptoms.walking_tolerance_minutes", 5,
                                        when="2026-11-30T10:00:00+01:00")), on=ON)
    assert result.case["symptoms"] == {"walking_tolerance_minutes": 5}
    assert result.sources["symptoms.walking_tolerance_minutes"] == ["Observation/new"]
    assert messages(result) == [
        "Observation/old: symptoms.walking_tolerance_minutes: 20 of 2026-09-01 is superseded "
        "by 5 from Observation/new of 2026-11-30T10:00:00+01:00, the latest"]


def test_agreeing_duplicates_are_all_named_as_sources() -> None:
    result = to_case(bundle(observation("a", "exam.babinski", True, when="2026-01-01"),
                            observation("b", "exam.babinski", True, when=None)), on=ON)
    assert result.case["exam"] == {"babinski": True}
    assert result.sources["exam.babinski"] == ["Observation/a", "Observation/b"]
    assert result.problems == []


def test_a_dated_value_wins_over_an_undated_one() -> None:
    result = to_case(bundle(observation("a", "exam.babinski", False, when=None),
                            observation("b", "exam.babinski", True, when="2026-01-01")), on=ON)
    assert result.case["exam"] == {"babinski": True}
    assert "Observation/a: exam.babinski: False with no effective date is superseded" in \
        messages(result)[0]


def test_disagreeing_values_without_effective_dates_leave_the_field_unknown() -> None:
    result = to_case(bundle(observation("a", "exam.babinski", False, when=None),
                            observation("b", "exam.babinski", True, when=None)), on=ON)
    assert "exam" not in result.case
    assert len(result.problems) == 2
    assert all("latest cannot be told" in m and "left unknown" in m for m in messages(result))


def test_an_observation_and_an_intake_answer_for_one_field_take_the_later() -> None:
    qr = questionnaire_response("intake", {"fever": False}, authored="2026-11-01")
    qr["id"] = "intake1"
    result = to_case(bundle(qr, observation("o1", "history.fever", True, when="2026-11-25")),
                     on=ON)
    assert result.case["history"] == {"fever": True}
    assert "QuestionnaireResponse/intake1: history.fever: False of 2026-11-01 is superseded" \
        in messages(result)[0]


# --- units and values -------------------------------------------------------------------------


def test_a_quantity_in_another_ucum_unit_is_converted() -> None:
    obs = observation("o1", "history.duration_weeks", 0)
    obs["valueQuantity"] = {"value": 3, "system": UCUM, "code": "mo", "unit": "months"}
    result = to_case(bundle(obs), on=ON)
    assert result.case["history"]["duration_weeks"] == pytest.approx(13.0446, abs=1e-3)


def test_a_unit_spinecare_cannot_convert_is_reported() -> None:
    obs = observation("o1", "exam.systolic_bp_mmhg", 0)
    obs["valueQuantity"] = {"value": 18, "system": UCUM, "code": "kPa"}
    result = to_case(bundle(obs), on=ON)
    assert "exam" not in result.case
    assert messages(result) == ["Observation/o1: exam.systolic_bp_mmhg: unit 'kPa' is not one "
                                "spinecare reads for it (UCUM: mm[Hg]); ignored"]


def test_a_unit_outside_ucum_is_reported() -> None:
    obs = observation("o1", "exam.post_void_residual_ml", 0)
    obs["valueQuantity"] = {"value": 300, "system": "http://example.org/units", "code": "mL"}
    result = to_case(bundle(obs), on=ON)
    assert "is not UCUM" in messages(result)[0]


def test_loinc_systolic_pressure_is_read_from_a_blood_pressure_panel() -> None:
    obs = {"resourceType": "Observation", "id": "bp", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
           "component": [
               {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 182, "system": UCUM, "code": "mm[Hg]"}},
               {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 95, "system": UCUM, "code": "mm[Hg]"}}]}
    result = to_case(bundle(obs), on=ON)
    assert result.case["exam"] == {"systolic_bp_mmhg": 182}
    assert result.sources["exam.systolic_bp_mmhg"] == ["Observation/bp"]


def test_a_value_out_of_range_is_reported_and_left_out() -> None:
    result = to_case(bundle(observation("o1", "exam.ankle_brachial_index", 7),
                            observation("o2", "exam.hoffmann", True)), on=ON)
    assert result.case["exam"] == {"hoffmann": True}
    assert messages(result) == ["Observation/o1: exam.ankle_brachial_index: must be <= 2.0 (got "
                                "7); ignored"]


def test_an_interpretation_answers_a_yes_no_finding() -> None:
    obs = observation("o1", "exam.hoffmann", True)
    del obs["valueBoolean"]
    obs["interpretation"] = [{"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": "NEG"}]}]
    assert to_case(bundle(obs), on=ON).case["exam"] == {"hoffmann": False}


def test_a_finding_code_recorded_without_a_value_is_present() -> None:
    obs = {"resourceType": "Observation", "id": "f", "status": "final",
           "code": {"coding": [{"system": SCT, "code": "386661006", "display": "Fever"}]}}
    assert to_case(bundle(obs), on=ON).case["history"] == {"fever": True}


def test_a_spinecare_finding_without_a_value_is_not_guessed() -> None:
    obs = observation("o1", "exam.hoffmann", True)
    del obs["valueBoolean"]
    obs["dataAbsentReason"] = {"coding": [{"code": "not-performed"}]}
    result = to_case(bundle(obs), on=ON)
    assert "exam" not in result.case
    assert messages(result) == ["Observation/o1: exam.hoffmann: no value (dataAbsentReason "
                                "not-performed); left unknown"]


def test_smoking_status_reads_its_coded_answer() -> None:
    obs = {"resourceType": "Observation", "id": "s", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
           "valueCodeableConcept": {"coding": [{"system": SCT, "code": "8517006"}]}}
    assert to_case(bundle(obs), on=ON).case["history"] == {"smoker": False}


# --- the patient ------------------------------------------------------------------------------


def test_age_is_computed_at_the_reference_date() -> None:
    p = {"resourceType": "Patient", "id": "p1", "birthDate": "1958-12-03", "gender": "male"}
    assert to_case(bundle(p), on=date(2026, 12, 2)).case["patient"] == {"age": 67,
                                                                        "sex": "male"}
    assert to_case(bundle(p), on=date(2026, 12, 3)).case["patient"]["age"] == 68


def test_a_birth_year_alone_takes_the_younger_age_and_says_so() -> None:
    p = {"resourceType": "Patient", "id": "p1", "birthDate": "1958"}
    result = to_case(bundle(p), on=date(2026, 6, 1))
    assert result.case["patient"]["age"] == 67
    assert messages(result) == ["Patient/p1: birthDate 1958 gives an age of 67 or 68 on "
                                "2026-06-01; 67 was taken"]


def test_resources_about_another_patient_are_ignored() -> None:
    other = observation("o2", "exam.babinski", True, subject="Patient/p2")
    result = to_case(bundle(patient(60), patient(70, pid="p2"),
                            observation("o1", "exam.hoffmann", True), other),
                     patient_id="p1", on=ON)
    assert result.case["patient"] == {"age": 60}
    assert result.case["exam"] == {"hoffmann": True}
    assert "Observation/o2: is about Patient/p2, not this case's patient; ignored" in \
        messages(result)


def test_several_patients_without_a_patient_id_is_an_error_naming_them() -> None:
    with pytest.raises(FhirInputError) as caught:
        to_case(bundle(patient(60), patient(70, pid="p2")), on=ON)
    assert str(caught.value) == ("entry: holds 2 patients (Patient/p1, Patient/p2); pass "
                                 "patient_id to say whose case it is")


# --- input that is not a bundle ---------------------------------------------------------------


def test_a_document_that_is_not_a_bundle_is_refused_naming_the_field() -> None:
    with pytest.raises(FhirInputError) as caught:
        to_case(patient(60))
    assert [str(p) for p in caught.value.problems] == [
        "resourceType: must be Bundle (got 'Patient'); give a Bundle, or a list of resources"]


def test_a_bundle_whose_entry_is_not_a_list_is_refused_naming_the_field() -> None:
    with pytest.raises(FhirInputError, match=r"^entry: must be a list of entries$"):
        to_case({"resourceType": "Bundle", "entry": {"resource": patient(60)}})


def test_an_entry_resource_without_a_type_is_refused_naming_the_field() -> None:
    with pytest.raises(FhirInputError, match=r"^entry\[0\]\.resource\.resourceType: is required"):
        to_case({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]})


def test_a_string_is_refused() -> None:
    with pytest.raises(FhirInputError, match="must be a FHIR Bundle"):
        to_case("Bundle")


def test_a_list_of_resources_and_nested_search_bundles_are_read() -> None:
    search = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": observation("o1", "exam.hoffmann", True)}]}
    result = to_case([patient(55), search], on=ON)
    assert result.case["exam"] == {"hoffmann": True} and result.case["patient"] == {"age": 55}


def test_an_invalid_resource_is_reported_and_the_rest_is_read() -> None:
    bad = observation("o1", "exam.hoffmann", True)
    bad["status"] = 5
    result = to_case(bundle(bad, observation("o2", "exam.babinski", True)), on=ON)
    assert result.case["exam"] == {"babinski": True}
    assert messages(result)[0].startswith("Observation/o1: is not a valid Observation: status")


def test_a_resource_spinecare_does_not_read_is_reported() -> None:
    result = to_case(bundle({"resourceType": "Encounter", "id": "e1", "status": "finished",
                             "class": {"code": "AMB"}}), on=ON)
    assert messages(result) == ["Encounter/e1: a Encounter is not read (spinecare reads "
                                "Patient, Observation, Condition, QuestionnaireResponse); "
                                "ignored"]


def test_an_entered_in_error_questionnaire_response_never_counts() -> None:
    qr = questionnaire_response("intake", {"fever": True}, status="entered-in-error")
    qr["id"] = "q1"
    result = to_case(bundle(qr), on=ON)
    assert "history" not in result.case
    assert messages(result) == ["QuestionnaireResponse/q1: status entered-in-error: ignored"]


def test_the_canonical_base_can_be_a_deployments_own() -> None:
    base = "https://fhir.clinic.example/spinecare"
    qr = questionnaire_response("intake", {"fever": True}, base=base)
    result = to_case(bundle(qr, observation("o1", "exam.hoffmann", True, base=base)),
                     base=base, on=ON)
    assert result.case["history"] == {"fever": True}
    assert result.case["exam"] == {"hoffmann": True}
    # ... and codes under the default base are then not spinecare's
    assert to_case(bundle(observation("o1", "exam.hoffmann", True)), base=base,
                   on=ON).problems[0].message.startswith("unknown code")


def test_the_base_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "https://fhir.clinic.example/sc"
    monkeypatch.setenv("SPINECARE_FHIR_BASE", base + "/")
    assert to_case(bundle(observation("o1", "exam.hoffmann", True, base=base)),
                   on=ON).case["exam"] == {"hoffmann": True}
    monkeypatch.setenv("SPINECARE_FHIR_BASE", "not a url")
    with pytest.raises(ValueError, match="SPINECARE_FHIR_BASE must be an http"):
        to_case(bundle())


# --- the mapping knowledge -----------------------------------------------------------------------


def _codes() -> dict[str, Any]:
    return copy.deepcopy(read_toml(knowledge_dir() / "fhir_codes.toml", "fhir_codes.toml"))


def test_every_mapped_code_names_its_sources_and_verification() -> None:
    cm = code_map()
    for target in [*cm.exact.values(), *cm.prefixes]:
        assert target.citations and target.verification in ("V", "P", "U")
    assert "history.diabetes" in cm.fields and "exam.hoffmann" in cm.fields


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["code"][0].update(field="history.diabetis"), "is not a scalar field"),
    (lambda d: d["code"][0].update(citations=["nowhere"]), "unknown source 'nowhere'"),
    (lambda d: d["code"].append(dict(d["code"][0])), "mapped twice"),
    (lambda d: d["code"][0].update(value="yes"), "does not fit a boolean field"),
    (lambda d: d["code"][0].update(units={"mg": [1, 1]}), "units only on an amount"),
    (lambda d: d["code"][0].pop("verification"), "missing required key"),
    (lambda d: d["spinecare"]["codes"].append({"code": "exam.motor_deficits",
                                               "display": "x"}), "not a scalar field"),
])
def test_a_broken_mapping_row_is_refused_naming_it(change: Any, message: str) -> None:
    data = _codes()
    change(data)
    with pytest.raises(KnowledgeFileError, match=message):
        parse_code_file(data)
