"""Evaluating plan-rule selectors over one assessed case, in three-valued logic.

:class:`Situation` is everything a selector may read, taken once from the case and its
assessment. :func:`evaluate` gives ``True``, ``False`` or ``None`` (unknown) and, when unknown,
what is missing ("mJOA score", "history.duration_weeks"), so the plan can say which answer would
settle a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from spinecare.case import Case
from spinecare.criteria.logic import Tri, and_, or_
from spinecare.plan.rules import Selector

__all__ = ["MISSING_DURATION", "MISSING_MJOA", "Situation", "evaluate"]

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

    def fact(self, path: str) -> Any:
        value: Any = self.case
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value


def evaluate(
    selector: Selector, s: Situation, named: Mapping[str, Selector]
) -> tuple[Tri, frozenset[str]]:
    """Whether ``selector`` holds for ``s``, and what is missing when that is unknown."""
    parts: list[tuple[Tri, frozenset[str]]] = []

    def known(value: bool) -> None:
        parts.append((value, frozenset()))

    for name in selector.use or ():
        parts.append(evaluate(named[name], s, named))
    if selector.triage is not None:
        known(s.triage in selector.triage)
    if selector.red_flags_any is not None:
        known(any(f in s.flags for f in selector.red_flags_any))
    if selector.red_flags_none is not None:
        known(not any(f in s.flags for f in selector.red_flags_none))
    for flag, levels in (selector.flag_levels or {}).items():
        if flag not in s.flags:
            known(False)
        elif s.flags[flag] is None:
            parts.append((None, frozenset({f"triage level of the {flag} red flag"})))
        else:
            known(s.flags[flag] in levels)
    if selector.likely_any is not None:
        known(any(s.likelihood.get(c) in _LIKELY for c in selector.likely_any))
    if selector.high_any is not None:
        known(any(s.likelihood.get(c) == "high" for c in selector.high_any))
    if selector.unlikely_all is not None:
        known(all(s.likelihood.get(c, "low") == "low" for c in selector.unlikely_all))
    if selector.mjoa_band is not None:
        if s.mjoa_band is None:
            parts.append((None, frozenset({MISSING_MJOA})))
        else:
            known(s.mjoa_band in selector.mjoa_band)
    if selector.mjoa_scored is not None:
        known((s.mjoa_band is not None) == selector.mjoa_scored)
    for bound, below in ((selector.duration_weeks_under, True),
                         (selector.duration_weeks_at_least, False)):
        if bound is None:
            continue
        if s.duration_weeks is None:
            parts.append((None, frozenset({MISSING_DURATION})))
        else:
            known(s.duration_weeks < bound if below else s.duration_weeks >= bound)
    if selector.duration_known is not None:
        known((s.duration_weeks is not None) == selector.duration_known)
    for path, values in (selector.facts or {}).items():
        value = s.fact(path)
        if value is None:
            parts.append((None, frozenset({path})))
        else:
            known(value in values)
    if selector.triage_rules_any is not None:
        known(any(r in s.triage_rules for r in selector.triage_rules_any))
    if selector.lbp_source is not None:
        known(s.lbp_source in selector.lbp_source)
    if selector.contraindications_any is not None:
        known(any(c in s.contraindications for c in selector.contraindications_any))
    if selector.contraindications_none is not None:
        known(not any(c in s.contraindications for c in selector.contraindications_none))
    if selector.any is not None:
        branches = [evaluate(b, s, named) for b in selector.any]
        value = or_(*(v for v, _ in branches))
        missing = frozenset().union(*(m for v, m in branches if v is None))
        parts.append((value, missing if value is None else frozenset()))

    result = and_(*(v for v, _ in parts))
    if result is None:
        return None, frozenset().union(*(m for v, m in parts if v is None))
    return result, frozenset()
