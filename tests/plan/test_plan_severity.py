"""Severity and prior care change the plan; imaging in the case is not ordered again; guideline
disagreements are shown as one item with both sides; warnings speak of new or worse symptoms.

The cases are written from the sources the rules cite: NASS 2011 (decompression suggested for
moderate to severe stenosis symptoms, here after conservative care has failed), Fairbank's ODI
bands, AO Spine/CSRS 2017 (moderate or severe myelopathy: surgery), AHA/ACC 2016 (ABI 0.90 or
less) with NICE CG147, NHS EBI against NASS 2011 on epidural steroids, ACP 2017 against NICE NG59
on acupuncture, NICE NG59 on weak opioids (acute, NSAID unsuitable; not chronic). Each behaviour
is checked both ways: mild presentations keep the conservative plan.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest

from spinecare.kb import KnowledgeFileError
from spinecare.plan.rules import load_plan_rules, parse_plan_rules
from tests.plan.conftest import EXAMPLE_CASES, case_document, plan_of

RULES = load_plan_rules()
SEVERE_ODI = [4, 3, 4, 4, 3, 4, 3, 3, 3, 3]  # 34/50 = 68%: very severe disability
MILD_ODI = [1, 0, 1, 1, 1, 1, 0, 1, 1, 1]  # 8/50 = 16%: minimal disability
FAILED = [
    {"treatment": "physio", "weeks": 12, "response": "no_change"},  # an alias of exercise_therapy
    {"treatment": "Ibuprofen", "weeks": 8, "response": "no_change"},  # an alias of nsaids
]


def _lss(odi: list[int] | None, tried: list[dict[str, Any]] | None,
         **symptoms: Any) -> dict[str, Any]:
    doc = case_document("lss-classic")
    if odi is None:
        doc["instruments"].pop("odi")
    else:
        doc["instruments"]["odi"] = odi
    if tried is not None:
        doc["history"]["prior_treatments"] = tried
    doc["symptoms"].update(symptoms)
    return doc


def rule_ids(plan: dict[str, Any], section: str) -> list[str]:
    return [item["rule"] for item in plan[section]]


def pending(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {p["rule"]: p["missing"] for p in plan["pending"]}


# --- severity and prior care -----------------------------------------------------------------


def test_severe_stenosis_after_failed_conservative_care_is_offered_a_surgical_discussion() -> None:
    plan = plan_of(_lss(SEVERE_ODI, FAILED))
    assert "ref.lss.surgical_discussion" in rule_ids(plan, "referral")
    assert plan["based_on"]["severity"]["odi_band"] == "very_severe"
    assert [t["id"] for t in plan["based_on"]["prior_treatments"]] == ["exercise_therapy", "nsaids"]


def test_mild_stenosis_keeps_the_conservative_plan_even_after_failed_care() -> None:
    plan = plan_of(_lss(MILD_ODI, FAILED))
    assert "ref.lss.surgical_discussion" not in rule_ids(plan, "referral")
    assert "ref.lss.surgical_discussion" not in pending(plan)
    assert "ref.lss.physiotherapy" in rule_ids(plan, "referral")
    assert "esc.lss.surgical_opinion" in rule_ids(plan, "escalation")


def test_severe_stenosis_that_conservative_care_improved_stays_conservative() -> None:
    helped = [*FAILED, {"treatment": "walking_programme", "weeks": 10, "response": "improved"}]
    plan = plan_of(_lss(SEVERE_ODI, helped))
    assert "ref.lss.surgical_discussion" not in rule_ids(plan, "referral")


def test_a_short_trial_of_care_is_not_yet_failed_care() -> None:
    short = [{"treatment": "exercise_therapy", "weeks": 2, "response": "no_change"}]
    assert "ref.lss.surgical_discussion" not in rule_ids(plan_of(_lss(SEVERE_ODI, short)),
                                                         "referral")


def test_nothing_tried_yet_is_not_failed_care() -> None:
    assert "ref.lss.surgical_discussion" not in rule_ids(plan_of(_lss(SEVERE_ODI, [])),
                                                         "referral")


def test_severe_stenosis_with_care_not_asked_asks_what_was_tried() -> None:
    plan = plan_of(_lss(SEVERE_ODI, None))
    assert "ref.lss.surgical_discussion" not in rule_ids(plan, "referral")
    assert pending(plan)["ref.lss.surgical_discussion"] == [
        "what was tried before and how it went (history.prior_treatments)"]


def test_without_an_odi_a_short_walking_tolerance_stands_for_severity() -> None:
    plan = plan_of(_lss(None, FAILED, walking_tolerance_minutes=5))
    assert "ref.lss.surgical_discussion" in rule_ids(plan, "referral")
    plan = plan_of(_lss(None, FAILED, walking_tolerance_minutes=45))
    assert "ref.lss.surgical_discussion" not in rule_ids(plan, "referral")


def test_severity_unknown_is_asked_for() -> None:
    doc = _lss(None, FAILED)
    doc["symptoms"].pop("walking_tolerance_minutes")
    missing = pending(plan_of(doc))["ref.lss.surgical_discussion"]
    assert "ODI score (instruments.odi)" in missing
    assert "symptoms.walking_tolerance_minutes" in missing


def test_words_the_treatment_knowledge_does_not_know_are_kept_but_not_counted() -> None:
    plan = plan_of(_lss(SEVERE_ODI, [{"treatment": "yoga", "weeks": 20, "response": "no_change"}]))
    assert plan["based_on"]["prior_treatments"] == [
        {"treatment": "yoga", "id": None, "weeks": 20, "response": "no_change"}]
    assert "ref.lss.surgical_discussion" not in rule_ids(plan, "referral")


def test_moderate_or_severe_myelopathy_is_referred_for_a_surgical_opinion() -> None:
    severe = {"upper_extremity_motor": 2, "lower_extremity_motor": 4,
              "upper_extremity_sensation": 2, "micturition": 2}
    mild = {"upper_extremity_motor": 4, "lower_extremity_motor": 6,
            "upper_extremity_sensation": 3, "micturition": 3}
    assert "ref.dcm.surgical_assessment" in rule_ids(
        plan_of(case_document("dcm-moderate", instruments={"mjoa": severe})), "referral")
    plan = plan_of(case_document("dcm-moderate", instruments={"mjoa": mild}))
    assert "ref.dcm.surgical_assessment" not in rule_ids(plan, "referral")
    assert "ref.dcm.mild_options" in rule_ids(plan, "referral")


# --- peripheral arterial disease with stenosis ----------------------------------------------


def test_stenosis_with_arterial_disease_gets_vascular_assessment_and_prevention() -> None:
    doc = case_document("lss-classic", history={"peripheral_arterial_disease": True})
    plan = plan_of(doc)
    item = next(r for r in plan["referral"] if r["rule"] == "ref.lss.arterial_disease")
    assert "nice_cg147" in item["citations"]
    assert "[U" in item["clinician_text"]  # CG147's text is unverified and says so
    low_abi = case_document("lss-classic", exam={"ankle_brachial_index": 0.7})
    assert "ref.lss.arterial_disease" in rule_ids(plan_of(low_abi), "referral")


def test_stenosis_without_arterial_disease_gets_no_vascular_referral_and_asks_nothing() -> None:
    plan = plan_of(case_document("lss-classic"))
    assert "ref.lss.arterial_disease" not in rule_ids(plan, "referral")
    assert "ref.lss.arterial_disease" not in pending(plan)


# --- imaging already in the case ---------------------------------------------------------------


def test_a_lumbar_mri_in_the_case_is_not_ordered_again() -> None:
    before = plan_of(case_document("lss-classic"))
    assert "inv.lss.mri" in rule_ids(before, "investigations")
    doc = case_document("lss-classic")
    doc["imaging"] = [{"modality": "mri", "region": "lumbar", "canal_ap_diameter_mm": 9.0}]
    plan = plan_of(doc)
    assert "inv.lss.mri" not in rule_ids(plan, "investigations")
    shown = next(i for i in plan["investigations"] if i["rule"] == "inv.imaging_in_case.lumbar_mri")
    assert shown["status"] == "not_needed"


def test_a_cervical_mri_in_the_case_is_not_ordered_again_for_myelopathy() -> None:
    doc = case_document("dcm-moderate")
    doc["imaging"] = [{"modality": "mri", "region": "cervical", "cord_compression": True}]
    plan = plan_of(doc)
    if plan["level"]["triage"] != "emergency":
        assert "inv.dcm.mri" not in rule_ids(plan, "investigations")
        assert "inv.imaging_in_case.cervical_mri" in rule_ids(plan, "investigations")


def test_suspected_cauda_equina_still_gets_an_emergency_mri_with_an_old_one_in_the_case() -> None:
    doc = case_document("ces-retention")
    doc["imaging"] = [{"modality": "mri", "region": "lumbar"}]
    plan = plan_of(doc)
    assert "inv.cauda_equina.mri" in rule_ids(plan, "investigations")
    assert "inv.imaging_in_case.lumbar_mri" not in rule_ids(plan, "investigations")


# --- guideline disagreements -------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_CASES)
def test_every_disagreement_is_one_item_with_both_sides_and_their_sources(name: str) -> None:
    plan = plan_of(case_document(name))
    avoided = {(a["condition"], t["id"]) for a in plan["avoid"] for t in a["treatments"]}
    for item in plan["disagreements"]:
        for t in item["treatments"]:
            stances = {side["stance"] for side in t["sides"]}
            assert "against" in stances and len(stances) > 1, t
            assert all(side["citations"] and side["says"] for side in t["sides"])
            assert all(c in plan["citations"] for side in t["sides"] for c in side["citations"])
            assert (item["condition"], t["id"]) not in avoided


def test_stenosis_shows_epidural_steroids_as_nass_against_nhs_ebi() -> None:
    plan = plan_of(case_document("lss-classic"))
    epidural = next(t for d in plan["disagreements"] for t in d["treatments"]
                    if t["id"] == "epidural_steroid_injection")
    sides = {s["stance"]: s for s in epidural["sides"]}
    assert sides["for"]["citations"] == ["nass2011"] and sides["for"]["verification"] == "U"
    assert "aomrc_ebi" in sides["against"]["citations"]


def test_back_pain_shows_acupuncture_as_acp_against_nice_with_the_unverified_part_flagged() -> None:
    plan = plan_of(case_document("simple-back-pain"))
    acupuncture = next(t for d in plan["disagreements"] for t in d["treatments"]
                       if t["id"] == "acupuncture")
    sides = {s["stance"]: s for s in acupuncture["sides"]}
    assert sides["for"]["citations"] == ["qaseem2017_acp"] and "[U]" in sides["for"]["says"]
    assert sides["against"]["citations"] == ["nice_ng59"]


def test_weak_opioids_show_the_acute_and_the_chronic_positions() -> None:
    plan = plan_of(case_document("simple-back-pain"))
    opioids = next(t for d in plan["disagreements"] for t in d["treatments"]
                   if t["id"] == "weak_opioids")
    assert {s["stance"] for s in opioids["sides"]} == {"conditional", "against"}


def test_no_disagreement_without_the_condition() -> None:
    assert plan_of(case_document("ces-retention"))["disagreements"] == []


# --- warnings worded as new or worse ------------------------------------------------------------


@pytest.mark.parametrize("rule", [r for r in RULES.safety_net if r.urgency in
                                  ("immediately", "same_day")], ids=lambda r: r.id)
def test_urgent_warnings_speak_of_new_or_worse_symptoms(rule: Any) -> None:
    for symptom in rule.symptoms:
        words = symptom.lower()
        assert any(w in words for w in ("new", "worse", "sudden", "chest pain")), symptom


def test_a_patient_with_pain_in_both_legs_is_warned_only_of_new_or_worse_symptoms() -> None:
    plan = plan_of(case_document("lss-classic"))  # pain in both legs already
    ces = next(s for s in plan["safety_net"] if s["rule"] == "safe.cauda_equina")
    both_legs = [s for s in ces["symptoms"] if "both legs" in s]
    assert both_legs and all("New" in s or "worse" in s for s in both_legs)


# --- the loader checks the new rule kinds ------------------------------------------------------

_TEXT = (files("spinecare.knowledge") / "plan_rules.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("snippet", "expected"), [
    pytest.param("""
[[disagreement]]
id = "differ.test.paracetamol"
condition = "lumbar_spinal_stenosis"
treatments = ["paracetamol"]
patient_text = "x may differ."
clinician_text = "x"
citations = ["expert_judgement"]
""", "guidelines do not differ on 'paracetamol'", id="no disagreement in the knowledge"),
    pytest.param("""
[[disagreement]]
id = "differ.test.epidural_again"
condition = "lumbar_spinal_stenosis"
treatments = ["epidural_steroid_injection"]
patient_text = "x may differ."
clinician_text = "x"
citations = ["expert_judgement"]

[[avoid]]
id = "avoid.test.epidural"
condition = "lumbar_spinal_stenosis"
treatments = ["epidural_steroid_injection"]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "is also avoided for 'lumbar_spinal_stenosis'", id="disputed and avoided"),
    pytest.param("""
[[review]]
id = "rev.test.band"
when = "band.odi in ('crippled',)"
instrument = "odi"
weeks = [6]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "band.odi is never 'crippled'", id="a band the instrument does not have"),
    pytest.param("""
[[review]]
id = "rev.test.tried"
when = "any_prior_treatment(item.treatment == 'reiki', True)"
instrument = "odi"
weeks = [6]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "unknown treatment 'reiki'", id="a prior treatment that is not in the knowledge"),
])
def test_a_broken_severity_or_disagreement_rule_is_rejected(snippet: str, expected: str) -> None:
    with pytest.raises(KnowledgeFileError) as info:
        parse_plan_rules(_TEXT + snippet)
    assert expected in str(info.value)


@pytest.mark.parametrize("stop", [s for s in RULES.programme.stop_symptoms
                                  if s.urgency in ("immediately", "same_day")],
                         ids=lambda s: s.id)
def test_exercise_stop_symptoms_that_send_a_patient_for_care_are_new_or_worse(stop: Any) -> None:
    words = stop.label.lower()
    assert any(w in words for w in ("new", "worse", "sudden", "chest pain", "fall")), stop.label
