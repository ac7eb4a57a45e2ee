"""The red-flag criteria table (``knowledge/red_flag_criteria.toml``) checked against the engine.

Each row is one emergency or urgent criterion of a guideline, with the rule that implements it and
a minimal case. :func:`check_row` runs the engine on the minimal case and on the same case with the
criterion taken away: the first must reach the row's level with its rules holding, the second must
not reach it. The tests run every row; ``spinecare knowledge coverage`` prints the table.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from spinecare.case import CASE_SCHEMA_ID, Case, parse_case
from spinecare.errors import CaseError, KnowledgeError
from spinecare.kb import Problems, knowledge_dir, read_toml
from spinecare.reasoning.engine import Engine
from spinecare.reasoning.knowledge import LEVEL_RANK, Level

FILE = "red_flag_criteria.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    id: str
    reference: str
    criterion: str
    level: Level
    citations: Annotated[list[str], Field(min_length=1)]
    rules: Annotated[list[str], Field(min_length=1)]
    case: dict[str, Any]
    without: Annotated[dict[str, Any], Field(min_length=1)]


class Gap(_Strict):
    reference: str
    criterion: str
    level: Level
    missing: str


class Coverage(_Strict):
    criterion: list[Criterion]
    gap: list[Gap] = []


def load_coverage(folder: Traversable | None = None) -> Coverage:
    """The criteria table of the knowledge in ``folder`` (the packaged knowledge by default)."""
    source = (folder or knowledge_dir()).joinpath(FILE)
    problems = Problems()
    coverage = problems.validate(Coverage, read_toml(source, FILE), FILE)
    problems.raise_if_any()
    assert coverage is not None
    return coverage


def _with(document: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    for path, value in values.items():
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def minimal_cases(row: Criterion) -> tuple[Case, Case]:
    """The row's minimal case, and the same case with the criterion taken away."""
    base = _with({"schema": CASE_SCHEMA_ID, "id": row.id, "patient": {"age": 50}}, row.case)
    try:
        return parse_case(base), parse_case(_with(base, row.without))
    except CaseError as exc:
        raise KnowledgeError(f"{FILE}: {row.id}: the minimal case is not valid: {exc}") from None


@dataclass(frozen=True, slots=True)
class RowCheck:
    """What the engine made of one row: the level and rules with the criterion, the level
    without it, and whether that is what the row says."""

    row: Criterion
    level_with: str
    fired_with: frozenset[str]
    level_without: str

    @property
    def missing_rules(self) -> list[str]:
        return [r for r in self.row.rules if r not in self.fired_with]

    @property
    def reaches(self) -> bool:
        return LEVEL_RANK[self.level_with] >= LEVEL_RANK[self.row.level] \
            and not self.missing_rules

    @property
    def specific(self) -> bool:
        return LEVEL_RANK[self.level_without] < LEVEL_RANK[self.row.level]


def _fired(assessment: dict[str, Any]) -> frozenset[str]:
    rules = set(assessment["triage"]["rules"])
    for flag in assessment["red_flags"]:
        rules.update(flag["rules"])
    return frozenset(rules)


def check_row(engine: Engine, row: Criterion) -> RowCheck:
    with_it, without_it = minimal_cases(row)
    a, b = engine.assess(with_it), engine.assess(without_it)
    return RowCheck(row, a["triage"]["level"], _fired(a), b["triage"]["level"])


@lru_cache(maxsize=1)
def default_coverage() -> Coverage:
    return load_coverage()
