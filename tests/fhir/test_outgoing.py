"""FHIR out: the assessment and plan as a Bundle whose every resource validates with the
fhir.resources R4B models, and FHIR in -> case -> assess -> FHIR out round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spinecare.case import Case, parse_case
from spinecare.cli import main
from spinecare.cli.io import EXIT_INVALID, EXIT_OK
from spinecare.fhir.incoming import to_case
from spinecare.fhir.outgoing import check_resource, to_bundle
from spinecare.plan.planner import make_plan
from spinecare.reasoning.engine import assess
from tests.conftest import CASES as CASE_DIR
from tests.fhir.bundles import ON, case_bundle

CASES = sorted(CASE_DIR.glob("*.case.json"))
WHEN = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def _case(name: str) -> Case:
    return parse_case((CASE_DIR / f"{name}.case.json").read_bytes())


def _out(case: Case, **kw: Any) -> dict[str, Any]:
    a = assess(case)
    return to_bundle(case, a, make_plan(case, a), when=WHEN, **kw)


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_every_emitted_resource_validates_and_round_trips(path: Path) -> None:
    from fhir.resources.R4B.bundle import Bundle

    bundle = _out(parse_case(path.read_bytes()))
    for entry in bundle["entry"]:
        assert check_resource(entry["resource"]) == []
    # parse, dump, parse: the same document (fhir.resources' own round trip)
    model = Bundle.model_validate(bundle)
    again = json.loads(model.model_dump_json(exclude_none=True))
    assert Bundle.model_validate(again).model_dump() == model.model_dump()


def test_the_risk_assessment_has_a_prediction_per_condition_with_its_band() -> None:
    case = _case("dcm-moderate")
    a = assess(case)
    risk = _of(to_bundle(case, a, when=WHEN), "RiskAssessment")[0]
    assert [p["outcome"]["coding"][0]["code"] for p in risk["prediction"]] == \
        [c["code"] for c in a["conditions"]]
    first = risk["prediction"][0]
    assert first["probabilityDecimal"] == a["conditions"][0]["probability"]
    assert first["qualitativeRisk"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/risk-probability", "code": "high",
        "display": "High"}
    assert risk["mitigation"].startswith("URGENT: specialist assessment within about two weeks")


def test_a_red_flag_is_a_detected_issue_with_its_severity() -> None:
    emergency = _of(_out(_case("ces-retention")), "DetectedIssue")
    assert [(d["code"]["coding"][0]["code"], d["severity"]) for d in emergency] == [
        ("cauda_equina_syndrome", "high")]
    assert emergency[0]["evidence"][0]["code"]
    urgent = _of(_out(_case("dcm-moderate")), "DetectedIssue")
    assert [(d["code"]["coding"][0]["code"], d["severity"]) for d in urgent] == [
        ("myelopathy", "moderate")]
    assert _of(_out(_case("lss-classic")), "DetectedIssue") == []


def test_scores_are_observations_with_loinc_where_one_exists() -> None:
    scores = {o["code"]["coding"][-1]["code"]: o for o in _of(_out(_case("lss-classic")),
                                                              "Observation")}
    odi = scores["odi"]
    assert odi["code"]["coding"][0] == {"system": "http://loinc.org", "code": "97909-6",
                                        "display": "Oswestry disability index score ODI"}
    assert odi["valueQuantity"] == {"value": 38.0, "unit": "%",
                                    "system": "http://unitsofmeasure.org", "code": "%"}
    assert odi["interpretation"][0]["coding"][0]["code"] == "moderate"
    pain = scores["pain_nrs"]
    assert [c["code"]["coding"][0]["code"] for c in pain["component"]] == [
        "pain_nrs.back", "pain_nrs.leg"]


def test_the_care_plan_is_a_proposal_that_says_when_to_seek_urgent_care() -> None:
    plan = _of(_out(_case("dcm-moderate")), "CarePlan")[0]
    assert plan["intent"] == "proposal"
    assert plan["activity"]
    assert any("emergency department" in n["text"] for n in plan["note"])


def test_provenance_names_the_engine_and_knowledge_versions() -> None:
    bundle = _out(_case("lss-classic"))
    device = _of(bundle, "Device")[0]
    versions = {v["type"]["text"]: v["value"] for v in device["version"]}
    assert versions["engine"] and versions["knowledge"]
    provenance = _of(bundle, "Provenance")[0]
    targets = {t["reference"] for t in provenance["target"]}
    assert {e["fullUrl"] for e in bundle["entry"]
            if e["resource"]["resourceType"] not in ("Device", "Patient", "Provenance")} \
        == targets


def test_the_same_input_gives_the_same_bundle() -> None:
    assert _out(_case("lss-classic")) == _out(_case("lss-classic"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_fhir_in_then_case_then_assess_then_fhir_out(path: Path) -> None:
    original = parse_case(path.read_bytes())
    given = case_bundle(original)
    read = to_case(given, on=ON, case_id=original.id)
    case = parse_case(read.case)
    out = _out(case, sources=read.sources)
    risk = _of(out, "RiskAssessment")[0]
    # basis points at exactly the input resources the case was read from
    inputs = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in given["entry"]}
    basis = {b["reference"] for b in risk["basis"]}
    assert basis <= inputs and "Patient/p1" in basis
    assert risk["subject"] == {"reference": "Patient/p1"}
    assert _of(out, "Patient") == []
    # the conclusions equal those of the original case (the lists it lacks do not matter here)
    a = assess(case)
    assert [p["outcome"]["coding"][0]["code"] for p in risk["prediction"]] == \
        [c["code"] for c in a["conditions"]]
    for obs in _of(out, "Observation"):
        name = obs["code"]["coding"][-1]["code"]
        if getattr(case.instruments, name, None) is None:
            continue  # a clinical prediction rule over findings, not a questionnaire's score
        assert obs["derivedFrom"][0]["reference"].startswith("QuestionnaireResponse/"), name


def test_assess_fhir_prints_the_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--fhir", str(CASE_DIR / "ces-retention.case.json")]) == EXIT_OK
    bundle = json.loads(capsys.readouterr().out)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert _of(bundle, "DetectedIssue")[0]["severity"] == "high"


def test_assess_fhir_refuses_json_lines_and_bad_cases(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = CASE_DIR / "invalid" / "bad-unknown-field.case.json"
    assert main(["assess", "--fhir", str(bad)]) == EXIT_INVALID
    assert "symptoms.legpain: is not a known field" in capsys.readouterr().err
