"""Worked examples from each instrument's published source, as data, named after the source.

Every example gives answers by questionnaire linkId and the expected score fields; the same
checker runs them all, and a deliberately wrong example must make it fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from spinecare.instruments.scoring import score_answers
from tests.instruments.conftest import REGISTRY

ODI = [i.link_id for i in REGISTRY["odi"].item]
NDI = [i.link_id for i in REGISTRY["ndi"].item]
ZCQ_SS = [i.link_id for i in REGISTRY["zcq"].items_in("symptom_severity")]
ZCQ_PF = [i.link_id for i in REGISTRY["zcq"].items_in("physical_function")]
ZCQ_SAT = [i.link_id for i in REGISTRY["zcq"].items_in("satisfaction")]
COOK_LSS = [i.link_id for i in REGISTRY["cook_lss_cpr"].item]
COOK_DCM = [i.link_id for i in REGISTRY["cook_myelopathy_cpr"].item]
KONNO = [i.link_id for i in REGISTRY["konno_sshq"].item]


def by_order(links: list[str], values: list[Any]) -> dict[str, Any]:
    return {k: v for k, v in zip(links, values, strict=True) if v is not None}


def mjoa(ue: int, le: int, s: int, m: int) -> dict[str, Any]:
    return {"upper_extremity_motor": ue, "lower_extremity_motor": le,
            "upper_extremity_sensation": s, "micturition": m}


def yes(links: list[str], which: list[int]) -> dict[str, Any]:
    """Yes to the items numbered in ``which`` (1-based), no to the rest."""
    return {k: n in which for n, k in enumerate(links, 1)}


EXAMPLES: list[dict[str, Any]] = [
    # Fairbank & Pynsent 2000: 16 of 50 is 32%; with a section skipped 16 of 45 is 35.6%.
    {"name": "fairbank2000_16_of_50", "instrument": "odi",
     "answers": by_order(ODI, [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]),
     "expect": {"value": 32.0, "band": "moderate", "missing": 0}},
    {"name": "fairbank2000_16_of_45_one_skipped", "instrument": "odi",
     "answers": by_order(ODI, [2, 2, 2, 2, 2, 2, 2, 1, 1, None]),
     "expect": {"value": 35.6, "band": "moderate", "missing": 1}},
    {"name": "fairbank2000_band_edge_20_is_minimal", "instrument": "odi",
     "answers": by_order(ODI, [1] * 10), "expect": {"value": 20.0, "band": "minimal"}},
    {"name": "fairbank2000_band_edge_22_is_moderate", "instrument": "odi",
     "answers": by_order(ODI, [1] * 9 + [2]), "expect": {"value": 22.0, "band": "moderate"}},
    {"name": "design_choice_three_odi_sections_missing_is_not_scored", "instrument": "odi",
     "answers": by_order(ODI, [1] * 7 + [None] * 3), "expect": {"value": None, "band": None}},
    # Vernon & Mior 1991 / Vernon 2008: raw x 2; a missing item takes the answered items' mean;
    # bands on the raw total (15-24 moderate).
    {"name": "vernon2008_raw_20_is_40_percent_moderate", "instrument": "ndi",
     "answers": by_order(NDI, [2] * 10), "expect": {"value": 40.0, "band": "moderate"}},
    {"name": "vernon2008_missing_item_prorated", "instrument": "ndi",
     "answers": by_order(NDI, [2, 2, 2, 2, 2, 2, 2, 1, 1, None]),
     "expect": {"value": 35.6, "band": "moderate", "missing": 1}},
    {"name": "vernon1991_raw_4_is_no_disability", "instrument": "ndi",
     "answers": by_order(NDI, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]),
     "expect": {"value": 8.0, "band": "none"}},
    {"name": "vernon1991_raw_5_is_mild", "instrument": "ndi",
     "answers": by_order(NDI, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
     "expect": {"value": 10.0, "band": "mild"}},
    # Tetreault 2017 severity: 18 normal, 15-17 mild, 12-14 moderate, 0-11 severe.
    {"name": "tetreault2017_13_is_moderate", "instrument": "mjoa",
     "answers": mjoa(3, 5, 2, 3), "expect": {"value": 13, "band": "moderate"}},
    {"name": "tetreault2017_18_is_normal", "instrument": "mjoa",
     "answers": mjoa(5, 7, 3, 3), "expect": {"value": 18, "band": "normal"}},
    {"name": "tetreault2017_15_is_mild", "instrument": "mjoa",
     "answers": mjoa(4, 6, 2, 3), "expect": {"value": 15, "band": "mild"}},
    {"name": "tetreault2017_11_is_severe", "instrument": "mjoa",
     "answers": mjoa(3, 4, 2, 2), "expect": {"value": 11, "band": "severe"}},
    {"name": "benzel1991_a_missing_domain_is_not_scored", "instrument": "mjoa",
     "answers": {"upper_extremity_motor": 3}, "expect": {"value": None, "band": None}},
    # Stucki 1996: subscale = mean of the answered items; balance answered 1, 3 or 5
    # (blauth2012_zcq); satisfaction <= 2.5 is "at least somewhat satisfied" (Minetama 2024).
    {"name": "stucki1996_subscale_means", "instrument": "zcq",
     "answers": {**by_order(ZCQ_SS, [2, 3, 2, 3, 2, 2, 3]),
                 **by_order(ZCQ_PF, [2, 2, 2, 1, 1])},
     "expect": {"symptom_severity": 2.43, "physical_function": 1.6}},
    {"name": "blauth2012_balance_often_scores_5", "instrument": "zcq",
     "answers": by_order(ZCQ_SS, [1, 1, 1, 1, 1, 1, 5]),
     "expect": {"symptom_severity": 1.57}},
    {"name": "minetama2024_satisfied_at_or_below_2_5", "instrument": "zcq",
     "answers": by_order(ZCQ_SAT, [2, 3, 3, 2, 2, 3]),
     "expect": {"satisfaction": 2.5, "satisfaction_band": "satisfied"}},
    {"name": "minetama2024_not_satisfied_above_2_5", "instrument": "zcq",
     "answers": by_order(ZCQ_SAT, [3, 3, 3, 2, 3, 3]),
     "expect": {"satisfaction": 2.83, "satisfaction_band": "not_satisfied"}},
    # Cook 2011 LSS cluster: 0 of 5 rules out, 4 or more rules in.
    {"name": "cook2011_four_of_five_rules_in", "instrument": "cook_lss_cpr",
     "answers": yes(COOK_LSS, [1, 2, 3, 4]), "expect": {"value": 4, "result": "rule_in"}},
    {"name": "cook2011_none_of_five_rules_out", "instrument": "cook_lss_cpr",
     "answers": yes(COOK_LSS, []), "expect": {"value": 0, "result": "rule_out"}},
    {"name": "cook2011_one_of_five_neither", "instrument": "cook_lss_cpr",
     "answers": yes(COOK_LSS, [5]), "expect": {"value": 1, "result": "neither"}},
    {"name": "cook2011_three_of_five_neither", "instrument": "cook_lss_cpr",
     "answers": yes(COOK_LSS, [1, 3, 5]), "expect": {"value": 3, "result": "neither"}},
    # Cook 2010 myelopathy cluster: 1 or fewer rules out, 3 or more rules in.
    {"name": "cook2010_three_of_five_rules_in", "instrument": "cook_myelopathy_cpr",
     "answers": yes(COOK_DCM, [1, 2, 5]), "expect": {"value": 3, "result": "rule_in"}},
    {"name": "cook2010_one_of_five_rules_out", "instrument": "cook_myelopathy_cpr",
     "answers": yes(COOK_DCM, [5]), "expect": {"value": 1, "result": "rule_out"}},
    {"name": "cook2010_two_of_five_neither", "instrument": "cook_myelopathy_cpr",
     "answers": yes(COOK_DCM, [2, 5]), "expect": {"value": 2, "result": "neither"}},
    {"name": "cook2010_two_known_positive_with_two_unknown_is_incomplete",
     "instrument": "cook_myelopathy_cpr",
     "answers": {"gait_deviation": True, "hoffmann": True, "age_over_45": False},
     "expect": {"value": None, "result": "incomplete"}},
    # Miyakoshi 2011, Table 1 (Konno SSHQ): all of Q1-Q4, or more than 1 of Q1-Q4 and more
    # than 2 of Q5-Q10 (read as >= 2 and >= 3; unverified).
    {"name": "miyakoshi2011_all_four_core_questions_is_positive", "instrument": "konno_sshq",
     "answers": yes(KONNO, [1, 2, 3, 4]), "expect": {"value": 4, "result": "positive"}},
    {"name": "miyakoshi2011_two_core_and_three_cauda_is_positive", "instrument": "konno_sshq",
     "answers": yes(KONNO, [1, 2, 5, 6, 7]), "expect": {"value": 5, "result": "positive"}},
    {"name": "miyakoshi2011_three_core_and_two_cauda_is_negative", "instrument": "konno_sshq",
     "answers": yes(KONNO, [1, 2, 3, 5, 6]), "expect": {"value": 5, "result": "negative"}},
    {"name": "miyakoshi2011_one_core_and_all_cauda_is_negative", "instrument": "konno_sshq",
     "answers": yes(KONNO, [1, 5, 6, 7, 8, 9, 10]), "expect": {"result": "negative"}},
    {"name": "konno_unanswered_questions_that_could_decide_it_leave_it_undetermined",
     "instrument": "konno_sshq", "answers": {"q1_thigh_to_calf": True, "q2_walking": True},
     "expect": {"value": None, "result": "undetermined"}},
]


def check(example: dict[str, Any]) -> None:
    score = score_answers(example["instrument"], example["answers"])
    for key, expected in example["expect"].items():
        assert score.get(key) == expected, (example["name"], key, score.get(key), expected)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["name"])
def test_published_worked_example(example: dict[str, Any]) -> None:
    check(example)


def test_a_deliberately_wrong_example_fails_the_checker() -> None:
    wrong = {**EXAMPLES[0], "expect": {"value": 35.5}}  # the usual truncation, not the index
    with pytest.raises(AssertionError):
        check(wrong)


def test_every_instrument_has_a_worked_example() -> None:
    assert {e["instrument"] for e in EXAMPLES} >= set(REGISTRY) - {"pain_nrs"}


def test_pain_ratings_band_edges_follow_serlin() -> None:
    # Serlin 1995 (tagged unverified): 1-4 mild, 5-6 moderate, 7-10 severe.
    bands = {n: score_answers("pain_nrs", {"leg": n})["leg"]["band"] for n in range(11)}
    assert bands == {0: "none", 1: "mild", 2: "mild", 3: "mild", 4: "mild", 5: "moderate",
                     6: "moderate", 7: "severe", 8: "severe", 9: "severe", 10: "severe"}
