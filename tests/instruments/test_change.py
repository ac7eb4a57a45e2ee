"""Change over time against each instrument's MCID, at and around its published thresholds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spinecare.instruments.change import change_over_time, measures
from spinecare.instruments.errors import AnswerError
from tests.instruments.conftest import REGISTRY


def odi(value: float) -> dict[str, Any]:
    return {"odi": {"value": value, "version": "2.1a"}}


def status(before: dict[str, Any], after: dict[str, Any], key: str) -> Any:
    return change_over_time([before, after])[key]["changes"][0]


@pytest.mark.parametrize(("baseline", "follow_up", "expected"), [
    (40.0, 28.0, "improved"),   # ostelo2008: exactly 30% (and 12 points)
    (40.0, 29.0, "unchanged"),  # 27.5%: the 30% rule decides though 11 points pass
    (20.0, 14.0, "improved"),   # 30% at a low baseline, only 6 points
    (40.0, 50.0, "worse"),      # 10 points worse: the absolute MCID
    (40.0, 49.9, "unchanged"),
    (0.0, 10.0, "worse"),       # a zero baseline: no relative change, absolute rule
    (0.0, 0.0, "unchanged"),
])
def test_odi_change_follows_ostelo_2008_with_the_30_percent_rule_deciding_improvement(
        baseline: float, follow_up: float, expected: str) -> None:
    c = status(odi(baseline), odi(follow_up), "odi")
    assert c["status"] == expected


def test_odi_change_reports_both_thresholds_and_which_decided() -> None:
    c = status(odi(40.0), odi(29.0), "odi")
    assert c["change"] == -11.0 and c["percent_change"] == -27.5
    assert c["passes_mcid_absolute"] is True and c["passes_mcid_percent"] is False
    assert c["decided_by"] == "percent"


@pytest.mark.parametrize(("baseline", "follow_up", "expected"), [
    (7, 5, "unchanged"),  # farrar2001: 2 points but 28.6%
    (7, 4, "improved"),   # 42.9%
    (3, 5, "worse"),      # 2 points worse
    (3, 4, "unchanged"),
])
def test_pain_rating_change_follows_farrar_2001(baseline: int, follow_up: int,
                                                 expected: str) -> None:
    before = {"pain_nrs": {"leg": {"value": baseline}}}
    after = {"pain_nrs": {"leg": {"value": follow_up}}}
    assert status(before, after, "pain_nrs.leg")["status"] == expected


@pytest.mark.parametrize(("baseline", "follow_up", "expected"), [
    (12, 14, "improved"), (12, 13, "unchanged"), (14, 12, "worse"), (14, 13, "unchanged"),
])
def test_mjoa_change_follows_tetreault_2015_and_higher_is_better(
        baseline: int, follow_up: int, expected: str) -> None:
    before = {"mjoa": {"value": baseline, "version": "benzel-18"}}
    after = {"mjoa": {"value": follow_up, "version": "benzel-18"}}
    assert status(before, after, "mjoa")["status"] == expected


def test_ndi_change_uses_its_absolute_mcid_and_says_it_is_unverified() -> None:
    result = change_over_time([{"ndi": {"value": 40.0, "version": "1991"}},
                               {"ndi": {"value": 30.0, "version": "1991"}}])["ndi"]
    assert result["changes"][0]["status"] == "improved"
    assert result["mcid"]["basis"] == "unverified"


def test_zcq_subscales_change_separately_and_satisfaction_is_not_tracked() -> None:
    before = {"zcq": {"version": "1996", "symptom_severity": 3.0, "physical_function": 2.5}}
    after = {"zcq": {"version": "1996", "symptom_severity": 2.79, "physical_function": 2.4,
                     "satisfaction": 1.5}}
    result = change_over_time([before, after])
    assert result["zcq.symptom_severity"]["changes"][0]["status"] == "improved"  # 0.21
    assert result["zcq.physical_function"]["changes"][0]["status"] == "unchanged"  # 0.10
    assert "zcq.satisfaction" not in result


def test_the_baseline_is_the_first_administration_with_a_value_and_gaps_are_skipped() -> None:
    result = change_over_time([{}, odi(50.0), {}, odi(30.0)],
                              ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"])["odi"]
    assert result["baseline"] == {"index": 1, "date": "2026-02-01", "value": 50.0}
    assert [c["index"] for c in result["changes"]] == [3]
    assert result["status"] == "improved"


def test_a_score_that_could_not_be_computed_is_left_out_of_the_series() -> None:
    result = change_over_time([odi(40.0), {"odi": {"value": None, "version": "2.1a"}},
                               odi(20.0)])["odi"]
    assert [p["index"] for p in result["series"]] == [0, 2]


def test_scores_from_different_instrument_versions_are_not_compared() -> None:
    result = change_over_time([odi(40.0), {"odi": {"value": 20.0, "version": "2.0"}}])["odi"]
    assert result["changes"][0]["status"] is None
    assert "differs" in result["changes"][0]["reason"]


def test_administrations_out_of_time_order_are_refused() -> None:
    with pytest.raises(AnswerError) as caught:
        change_over_time([odi(40.0), odi(30.0)], ["2026-03-01", "2026-01-01"])
    assert caught.value.problems[0].path == "dates[1]"


def test_a_single_administration_has_a_baseline_and_no_status() -> None:
    result = change_over_time([odi(40.0)])["odi"]
    assert result["changes"] == [] and result["status"] is None


def test_every_tracked_instrument_has_a_measure_and_diagnostic_rules_have_none() -> None:
    instruments_with_measures = {m.instrument for m in measures()}
    assert instruments_with_measures == {i for i, inst in REGISTRY.items()
                                         if inst.change.tracked}
    assert "cook_lss_cpr" not in instruments_with_measures


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1000).map(lambda n: n / 10), st.integers(0, 1000).map(lambda n: n / 10))
@example(0.1, 10.1)
def test_the_status_agrees_with_the_direction_of_change(a: float, b: float) -> None:
    c = status(odi(a), odi(b), "odi")
    if c["status"] == "improved":
        assert b < a
    if c["status"] == "worse":
        assert b > a
    # the scores are to one decimal: 10.1 - 0.1 is 9.999999999999998 in floating point, and a
    # change of exactly 10 points is the MCID
    if round(abs(b - a), 6) < 10 and c["status"] == "worse":
        raise AssertionError("worsening below the absolute MCID")
