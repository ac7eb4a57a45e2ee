"""Generated FHIR Questionnaires validate; QuestionnaireResponses round-trip into scores and
cases that the engine assesses.

Validation is twofold: the fhir.resources R4B models, and our own R4 checks (the models do not
enforce code bindings or the questionnaire invariants). The checker is itself tested on
deliberately broken questionnaires, each of which it must reject.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.case import parse_case
from spinecare.instruments.answers import read_response
from spinecare.instruments.cases import case_from_responses, responses_from_case
from spinecare.instruments.catalogue import form_ids
from spinecare.instruments.fhir import (
    CANONICAL_BASE,
    ORDINAL_VALUE,
    check_questionnaire,
    questionnaire,
    questionnaire_response,
)
from spinecare.instruments.scoring import score_answers
from spinecare.reasoning.engine import assess
from tests.conftest import CASES
from tests.instruments.conftest import INSTRUMENT_IDS, REGISTRY, instrument_answers

FORMS = form_ids()


def _walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out += _walk(item.get("item", []))
    return out


@pytest.mark.parametrize("form_id", FORMS)
def test_every_generated_questionnaire_is_a_valid_r4_questionnaire(form_id: str) -> None:
    from fhir.resources.R4B.questionnaire import Questionnaire

    doc = questionnaire(form_id)
    assert check_questionnaire(doc) == []
    model = Questionnaire.model_validate(doc)
    # serialised forms round-trip: parse, dump, parse gives the same resource
    again = json.loads(model.model_dump_json(exclude_none=True))
    assert Questionnaire.model_validate(again) == model
    assert doc["url"] == f"{CANONICAL_BASE}/Questionnaire/{form_id}"
    assert "fhirVersion" not in json.dumps(doc)


@pytest.mark.parametrize("form_id", FORMS)
def test_link_ids_are_unique_and_every_enable_when_names_an_earlier_question(
        form_id: str) -> None:
    items = _walk(questionnaire(form_id)["item"])
    links = [i["linkId"] for i in items]
    assert len(links) == len(set(links))
    for n, item in enumerate(items):
        for cond in item.get("enableWhen", []):
            earlier = {i["linkId"]: i for i in items[:n]}
            assert cond["question"] in earlier, (item["linkId"], cond)
            target = earlier[cond["question"]]
            key = {"boolean": "answerBoolean", "choice": "answerCoding"}[target["type"]]
            assert key in cond
            if key == "answerCoding":
                codes = {o["valueCoding"]["code"] for o in target["answerOption"]}
                assert cond[key]["code"] in codes


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
def test_every_scored_option_carries_its_value_as_ordinal_value(inst_id: str) -> None:
    inst = REGISTRY[inst_id]
    items = {i["linkId"]: i for i in _walk(questionnaire(inst_id)["item"])}
    for item in inst.item:
        scale = inst.scale_of(item)
        rendered = items[item.link_id]
        assert rendered["type"] == scale.type
        if scale.type == "choice":
            weights = [o["valueCoding"]["extension"][0] for o in rendered["answerOption"]]
            assert all(w["url"] == ORDINAL_VALUE for w in weights)
            assert [w["valueDecimal"] for w in weights] == [o.value for o in scale.options]


def test_licensed_wording_is_not_shipped_and_unverified_codes_are_marked() -> None:
    odi = questionnaire("odi")
    texts = " ".join(o["valueCoding"]["display"] for i in _walk(odi["item"])
                     for o in i.get("answerOption", []))
    assert "I have no pain at the moment" not in texts  # the licensed first statement
    assert "licen" in odi["copyright"].lower()
    ndi = questionnaire("ndi")
    marked = [c for c in ndi["code"] if c.get("extension")]
    assert marked and marked[0]["extension"][0]["valueCode"] == "unverified"
    assert "extension" not in questionnaire("odi")["code"][0]  # 97908-8 is verified


# --- the checker itself must catch broken questionnaires --------------------------------------


def _break(how: str) -> dict[str, Any]:
    doc = copy.deepcopy(questionnaire("intake"))
    items = _walk(doc["item"])
    by_link = {i["linkId"]: i for i in items}
    if how == "duplicate linkId":
        by_link["fever"]["linkId"] = "bladder"
    elif how == "enableWhen names a later item":
        by_link["bladder"]["enableWhen"] = [{"question": "smoker", "operator": "=",
                                             "answerBoolean": True}]
    elif how == "enableWhen answer of the wrong type":
        by_link["walking"]["enableWhen"][0] = {"question": "claudication", "operator": "=",
                                               "answerString": "yes"}
    elif how == "enableWhen code that is not an option":
        by_link["legs"]["enableWhen"][0]["answerCoding"]["code"] = "bilateral"
    elif how == "several enableWhen without enableBehavior":
        del by_link["legs"]["enableBehavior"]
    elif how == "unknown item type":
        by_link["fever"]["type"] = "yesno"
    elif how == "unknown status":
        doc["status"] = "final"
    elif how == "element not in R4":
        by_link["fever"]["disabledDisplay"] = "hidden"
    elif how == "empty group":
        by_link["health"]["item"] = []
    elif how == "answer options on a boolean":
        by_link["fever"]["answerOption"] = [{"valueString": "yes"}]
    elif how == "enableWhen on a group":
        by_link["smoker"]["enableWhen"] = [{"question": "safety", "operator": "=",
                                            "answerBoolean": True}]
    elif how == "unusable name":
        doc["name"] = "spinecare intake"
    return doc


@pytest.mark.parametrize("how", [
    "duplicate linkId", "enableWhen names a later item", "enableWhen answer of the wrong type",
    "enableWhen code that is not an option", "several enableWhen without enableBehavior",
    "unknown item type", "unknown status", "element not in R4", "empty group",
    "answer options on a boolean", "enableWhen on a group", "unusable name",
])
def test_the_checker_rejects_a_broken_questionnaire(how: str) -> None:
    assert check_questionnaire(_break(how)) != []


def test_the_checker_reports_a_structural_error_from_the_fhir_models() -> None:
    doc = copy.deepcopy(questionnaire("odi"))
    doc["item"][1]["linkIdd"] = "x"
    problems = check_questionnaire(doc)
    assert any("item[1]" in p for p in problems)


# --- QuestionnaireResponse round trips --------------------------------------------------------


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_questionnaire_response_round_trips_to_the_same_answers_and_score(
        inst_id: str, data: st.DataObject) -> None:
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    answers = data.draw(instrument_answers(REGISTRY[inst_id]))
    qr = questionnaire_response(inst_id, answers, authored="2026-03-01")
    QuestionnaireResponse.model_validate(qr)
    back = read_response(json.loads(json.dumps(qr)))
    assert back.questionnaire == inst_id
    assert back.answers == answers
    assert back.date == "2026-03-01"
    assert score_answers(inst_id, back.answers) == score_answers(inst_id, answers)


@pytest.mark.parametrize("path", sorted(CASES.glob("*.case.json")), ids=lambda p: p.stem)
def test_responses_round_trip_into_a_case_the_engine_assesses_identically(path: Any) -> None:
    original = parse_case(path.read_text())
    responses, hidden = responses_from_case(original)
    assert hidden == []
    as_fhir = [read_response(json.loads(json.dumps(
        questionnaire_response(r.questionnaire, r.answers)))) for r in responses]
    rebuilt, notes = case_from_responses(as_fhir, case_id=original.id,
                                         patient=original.patient.model_dump())
    assert notes == []
    assert rebuilt.history == original.history
    assert rebuilt.symptoms == original.symptoms
    assert rebuilt.instruments == original.instruments
    # The intake never asks about the examination: with the examination added back, the
    # engine's assessment is the original's.
    full = parse_case({**rebuilt.model_dump(by_alias=True, exclude_none=True),
                       "exam": original.exam.model_dump(exclude_none=True),
                       "imaging": [i.model_dump(exclude_none=True)
                                   for i in original.imaging or []] or None})
    assert assess(full) == assess(original)
    assert assess(rebuilt)["scores"].keys() >= assess(original)["scores"].keys() - {
        "cook_myelopathy_cpr", "cook_lss_cpr", "konno_lss_dst"}


def test_a_questionnaire_response_with_a_version_we_do_not_have_is_refused() -> None:
    from spinecare.instruments.errors import AnswerError

    qr = questionnaire_response("odi", {"walking": 2})
    qr["questionnaire"] = qr["questionnaire"].replace("|2.1a", "|2.0")
    with pytest.raises(AnswerError, match=r"version '2\.0'"):
        read_response(qr)
