"""The red-flag criteria table: every guideline criterion reaches its level through the rule that
implements it, and only because of the criterion (one test per row, generated from the table)."""

from __future__ import annotations

import pytest

from spinecare.reasoning.coverage import Criterion, check_row, default_coverage, load_coverage
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import EXPERT, default_knowledge
from tests.conftest import broken_copy

ROWS = default_coverage().criterion


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_each_criterion_reaches_its_level_and_only_because_of_it(row: Criterion) -> None:
    result = check_row(default_engine(), row)
    assert result.missing_rules == [], f"{row.id}: rules that did not hold"
    assert result.reaches, f"{row.id}: gave {result.level_with}, the guideline says {row.level}"
    assert result.specific, (f"{row.id}: still {result.level_without} without the criterion; "
                             "the row does not show what the rule adds")


def test_every_emergency_and_urgent_rule_implements_a_guideline_criterion() -> None:
    k = default_knowledge()
    serious = {r.id for r in k.red_flag_rules}
    serious |= {t.id for t in k.triage_rules if t.level in ("emergency", "urgent")}
    covered = {rule for row in ROWS for rule in row.rules}
    assert sorted(serious - covered) == []
    assert sorted(covered - serious) == []


def test_every_row_cites_known_sources_and_has_a_unique_id() -> None:
    citations = default_knowledge().citations
    for row in ROWS:
        assert [c for c in row.citations if c != EXPERT and c not in citations] == [], row.id
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))


def test_a_row_whose_rule_cannot_reach_its_level_fails(tmp_path: object) -> None:
    # The harness must be able to fail: the saddle row made to claim a rule that does not fire.
    folder = broken_copy(
        default_knowledge_folder(), tmp_path / "k",  # type: ignore[operator]
        "red_flag_criteria.toml", 'rules = ["rf.ces.saddle_anaesthesia"]',
        'rules = ["rf.ces.saddle_anaesthesia", "rf.fracture.major_trauma"]')
    row = next(r for r in load_coverage(folder).criterion if r.id == "ces.saddle_reported")
    result = check_row(default_engine(), row)
    assert result.missing_rules == ["rf.fracture.major_trauma"]
    assert not result.reaches


def test_a_row_that_would_reach_its_level_anyway_is_not_specific() -> None:
    row = next(r for r in ROWS if r.id == "ces.saddle_reported")
    # "without" that leaves the saddle numbness in place shows nothing about the rule
    lax = row.model_copy(update={"without": {"symptoms.low_back_pain": False}})
    assert not check_row(default_engine(), lax).specific


def default_knowledge_folder():  # type: ignore[no-untyped-def]
    from importlib.resources import as_file, files

    with as_file(files("spinecare.knowledge")) as path:
        return path
