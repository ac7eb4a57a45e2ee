"""Applying plan rules to one assessed case, in three-valued logic.

A rule's ``when`` is a criterion of the criteria language (parsed at load by
:func:`spinecare.plan.rules.parse_when`), evaluated by its reference interpreter.
:class:`Situation` is everything a criterion may read, taken once from the case and its
assessment: case facts, and references to the assessment's conclusions (``flag.*``,
``likely.*``, ``situation.triage``...). :func:`holds` gives ``True``, ``False`` or ``None``
(unknown) and, when unknown, what is missing ("mJOA score", "history.duration_weeks"), from the
unknown facts and references the criteria language finds, so the plan can say which answer would
settle a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from spinecare import criteria
from spinecare.case import Case
from spinecare.criteria.logic import Tri

__all__ = ["MISSING_DURATION", "MISSING_MJOA", "Situation", "holds", "missing"]

MISSING_MJOA = "mJOA score (instruments.mjoa)"
MISSING_DURATION = "how long the symptoms have lasted (history.duration_weeks)"
_LIKELY = frozenset({"moderate", "high"})


@dataclass(frozen=True, slots=True)
class Situation:
    """What plan rules select on: the assessment's conclusions and a few structured case facts."""

    case: Case
    triage: str
    flags: Mapping[str, str | None]
    likelihood: Mapping[str, str]
    #: Condition codes most likely first, as the assessment lists them.
    order: tuple[str, ...]
    mjoa_band: str | None
    duration_weeks: float | None
    triage_rules: frozenset[str]
    lbp_source: str | None
    contraindications: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, case: Case, assessment: Mapping[str, Any]) -> Situation:
        flags: dict[str, str | None] = {}
        fired: set[str] = set(assessment.get("triage", {}).get("rules", ()))
        for flag in assessment.get("red_flags", ()):
            flags[flag["code"]] = flag.get("triage")
            fired.update(flag.get("rules", ()))
        conditions = list(assessment.get("conditions", ()))
        mjoa = assessment.get("scores", {}).get("mjoa")
        band = mjoa.get("band") if isinstance(mjoa, Mapping) and mjoa.get("value") is not None \
            else None
        return cls(
            case=case,
            triage=assessment["triage"]["level"],
            flags=flags,
            likelihood={c["code"]: c["likelihood"] for c in conditions},
            order=tuple(c["code"] for c in conditions),
            mjoa_band=band,
            duration_weeks=case.history.duration_weeks,
            triage_rules=frozenset(fired),
            lbp_source=assessment.get("low_back_pain_source"),
        )

    def with_contraindications(self, ids: Iterable[str]) -> Situation:
        return replace(self, contraindications=frozenset(ids))

    def likely(self) -> tuple[str, ...]:
        """Conditions of moderate or high likelihood, most likely first."""
        return tuple(c for c in self.order if self.likelihood.get(c) in _LIKELY)

    def values(self) -> criteria.Values:
        """The value of every reference a plan rule's criterion may read."""
        return _SituationValues(self)


class _SituationValues(Mapping[criteria.Ref, Any]):
    """References computed when read: a rule reads a handful of the many there are."""

    def __init__(self, s: Situation):
        self.s = s

    def __getitem__(self, ref: criteria.Ref) -> Any:
        s, name = self.s, ref.name
        match ref.kind:
            case "flag":
                return name in s.flags
            case "flag_level":
                return s.flags.get(name)
            case "likely":
                return s.likelihood.get(name) in _LIKELY
            case "high":
                return s.likelihood.get(name) == "high"
            case "unlikely":
                # a condition the assessment does not list was not found likely
                return s.likelihood.get(name, "low") == "low"
            case "triage_rule":
                return name in s.triage_rules
            case "lbp_source":
                return s.lbp_source == name
            case "contraindication":
                return name in s.contraindications
            case "situation" if name == "triage":
                return s.triage
            case "situation" if name == "mjoa_band":
                return s.mjoa_band
            case "situation" if name == "duration_weeks":
                return s.duration_weeks
        raise KeyError(ref)

    def __iter__(self) -> Iterator[criteria.Ref]:
        raise TypeError("the references of a situation are computed when read, not listed")

    def __len__(self) -> int:
        raise TypeError("the references of a situation are computed when read, not listed")


def missing(leaf: criteria.Fact | criteria.Ref) -> str:
    """What the plan asks for when ``leaf`` is unknown."""
    if isinstance(leaf, criteria.Fact):
        return f"{leaf.section}.{leaf.field}"
    if leaf == _DURATION:
        return MISSING_DURATION
    if leaf == _MJOA_BAND:
        return MISSING_MJOA
    if leaf.kind == "flag_level":
        return f"triage level of the {leaf.name} red flag"
    raise ValueError(f"{leaf} is never unknown in a situation")


_DURATION = criteria.Ref("situation", "duration_weeks")
_MJOA_BAND = criteria.Ref("situation", "mjoa_band")


def holds(node: criteria.Node, s: Situation) -> tuple[Tri, frozenset[str]]:
    """Whether the criterion ``node`` holds for ``s``, and what is missing when that is unknown."""
    values = s.values()
    result = criteria.evaluate(node, s.case, values)
    if result is not None:
        return result, frozenset()
    return None, frozenset(missing(leaf) for leaf in criteria.unknowns(node, s.case, values))
