"""Scoring invariants on generated answers, for every registered instrument.

- Range: every score lies within its scale, or is null with a reason.
- Monotonicity: moving one answer one step in the "worse" direction never gives a better score
  (for the diagnostic rules: one more positive item never weakens the result).
- Answers by linkId and the same answers in a case score the same.

The checks dispatch on the scoring kind; a kind with no check fails the suite.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.case import Instruments
from spinecare.instruments.registry import Instrument
from spinecare.instruments.scoring import score_answers, score_instruments, shape
from tests.instruments.conftest import INSTRUMENT_IDS, REGISTRY, instrument_answers

RESULT_RANK = {"rule_out": 0, "neither": 1, "incomplete": 1, "rule_in": 2,
               "negative": 0, "undetermined": 1, "positive": 2}
KINDS_CHECKED = {"percent_of_answered", "sum_of_domains", "subscale_means", "ratings",
                 "count_positive", "count_criteria"}


def test_every_scoring_kind_in_the_registry_has_its_invariants_checked() -> None:
    assert {i.scoring.kind for i in REGISTRY.values()} <= KINDS_CHECKED


def assert_in_range(inst: Instrument, score: dict[str, Any]) -> None:
    s = inst.scoring
    if s.kind == "percent_of_answered":
        assert (score["value"] is None) == ("reason" in score)
        if score["value"] is not None:
            assert 0 <= score["value"] <= 100 and score["band"] is not None
    elif s.kind == "sum_of_domains":
        if score["value"] is not None:
            assert 0 <= score["value"] <= sum((s.domains or {}).values())
            assert score["band"] is not None
        else:
            assert score["reason"]
    elif s.kind == "subscale_means":
        for name, sub in (s.subscales or {}).items():
            if score.get(name) is not None:
                assert sub.item_min <= score[name] <= sub.item_max
            elif name in score:
                assert name in score["reason"]
    elif s.kind == "ratings":
        for rating in score.values():
            assert 0 <= rating["value"] <= 10 and rating["band"] is not None
    else:
        assert score["result"] in RESULT_RANK
        if score["value"] is not None:
            assert 0 <= score["value"] <= len(inst.item)


def severity(inst: Instrument, score: dict[str, Any]) -> list[float | None]:
    """Comparable numbers where larger is worse (or more positive), one per measure."""
    s = inst.scoring
    if s.kind == "percent_of_answered":
        return [score["value"]]
    if s.kind == "sum_of_domains":
        return [None if score["value"] is None else -score["value"]]
    if s.kind == "subscale_means":
        return [score.get(name) for name in s.subscales or {}]
    if s.kind == "ratings":
        return [score[r]["value"] if r in score else None for r in s.ratings or []]
    return [RESULT_RANK[score["result"]]]


def one_step_worse(inst: Instrument, answers: dict[str, Any], link: str) -> dict[str, Any] | None:
    """``answers`` with ``link`` moved one step towards worse (or yes), if it can move."""
    item = next(i for i in inst.item if i.link_id == link)
    values = inst.scale_of(item).values()
    current = answers.get(link)
    if current is None:
        return None
    if inst.scale_of(item).type == "boolean":
        return {**answers, link: True} if current is False else None
    higher_is_worse = inst.change.higher_is_worse is not False
    ordered = values if higher_is_worse else list(reversed(values))
    position = ordered.index(current)
    if position + 1 >= len(ordered):
        return None
    return {**answers, link: ordered[position + 1]}


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_scores_stay_in_range_and_a_worse_answer_never_scores_better(inst_id: str,
                                                                    data: st.DataObject) -> None:
    inst = REGISTRY[inst_id]
    answers = data.draw(instrument_answers(inst))
    score = score_answers(inst, answers)
    assert_in_range(inst, score)
    answered = [i.link_id for i in inst.item if i.link_id in answers]
    if not answered:
        return
    link = data.draw(st.sampled_from(answered))
    worse_answers = one_step_worse(inst, answers, link)
    if worse_answers is None:
        return
    worse = score_answers(inst, worse_answers)
    assert_in_range(inst, worse)
    for before, after in zip(severity(inst, score), severity(inst, worse), strict=True):
        if before is not None and after is not None:
            assert after >= before, (answers, link)
        if inst.scoring.kind in ("count_positive", "count_criteria"):
            # a result once reached by known positives is never lost by another positive
            assert not (score["result"] in ("rule_in", "positive")
                        and worse["result"] != score["result"])


@pytest.mark.parametrize("inst_id", [i for i in INSTRUMENT_IDS
                                     if i in Instruments.model_fields])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_answers_by_link_id_score_as_the_same_answers_in_a_case(inst_id: str,
                                                                data: st.DataObject) -> None:
    inst = REGISTRY[inst_id]
    answers = data.draw(instrument_answers(inst))
    shaped = shape(inst, answers)
    if isinstance(shaped, dict):
        model = Instruments.model_fields[inst_id]
        fields = set(getattr(model.annotation, "__args__", (None,))[0].model_fields)
        section = {k: v for k, v in shaped.items() if k in fields and v is not None}
        if inst.scoring.kind == "sum_of_domains" and len(section) < len(fields):
            return  # a case records the mJOA only with all domains
        expected = score_answers(inst, {k: v for k, v in answers.items()
                                        if not _outside_case(inst, k, fields)})
    else:
        section, expected = shaped, score_answers(inst, answers)
    from_case = score_instruments(Instruments.model_validate({inst_id: section}))
    assert from_case.get(inst_id, {}) == ({} if expected == {} else expected)


def _outside_case(inst: Instrument, link: str, fields: set[str]) -> bool:
    item = next((i for i in inst.item if i.link_id == link), None)
    return item is None or (item.group is not None and item.group not in fields)
