"""Reading answers: clear errors, each naming the JSON path and the questionnaire linkId."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spinecare.errors import Problem
from spinecare.instruments.answers import read_response, read_responses
from spinecare.instruments.cases import case_from_responses
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.fhir import questionnaire_response
from spinecare.instruments.scoring import score_answers


def problems(doc: Any) -> list[Problem]:
    with pytest.raises(AnswerError) as caught:
        read_responses(doc)
    return caught.value.problems


def test_plain_answers_may_be_a_list_in_item_order() -> None:
    r = read_response({"questionnaire": "odi", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 1, None]})
    assert score_answers("odi", r.answers)["value"] == 33.3  # 15/45


def test_an_out_of_range_answer_names_its_path_linkid_and_the_allowed_values() -> None:
    (p,) = problems({"questionnaire": "odi", "answers": {"walking": 6}})
    assert p.path == "answers.walking"
    assert p.message == "walking: must be one of 0, 1, 2, 3, 4, 5 (got 6)"


def test_a_zcq_balance_answer_outside_1_3_5_is_refused() -> None:
    (p,) = problems({"questionnaire": "zcq", "answers": {"balance": 2}})
    assert "must be one of 1, 3, 5 (got 2)" in p.message


def test_a_boolean_is_not_accepted_as_a_score() -> None:
    (p,) = problems({"questionnaire": "odi", "answers": {"walking": True}})
    assert "got True" in p.message


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = problems({"questionnaire": "odi", "answers": {"walking": 9, "sitting": -1,
                                                          "lifing": 1}, "extra": 1})
    assert [p.path for p in found] == ["(document)", "answers.walking", "answers.sitting",
                                       "answers.lifing"]
    assert "did you mean lifting?" in found[-1].message


def test_a_list_of_the_wrong_length_is_refused_naming_the_item_order() -> None:
    (p,) = problems({"questionnaire": "odi", "answers": [1, 2, 3]})
    assert p.path == "answers" and "pain_intensity" in p.message


def test_an_unknown_questionnaire_suggests_the_nearest() -> None:
    (p,) = problems({"questionnaire": "odl", "answers": {}})
    assert p.path == "questionnaire" and "did you mean odi?" in p.message


def test_a_wrong_version_is_refused() -> None:
    (p,) = problems({"questionnaire": "odi", "version": "2.0", "answers": {}})
    assert p.path == "version" and "2.1a" in p.message


def test_errors_in_an_array_of_responses_are_prefixed_with_their_index() -> None:
    found = problems([{"questionnaire": "odi", "answers": {}},
                      {"questionnaire": "ndi", "answers": {"driving": 7}}])
    assert [p.path for p in found] == ["[1].answers.driving"]


def _qr(answers: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(questionnaire_response("odi", answers))


def test_a_fhir_answer_code_that_is_not_an_option_is_refused_at_its_path() -> None:
    qr = _qr({"walking": 3})
    qr["item"][0]["answer"][0]["valueCoding"]["code"] = "7"
    (p,) = problems(qr)
    assert p.path == "item[0].answer[0].valueCoding.code"
    assert p.message.startswith("walking: code '7' is not an answer option")


def test_a_fhir_answer_of_the_wrong_type_says_which_type_the_question_takes() -> None:
    qr = _qr({"walking": 3})
    qr["item"][0]["answer"][0] = {"valueInteger": 3}
    (p,) = problems(qr)
    assert p.path == "item[0].answer[0].valueInteger"
    assert "answered with valueCoding" in p.message


def test_a_fhir_coding_from_another_code_system_is_refused() -> None:
    qr = _qr({"walking": 3})
    qr["item"][0]["answer"][0]["valueCoding"]["system"] = "http://loinc.org"
    (p,) = problems(qr)
    assert p.path.endswith("valueCoding.system")


def test_unknown_duplicate_and_multiple_answers_are_each_reported() -> None:
    qr = _qr({"walking": 3, "sitting": 2})
    qr["item"].append({"linkId": "walkin", "answer": [{"valueBoolean": True}]})
    qr["item"].append(copy.deepcopy(qr["item"][0]))
    qr["item"][1]["answer"].append(copy.deepcopy(qr["item"][1]["answer"][0]))
    found = problems(qr)
    messages = " | ".join(f"{p.path}: {p.message}" for p in found)
    assert "item[1].answer: sitting: only one answer is allowed" in messages
    assert "item[2].linkId: walkin: is not an item of odi (did you mean walking?)" in messages
    assert "item[3].linkId: walking: appears twice" in messages


def test_a_structurally_invalid_response_reports_the_fhir_model_errors_with_paths() -> None:
    qr = _qr({"walking": 3})
    qr["item"][0]["answer"][0]["valueCoding"] = "3"
    found = problems(qr)
    assert found and found[0].path.startswith("item[0].answer[0]")


def test_a_response_to_someone_else_s_questionnaire_is_refused() -> None:
    qr = _qr({"walking": 3})
    qr["questionnaire"] = "http://example.org/Questionnaire/odi"
    (p,) = problems(qr)
    assert p.path == "questionnaire" and "not a spinecare questionnaire" in p.message


def test_a_response_entered_in_error_is_refused() -> None:
    qr = _qr({"walking": 3})
    qr["status"] = "entered-in-error"
    (p,) = problems(qr)
    assert p.path == "status"


def test_other_resources_are_refused() -> None:
    (p,) = problems({"resourceType": "Questionnaire"})
    assert p.path == "resourceType"


def test_satisfaction_answers_imply_treatment_but_a_no_contradicts_them() -> None:
    r = read_response({"questionnaire": "zcq", "answers": {"overall_result": 1}})
    assert r.answers["after_treatment"] is True
    (p,) = problems({"questionnaire": "zcq", "answers": {"after_treatment": False,
                                                           "overall_result": 1}})
    assert p.path == "answers.overall_result"
    assert "only asked when after_treatment is true" in p.message


def test_a_case_needs_all_four_mjoa_domains_and_says_which_are_missing() -> None:
    r = read_response({"questionnaire": "mjoa", "answers": {"upper_extremity_motor": 4}})
    with pytest.raises(AnswerError) as caught:
        case_from_responses([r], case_id="x")
    (p,) = caught.value.problems
    assert p.path == "mjoa"
    assert "lower_extremity_motor, upper_extremity_sensation, micturition" in p.message


def test_two_responses_for_one_instrument_cannot_make_one_case() -> None:
    r = read_response({"questionnaire": "odi", "answers": {"walking": 1}})
    with pytest.raises(AnswerError, match="two responses"):
        case_from_responses([r, r], case_id="x")


def test_what_the_case_has_no_place_for_is_noted_not_dropped_silently() -> None:
    rs = [read_response({"questionnaire": "konno_sshq", "answers": {"q1_thigh_to_calf": True}}),
          read_response({"questionnaire": "zcq", "answers": {"overall_result": 2}})]
    case, notes = case_from_responses(rs, case_id="x")
    assert case.instruments.zcq is None
    assert any("konno_sshq" in n for n in notes) and any("satisfaction" in n for n in notes)


def test_score_answers_refuses_unknown_link_ids_and_out_of_range_values() -> None:
    with pytest.raises(AnswerError) as caught:
        score_answers("mjoa", {"upper_extremity_motor": 6, "micturation": 3})
    assert [p.path for p in caught.value.problems] == ["upper_extremity_motor", "micturation"]
