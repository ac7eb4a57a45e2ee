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

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from spinecare import criteria
from spinecare.case import Case
from spinecare.criteria.logic import Tri
from spinecare.criteria.nodes import walk

__all__ = ["MISSING_DURATION", "MISSING_MJOA", "MISSING_PRIOR", "Situation", "holds", "missing"]

MISSING_MJOA = "mJOA score (instruments.mjoa)"
MISSING_PRIOR = "what was tried before and how it went (history.prior_treatments)"
#: How the plan asks for an unscored instrument a rule reads through ``band.*`` or ``score.*``.
_INSTRUMENT_WORDS = {
    "odi": "ODI score (instruments.odi)",
    "ndi": "NDI score (instruments.ndi)",
    "mjoa": MISSING_MJOA,
    "zcq": "Zurich Claudication Questionnaire (instruments.zcq)",
}
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
    #: Severity bands by instrument (``odi``, ``ndi``, ``mjoa``), None when not scored.
    bands: Mapping[str, str | None] = field(default_factory=dict)
    #: Score values (``odi``, ``zcq_physical_function``...), None when not scored.
    scores: Mapping[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, case: Case, assessment: Mapping[str, Any],
           treatment_id: Callable[[str], str | None] | None = None) -> Situation:
        """The situation of ``case`` and its ``assessment``; ``treatment_id`` resolves the words
        of ``history.prior_treatments`` (an id or an alias) to a treatment id, so that rules
        compare ids."""
        flags: dict[str, str | None] = {}
        fired: set[str] = set(assessment.get("triage", {}).get("rules", ()))
        for flag in assessment.get("red_flags", ()):
            flags[flag["code"]] = flag.get("triage")
            fired.update(flag.get("rules", ()))
        conditions = list(assessment.get("conditions", ()))
        mjoa = assessment.get("scores", {}).get("mjoa")
        band = mjoa.get("band") if isinstance(mjoa, Mapping) and mjoa.get("value") is not None \
            else None
        bands, scores = _severity(assessment.get("scores", {}))
        return cls(
            case=_with_treatment_ids(case, treatment_id),
            triage=assessment["triage"]["level"],
            flags=flags,
            likelihood={c["code"]: c["likelihood"] for c in conditions},
            order=tuple(c["code"] for c in conditions),
            mjoa_band=band,
            duration_weeks=case.history.duration_weeks,
            triage_rules=frozenset(fired),
            lbp_source=assessment.get("low_back_pain_source"),
            bands=bands,
            scores=scores,
        )

    def with_contraindications(self, ids: Iterable[str]) -> Situation:
        return replace(self, contraindications=frozenset(ids))

    def likely(self) -> tuple[str, ...]:
        """Conditions of moderate or high likelihood, most likely first."""
        return tuple(c for c in self.order if self.likelihood.get(c) in _LIKELY)

    def values(self) -> criteria.Values:
        """The value of every reference a plan rule's criterion may read."""
        return _SituationValues(self)


def _severity(scores: Mapping[str, Any]) -> tuple[dict[str, str | None], dict[str, float | None]]:
    bands: dict[str, str | None] = {}
    values: dict[str, float | None] = {}
    for name in ("odi", "ndi", "mjoa"):
        score = scores.get(name)
        value = score.get("value") if isinstance(score, Mapping) else None
        values[name] = value
        bands[name] = score.get("band") if isinstance(score, Mapping) and value is not None \
            else None
    zcq = scores.get("zcq")
    for part in ("symptom_severity", "physical_function"):
        values[f"zcq_{part}"] = zcq.get(part) if isinstance(zcq, Mapping) else None
    return bands, values


def _with_treatment_ids(case: Case, treatment_id: Callable[[str], str | None] | None) -> Case:
    tried = case.history.prior_treatments
    if not tried or treatment_id is None:
        return case
    resolved = [t.model_copy(update={"treatment": treatment_id(t.treatment) or t.treatment})
                for t in tried]
    history = case.history.model_copy(update={"prior_treatments": resolved})
    return case.model_copy(update={"history": history})


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
            case "band":
                return s.bands.get(name)
            case "score":
                return s.scores.get(name)
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
    if leaf.kind in ("band", "score"):
        return _INSTRUMENT_WORDS[leaf.name.partition("_")[0]]
    raise ValueError(f"{leaf} is never unknown in a situation")


_DURATION = criteria.Ref("situation", "duration_weeks")
_MJOA_BAND = criteria.Ref("situation", "mjoa_band")


def holds(node: criteria.Node, s: Situation) -> tuple[Tri, frozenset[str]]:
    """Whether the criterion ``node`` holds for ``s``, and what is missing when that is unknown."""
    values = s.values()
    result = criteria.evaluate(node, s.case, values)
    if result is not None:
        return result, frozenset()
    what = {missing(leaf) for leaf in criteria.unknowns(node, s.case, values)}
    # The criteria language names nothing inside a list; the plan asks for the list.
    if s.case.history.prior_treatments is None and any(
            isinstance(n, criteria.Call) and n.fn.collection == "prior_treatments"
            for n in walk(node)):
        what.add(MISSING_PRIOR)
    return None, frozenset(what)
