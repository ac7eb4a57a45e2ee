"""The patient intake: it reproduces each example case's history and symptoms, asks safety
questions first in plain words, and never asks anyone an irrelevant question."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from spinecare.case import History, Symptoms, parse_case
from spinecare.instruments.answers import read_response
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.fhir import questionnaire_response
from spinecare.instruments.intake import (
    case_from_intake,
    intake_answers_from_case,
    intake_fields,
    intake_form,
    intake_spec,
)
from tests.conftest import CASES
from tests.instruments.conftest import form_answers
from tests.strategies import valid_case_documents

FORM = intake_form()
EXAMPLES = sorted(CASES.glob("*.case.json"))
LEG_AND_WALKING_QUESTIONS = {
    "claudication", "walking_tolerance_minutes", "relief_standing_still", "calf_cramping",
    "uphill_easier_than_downhill", "cycling_tolerated", "leg_pain_below_knee",
    "leg_pain_exceeds_back_pain"}


def _through_fhir(answers: dict[str, Any]) -> dict[str, Any]:
    qr = questionnaire_response("intake", answers, authored="2026-03-01T09:30:00Z")
    return read_response(json.loads(json.dumps(qr))).answers


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_the_intake_answered_as_an_example_case_reproduces_its_history_and_symptoms(
        path: Path) -> None:
    case = parse_case(path.read_text())
    answers, hidden = intake_answers_from_case(case)
    assert hidden == [], "the example's findings must all be askable"
    rebuilt = case_from_intake(_through_fhir(answers), case_id=case.id,
                               patient=case.patient.model_dump())
    assert rebuilt.history == case.history
    assert rebuilt.symptoms == case.symptoms


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_case_documents)
def test_any_case_round_trips_except_the_findings_the_intake_would_not_ask(
        doc: dict[str, Any]) -> None:
    case = parse_case(doc)
    answers, hidden = intake_answers_from_case(case)
    rebuilt = case_from_intake(_through_fhir(answers), case_id=case.id,
                               patient=case.patient.model_dump())
    fields = intake_fields()
    for link, path in fields.items():
        section, name = path.split(".")
        expected = None if link in hidden else getattr(getattr(case, section), name)
        got = getattr(getattr(rebuilt, section), name)
        assert got == expected, (link, got, expected)


@settings(max_examples=50, deadline=None)
@given(form_answers(FORM))
def test_answers_that_respect_enable_when_always_make_a_valid_case(
        answers: dict[str, Any]) -> None:
    back = _through_fhir(answers)
    assert back == answers
    case_from_intake(back, case_id="generated")


def test_every_history_and_symptom_field_is_asked_by_exactly_one_question() -> None:
    paths = list(intake_fields().values())
    expected = {f"history.{f}" for f in History.model_fields} | {
        f"symptoms.{f}" for f in Symptoms.model_fields}
    # The list of treatments tried is entered on the clinician's visit form (the intake asks
    # single answers; it has no repeating groups yet).
    expected -= {"history.prior_treatments"}
    assert sorted(paths) == sorted(expected)


def test_the_intake_never_asks_about_the_examination() -> None:
    assert all(p.split(".")[0] in ("history", "symptoms") for p in intake_fields().values())


def test_nobody_without_leg_symptoms_is_asked_about_walking_or_leg_pain() -> None:
    no_legs = {"leg_pain": "none", "leg_paresthesia": "none", "leg_weakness": "none",
               "leg_heaviness": False, "low_back_pain": True}
    shown = FORM.enabled(no_legs)
    assert LEG_AND_WALKING_QUESTIONS.isdisjoint(shown)
    assert FORM.enabled({**no_legs, "leg_pain": "left"}) >= {"claudication",
                                                             "leg_pain_below_knee"}


def test_walking_questions_follow_only_a_yes_to_symptoms_on_walking_or_standing() -> None:
    base = {"leg_pain": "both", "low_back_pain": True}
    assert "walking_tolerance_minutes" not in FORM.enabled({**base, "claudication": False})
    assert "walking_tolerance_minutes" not in FORM.enabled(base)  # unanswered is not yes
    assert "walking_tolerance_minutes" in FORM.enabled({**base, "claudication": True})


def test_leg_versus_back_pain_is_asked_only_with_both_kinds_of_pain() -> None:
    assert "leg_pain_exceeds_back_pain" not in FORM.enabled({"leg_pain": "left",
                                                             "low_back_pain": False})
    assert "leg_pain_exceeds_back_pain" in FORM.enabled({"leg_pain": "left",
                                                         "low_back_pain": True})


def test_the_urgent_care_statement_comes_first_then_the_red_flag_questions() -> None:
    first, second, safety = FORM.items[0], FORM.items[1], FORM.items[2]
    assert first.link_id == "urgent_notice" and first.type == "display"
    for sign in ("bladder", "bowel", "numbness", "weakness", "emergency"):
        assert sign in first.text.lower()
    assert second.type == "display"
    red_flags = ["bladder", "bowel_incontinence", "saddle_anesthesia", "leg_weakness", "fever",
                 "cancer_history", "unexplained_weight_loss", "major_trauma", "minor_trauma",
                 "night_pain", "iv_drug_use", "immunosuppression",
                 "recent_infection_or_spinal_procedure", "osteoporosis", "long_term_steroids"]
    assert safety.enable_when == ()
    assert set(red_flags) <= {i.link_id for i in safety.items}
    order = list(FORM.questions())
    assert order[:len(safety.items)] == [i.link_id for i in safety.items]
    # the cauda equina questions open the section
    assert order[:3] == ["bladder", "bowel_incontinence", "saddle_anesthesia"]


JARGON = ["stenosis", "claudication", "myelopathy", "radiculopathy", "cauda equina",
          "paraesthesia", "paresthesia", "anaesthesia", "anesthesia", "incontinence",
          "lhermitte", "thoracic", "bilateral", "neurogenic", "perineum", "micturition",
          "retention", "diagnos"]


def _patient_texts() -> list[str]:
    texts = [FORM.title]
    for item, _ in FORM.walk():
        texts.append(item.text)
        texts += [o.display for o in item.options]
    return texts


def test_patient_facing_text_uses_plain_words_and_makes_no_diagnosis() -> None:
    for text in _patient_texts():
        lowered = text.lower()
        for word in JARGON:
            assert word not in lowered, (word, text)
        assert not re.search(r"\byou (have|are suffering from) (a |an )?[a-z]+ "
                             r"(disease|syndrome|stenosis)", lowered), text
    notice = intake_spec().urgent_notice.lower()
    assert "can be" in notice or "may be" in notice


def test_answering_a_hidden_question_is_an_error_naming_it_and_its_condition() -> None:
    with pytest.raises(AnswerError) as caught:
        read_response({"questionnaire": "intake",
                       "answers": {"leg_pain": "none", "claudication": True}})
    (problem,) = caught.value.problems
    assert problem.path == "answers.claudication"
    assert "leg_pain is left, right or both" in problem.message


def test_an_unanswered_question_leaves_its_finding_unknown_not_false() -> None:
    case = case_from_intake({"fever": False}, case_id="x")
    assert case.history.fever is False
    assert case.history.cancer_history is None
    assert case.symptoms.bladder is None


def test_durations_in_other_units_are_converted_to_weeks() -> None:
    answers = read_response({"questionnaire": "intake", "answers": {
        "duration_weeks": {"value": 3, "unit": "mo"}}}).answers
    assert answers["duration_weeks"] == pytest.approx(3 * 365.25 / 12 / 7)
    qr = questionnaire_response("intake", {})
    qr["item"] = [{"linkId": "this_problem", "item": [{"linkId": "duration_weeks", "answer": [
        {"valueQuantity": {"value": 10, "unit": "days", "system": "http://unitsofmeasure.org",
                           "code": "d"}}]}]}]
    assert read_response(qr).answers["duration_weeks"] == pytest.approx(10 / 7)


def test_a_duration_beyond_the_case_schema_is_an_error_at_its_question() -> None:
    with pytest.raises(AnswerError) as caught:
        read_response({"questionnaire": "intake", "answers": {
            "duration_weeks": {"value": 120, "unit": "a"}}})
    assert caught.value.problems[0].path == "answers.duration_weeks"
    assert "5200" in caught.value.problems[0].message


def test_the_intake_cites_sources_that_resolve() -> None:
    from spinecare.reasoning.knowledge import default_knowledge

    assert set(intake_spec().cite) <= set(default_knowledge().citations)
