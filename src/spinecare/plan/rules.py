"""Strict loader for the care-plan rules (``spinecare/knowledge/plan_rules.toml``).

The rules are clinical content kept as data: which referral, test, first-line treatment,
escalation, avoid item, review, safety-net message, website-claim answer and home-exercise
template applies to which situation, each with an id and its sources. This module types and checks
them and decides nothing clinical; :mod:`spinecare.plan.planner` applies them.

A rule selects on the assessment and a few structured case facts through a :class:`Selector`
(triage level, red-flag codes and levels, condition likelihoods, mJOA band, symptom duration,
case facts by JSON path, engine rule ids, the source of low back pain, and the contraindications
the plan has found). Every id a rule names is checked against the knowledge it refers to:
condition codes and red-flag codes against the closed vocabularies, treatment and contraindication
ids against ``treatments.toml``, exercise ids against ``exercises.toml``, case paths against the
case model. A first-line treatment must not be one the knowledge base advises against for that
condition; an avoided treatment must be advised against for the condition or list the
contraindication the rule names. Errors name the file and the rule
(``plan_rules.toml: referral[ref.lss.physio].treatments: unknown treatment 'x'``).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator, Mapping, Set
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, model_validator

from spinecare import criteria
from spinecare.errors import Problem
from spinecare.kb import (
    CitationIds,
    Id,
    Ids,
    Problems,
    ReadOnlyMap,
    Text,
    Texts,
    Version,
    freeze,
    knowledge_dir,
    parse_toml,
    read_text,
    top_level_problems,
    unique,
    validation_problems,
)
from spinecare.kb import StrictModel as _Frozen
from spinecare.plan.knowledge import (
    NEGATIVE_RECOMMENDATIONS,
    Condition,
    ExerciseLibrary,
    TreatmentBase,
    load_exercises,
    load_treatments,
)
from spinecare.vocabulary import (
    InvestigationStatus,
    LbpSource,
    MjoaBand,
    PainSite,
    Tolerance,
    TreatmentChoice,
)
from spinecare.vocabulary import RedFlagCode as RedFlag
from spinecare.vocabulary import ReviewInstrument as Instrument
from spinecare.vocabulary import TriageLevel as Level
from spinecare.vocabulary import Urgency as Urgency

__all__ = [
    "LEVELS",
    "PLAN_RULES_FILE",
    "RED_FLAGS",
    "SECTIONS",
    "URGENCY_RANK",
    "AdjustRules",
    "AvoidRule",
    "ClaimsRule",
    "ContraindicationRule",
    "EscalationRule",
    "FirstLineRule",
    "ImmediateRule",
    "InvestigationRule",
    "Level",
    "PlanRules",
    "ProgrammeRules",
    "ProgrammeTemplate",
    "RedFlag",
    "ReferralRule",
    "ReviewRule",
    "SafetyNetRule",
    "Selector",
    "StopSymptom",
    "Urgency",
    "case_fact_values",
    "load_plan_rules",
    "parse_plan_rules",
]

PLAN_RULES_FILE = "plan_rules.toml"

# ---------------------------------------------------------------------------------------------
# Closed vocabularies (shared with the assessment and the case)
# ---------------------------------------------------------------------------------------------

LEVELS: tuple[str, ...] = get_args(Level)
RED_FLAGS: frozenset[str] = frozenset(get_args(RedFlag))
URGENCY_RANK: Mapping[str, int] = types.MappingProxyType(
    {name: len(get_args(Urgency)) - i for i, name in enumerate(get_args(Urgency))}
)

#: The plan's sections, in the order they appear in a plan.
SECTIONS: tuple[str, ...] = (
    "immediate",
    "referral",
    "investigation",
    "first_line",
    "escalation",
    "avoid",
    "review",
    "safety_net",
    "claims",
)

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]
FactValue = bool | str


def _nonempty_unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if not values:
        raise ValueError("must not be empty; leave the key out instead")
    return unique(values)


_NonEmpty = AfterValidator(_nonempty_unique)
Levels = Annotated[tuple[Level, ...], _NonEmpty]
RedFlags = Annotated[tuple[RedFlag, ...], _NonEmpty]
SomeConditions = Annotated[tuple[Condition, ...], _NonEmpty]
MjoaBands = Annotated[tuple[MjoaBand, ...], _NonEmpty]
FactValues = Annotated[tuple[FactValue, ...], _NonEmpty]
RuleIds = Annotated[tuple[RuleId, ...], _NonEmpty]
LbpSources = Annotated[tuple[LbpSource, ...], _NonEmpty]
SomeIds = Annotated[tuple[Id, ...], _NonEmpty]
Tolerances = Annotated[tuple[Tolerance, ...], _NonEmpty]


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------


class Selector(_Frozen):
    """When a rule applies. Every key given must hold (and); ``any`` holds if one branch does.

    An empty selector always holds. Each key is three-valued: a key over something the case
    leaves unknown (mJOA not scored, duration not given, a case fact left null) is unknown, and a
    rule whose selector is unknown does not fire but is reported as pending, naming what is
    missing.
    """

    use: SomeIds | None = None
    triage: Levels | None = None
    red_flags_any: RedFlags | None = None
    red_flags_none: RedFlags | None = None
    flag_levels: ReadOnlyMap[RedFlag, Levels] | None = None
    likely_any: SomeConditions | None = None
    high_any: SomeConditions | None = None
    unlikely_all: SomeConditions | None = None
    mjoa_band: MjoaBands | None = None
    mjoa_scored: bool | None = None
    duration_weeks_under: Annotated[float, Field(gt=0)] | None = None
    duration_weeks_at_least: Annotated[float, Field(ge=0)] | None = None
    duration_known: bool | None = None
    facts: ReadOnlyMap[str, FactValues] | None = None
    triage_rules_any: RuleIds | None = None
    lbp_source: LbpSources | None = None
    contraindications_any: SomeIds | None = None
    contraindications_none: SomeIds | None = None
    any: tuple[Selector, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.any is not None and len(self.any) < 2:
            raise ValueError("'any' needs at least two branches")
        low, high = self.duration_weeks_at_least, self.duration_weeks_under
        if low is not None and high is not None and low >= high:
            raise ValueError("duration_weeks_at_least must be below duration_weeks_under")
        both = set(self.red_flags_any or ()) & set(self.red_flags_none or ())
        if both:
            raise ValueError(f"in both red_flags_any and red_flags_none: {sorted(both)}")
        return self

    def branches(self) -> Iterator[Selector]:
        """This selector and every nested ``any`` branch."""
        yield self
        for branch in self.any or ():
            yield from branch.branches()


def criterion(selector: Selector, named: Mapping[str, Selector]) -> criteria.Node:
    """``selector`` as a tree of the criteria language, which evaluates it (three-valued) and
    says what is missing; ``named`` holds the shared selectors that ``use`` names.

    Every key reads one kind of reference (:class:`spinecare.plan.select.Situation` gives their
    values) or a case fact, so that an unknown result can name the fact or reference left
    unknown.
    """
    Ref, In = criteria.Ref, criteria.In

    def refs(kind: criteria.RefKind, names: tuple[str, ...]) -> list[criteria.Node]:
        return [Ref(kind, n) for n in names]

    def any_of(nodes: list[criteria.Node]) -> criteria.Node:
        return nodes[0] if len(nodes) == 1 else criteria.Or(tuple(nodes))

    def known(node: criteria.Node, wanted: bool) -> criteria.Node:
        call = criteria.Call(criteria.FUNCTIONS["known"], (node,))
        return call if wanted else criteria.Not(call)

    duration = Ref("situation", "duration_weeks")
    mjoa_band = Ref("situation", "mjoa_band")
    parts: list[criteria.Node] = [criterion(named[name], named) for name in selector.use or ()]
    if selector.triage is not None:
        parts.append(In(Ref("situation", "triage"), selector.triage, negate=False))
    if selector.red_flags_any is not None:
        parts.append(any_of(refs("flag", selector.red_flags_any)))
    if selector.red_flags_none is not None:
        parts.append(criteria.Not(any_of(refs("flag", selector.red_flags_none))))
    for flag, levels in (selector.flag_levels or {}).items():
        # A flag raised without a level is unknown; one not raised is not at any level.
        parts.append(criteria.And((Ref("flag", flag),
                                   In(Ref("flag_level", flag), levels, negate=False))))
    if selector.likely_any is not None:
        parts.append(any_of(refs("likely", selector.likely_any)))
    if selector.high_any is not None:
        parts.append(any_of(refs("high", selector.high_any)))
    if selector.unlikely_all is not None:
        parts.append(criteria.And(tuple(refs("unlikely", selector.unlikely_all))))
    if selector.mjoa_band is not None:
        parts.append(In(mjoa_band, selector.mjoa_band, negate=False))
    if selector.mjoa_scored is not None:
        parts.append(known(mjoa_band, selector.mjoa_scored))
    if selector.duration_weeks_under is not None:
        parts.append(criteria.Cmp("<", duration, criteria.Const(selector.duration_weeks_under)))
    if selector.duration_weeks_at_least is not None:
        parts.append(
            criteria.Cmp(">=", duration, criteria.Const(selector.duration_weeks_at_least)))
    if selector.duration_known is not None:
        parts.append(known(duration, selector.duration_known))
    for path, values in (selector.facts or {}).items():
        parts.append(In(_case_fact(path), values, negate=False))
    if selector.triage_rules_any is not None:
        parts.append(any_of(refs("triage_rule", selector.triage_rules_any)))
    if selector.lbp_source is not None:
        parts.append(any_of(refs("lbp_source", selector.lbp_source)))
    if selector.contraindications_any is not None:
        parts.append(any_of(refs("contraindication", selector.contraindications_any)))
    if selector.contraindications_none is not None:
        parts.append(
            criteria.Not(any_of(refs("contraindication", selector.contraindications_none))))
    if selector.any is not None:
        parts.append(criteria.Or(tuple(criterion(b, named) for b in selector.any)))
    if not parts:
        return criteria.Const(True)  # an empty selector always holds
    return parts[0] if len(parts) == 1 else criteria.And(tuple(parts))


def _case_fact(path: str) -> criteria.Fact:
    section, _, field = path.partition(".")
    return criteria.Fact(section, field)


# ---------------------------------------------------------------------------------------------
# Rules, one model per plan section
# ---------------------------------------------------------------------------------------------


class _Rule(_Frozen):
    id: RuleId
    when: Selector = Selector()
    #: Fires only when no other rule of its section (of at least its urgency) has fired.
    fallback: bool = False
    citations: CitationIds


class _Worded(_Rule):
    patient_text: Text
    clinician_text: Text


class ContraindicationRule(_Rule):
    """Marks a contraindication id of the treatment knowledge base as present in this case."""

    contraindication: Id


class ImmediateRule(_Worded):
    """What to do now, in numbered steps a frightened patient can follow."""

    steps: Texts


class ReferralRule(_Worded):
    to: Text
    urgency: Urgency


class InvestigationRule(_Worded):
    test: Text
    status: InvestigationStatus
    timing: Text
    reason: Text


class FirstLineRule(_Worded):
    """Treatments offered first. ``choice = "one_of"``: alternatives to choose between."""

    condition: Condition | None = None
    treatments: Ids = ()
    choice: TreatmentChoice = "all"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.treatments and self.condition is None:
            raise ValueError("'treatments' need the 'condition' their verdict is read for")
        if self.choice == "one_of" and len(self.treatments) < 2:
            raise ValueError("choice 'one_of' needs at least two treatments")
        return self


class EscalationRule(_Worded):
    trigger: Text
    action: Text
    urgency: Urgency
    condition: Condition | None = None
    treatments: Ids = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.treatments and self.condition is None:
            raise ValueError("'treatments' need the 'condition' their verdict is read for")
        return self


class AvoidRule(_Worded):
    """Treatments to avoid: advised against for ``condition``, or ruled out by ``contraindication``.

    With neither, the rule is advice only (``treatments`` must then be empty).
    """

    condition: Condition | None = None
    contraindication: Id | None = None
    treatments: Ids = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.condition is not None and self.contraindication is not None:
            raise ValueError("give 'condition' or 'contraindication', not both")
        basis = self.condition or self.contraindication
        if basis is not None and not self.treatments:
            raise ValueError("a 'condition' or 'contraindication' rule needs 'treatments'")
        if basis is None and self.treatments:
            raise ValueError("'treatments' need a 'condition' or 'contraindication' basis")
        return self


class ReviewRule(_Worded):
    """An instrument to repeat (or, without one, who arranges follow-up) and when."""

    instrument: Instrument | None = None
    pain_site: PainSite | None = None
    weeks: Annotated[tuple[Annotated[int, Field(ge=0, le=104)], ...], Field(min_length=1)]
    meaningful_change: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.instrument == "pain_nrs") != (self.pain_site is not None):
            raise ValueError("'pain_site' is given exactly when the instrument is 'pain_nrs'")
        if list(self.weeks) != sorted(set(self.weeks)):
            raise ValueError("'weeks' must be increasing")
        if self.instrument is None and self.meaningful_change is not None:
            raise ValueError("'meaningful_change' needs an instrument")
        return self


class SafetyNetRule(_Rule):
    """New symptoms that mean seek care, and how soon."""

    symptoms: Texts
    action: Text
    urgency: Urgency


class ClaimsRule(_Rule):
    """Website claims to answer: the ``claims`` of these treatments, graded for ``condition``."""

    condition: Condition
    treatments: SomeIds


class LevelText(_Frozen):
    label: Text
    patient_text: Text
    citations: CitationIds


class Notice(_Frozen):
    patient_text: Text
    citations: CitationIds


# ---------------------------------------------------------------------------------------------
# The home exercise programme
# ---------------------------------------------------------------------------------------------


class ProgrammeTemplate(_Frozen):
    """The exercises offered for one condition, each the entry point of its progression chain."""

    id: RuleId
    condition: Condition
    pain_site: PainSite | None = None
    exercises: SomeIds
    citations: CitationIds


class Withhold(_Frozen):
    id: RuleId
    when: Selector
    patient_text: Text
    citations: CitationIds


class StopSymptom(_Frozen):
    """A symptom in an exercise log that stops the programme, with its seek-care message."""

    id: Id
    label: Text
    urgency: Urgency
    message: Text
    citations: CitationIds


class _AdjustRule(_Frozen):
    id: RuleId
    patient_text: Text
    citations: CitationIds


class StopRule(_AdjustRule):
    pass


class PainRiseRule(_AdjustRule):
    """Step back when pain rises more than ``above`` NRS points over the programme's baseline."""

    above: Annotated[int, Field(ge=0, le=10)]


class SettleRule(_AdjustRule):
    """Step back when symptoms took more than ``minutes_above`` minutes to settle."""

    minutes_above: Annotated[int, Field(ge=1, le=1440)]


class ToleranceRule(_AdjustRule):
    tolerance: Tolerances


class ProgressRule(_AdjustRule):
    """Progress when the recent sessions were enough, tolerated, and pain did not rise."""

    window_days: Annotated[int, Field(ge=1, le=60)]
    min_sessions: Annotated[int, Field(ge=1, le=30)]
    pain_rise_at_most: Annotated[int, Field(ge=0, le=10)]
    tolerance: Tolerances


class DoseRule(_AdjustRule):
    """How far a dose moves per step, and how many steps either way before changing exercise."""

    reps_step: Annotated[int, Field(ge=1, le=10)]
    minutes_step: Annotated[int, Field(ge=1, le=10)]
    max_steps_up: Annotated[int, Field(ge=0, le=10)]
    max_steps_down: Annotated[int, Field(ge=0, le=10)]


class AdjustRules(_Frozen):
    stop: StopRule
    fall: StopRule
    pain_rise: PainRiseRule
    slow_to_settle: SettleRule
    too_hard: ToleranceRule
    hard: ToleranceRule
    hold_pain_rise: _AdjustRule
    unknown: _AdjustRule
    too_few: _AdjustRule
    progress: ProgressRule
    at_top: _AdjustRule
    not_active: _AdjustRule
    dose: DoseRule

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.progress.pain_rise_at_most > self.pain_rise.above:
            raise ValueError("progress.pain_rise_at_most must not exceed pain_rise.above")
        overlap = set(self.progress.tolerance) & (
            set(self.too_hard.tolerance) | set(self.hard.tolerance)
        )
        if overlap:
            raise ValueError(f"tolerance both progresses and holds or steps back: {overlap}")
        return self


class ProgrammeRules(_Frozen):
    withhold: tuple[Withhold, ...]
    templates: Annotated[tuple[ProgrammeTemplate, ...], Field(min_length=1)]
    stop_symptoms: Annotated[tuple[StopSymptom, ...], Field(min_length=1)]
    adjust: AdjustRules


# ---------------------------------------------------------------------------------------------
# The whole file
# ---------------------------------------------------------------------------------------------


class PlanRules(_Frozen):
    """The care-plan rules: a version and one tuple of rules per plan section."""

    version: Version
    notice: Notice
    levels: ReadOnlyMap[Level, LevelText]
    selector: ReadOnlyMap[Id, Selector] = Field(default_factory=lambda: types.MappingProxyType({}))
    contraindication: tuple[ContraindicationRule, ...] = ()
    immediate: tuple[ImmediateRule, ...]
    referral: tuple[ReferralRule, ...]
    investigation: tuple[InvestigationRule, ...]
    first_line: tuple[FirstLineRule, ...]
    escalation: tuple[EscalationRule, ...]
    avoid: tuple[AvoidRule, ...]
    review: tuple[ReviewRule, ...]
    safety_net: Annotated[tuple[SafetyNetRule, ...], Field(min_length=1)]
    claims: tuple[ClaimsRule, ...] = ()
    programme: ProgrammeRules

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = sorted(set(LEVELS) - set(self.levels))
        if missing:
            raise ValueError(f"levels: no text for {missing}")
        if not any(r.when == Selector() and r.urgency == "immediately" for r in self.safety_net):
            raise ValueError(
                "safety_net: at least one unconditional rule must say when to seek care "
                "immediately, so that every plan carries it"
            )
        return self

    @functools.cached_property
    def when_criteria(self) -> Mapping[str, criteria.Node]:
        """Every rule's ``when`` in the criteria language, by rule id (built once)."""
        rules: list[_Rule | Withhold] = [
            r for section in ("contraindication", *SECTIONS) for r in self.rules(section)]
        rules += self.programme.withhold
        return types.MappingProxyType({r.id: criterion(r.when, self.selector) for r in rules})

    def criterion(self, rule: _Rule | Withhold) -> criteria.Node:
        """The rule's ``when`` in the criteria language."""
        return self.when_criteria[rule.id]

    def rules(self, section: str) -> tuple[_Rule, ...]:
        """The rules of one section (a name in :data:`SECTIONS` or ``contraindication``)."""
        value: tuple[_Rule, ...] = getattr(self, section)
        return value

    def all_rules(self) -> Iterator[tuple[str, Any]]:
        """Every rule and programme item with an id, as ``(section, rule)``."""
        for section in ("contraindication", *SECTIONS):
            for rule in self.rules(section):
                yield section, rule
        p = self.programme
        for item in (*p.withhold, *p.templates, *p.stop_symptoms):
            yield "programme", item
        for name in AdjustRules.model_fields:
            yield "programme.adjust", getattr(p.adjust, name)
        for level, text in self.levels.items():
            yield f"levels.{level}", text
        yield "notice", self.notice

    def cited_ids(self) -> Mapping[str, frozenset[str]]:
        """Citation ids by item (``referral[ref.lss.physio]``)."""
        return types.MappingProxyType(
            {_where(section, item): frozenset(item.citations) for section, item in self.all_rules()}
        )


def _where(section: str, item: Any) -> str:
    key = getattr(item, "id", None)
    return f"{section}[{key}]" if key is not None else section


# ---------------------------------------------------------------------------------------------
# Case facts a selector may name
# ---------------------------------------------------------------------------------------------


@functools.cache
def case_fact_values(path: str) -> frozenset[FactValue] | None:
    """The values a case fact at ``path`` (``history.course``) may take, or None if it may not
    be named: only true/false and closed-vocabulary fields are selectable."""
    from spinecare.case import Case

    model: Any = Case
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields or part == "schema_":
            return None
        annotation = _strip_optional(fields[part].annotation)
        if i < len(parts) - 1:
            model = annotation
            continue
        if annotation is bool:
            return frozenset({True, False})
        if typing.get_origin(annotation) is Literal:
            return frozenset(get_args(annotation))
        return None
    return None


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


# ---------------------------------------------------------------------------------------------
# Cross-checks against the treatment knowledge base and the exercise library
# ---------------------------------------------------------------------------------------------


def _selector_problems(
    where: str,
    selector: Selector,
    *,
    named: Set[str],
    contraindications: Set[str],
    may_use: bool,
    may_read_contraindications: bool,
) -> list[Problem]:
    problems: list[Problem] = []
    for s in selector.branches():
        for name in s.use or ():
            if not may_use:
                problems.append(Problem(f"{where}.use", "named selectors cannot use others"))
            elif name not in named:
                problems.append(Problem(f"{where}.use", f"unknown selector {name!r}"))
        for path, values in (s.facts or {}).items():
            allowed = case_fact_values(path)
            if allowed is None:
                problems.append(
                    Problem(f"{where}.facts", f"{path!r} is not a true/false or coded case field")
                )
                continue
            if path.count(".") != 1:
                problems.append(Problem(f"{where}.facts", f"{path!r} is not section.field"))
                continue
            bad = [v for v in values
                   if v not in allowed or isinstance(v, bool) != _is_bool(allowed)]
            if bad:
                problems.append(Problem(f"{where}.facts.{path}", f"not allowed here: {bad}"))
        read = (*(s.contraindications_any or ()), *(s.contraindications_none or ()))
        if read and not may_read_contraindications:
            problems.append(
                Problem(f"{where}", "contraindication rules cannot select on contraindications")
            )
        for ref in read:
            if ref not in contraindications:
                problems.append(Problem(where, f"unknown contraindication {ref!r}"))
    return problems


def _is_bool(values: frozenset[FactValue]) -> bool:
    return all(isinstance(v, bool) for v in values)


def _treatment_problems(
    where: str, ids: tuple[str, ...], condition: Condition | None, kb: TreatmentBase, *,
    negative: bool,
) -> list[Problem]:
    """Unknown ids, treatments that do not cover ``condition``, and verdicts of the wrong sign."""
    problems: list[Problem] = []
    for ref in ids:
        treatment = kb.treatments.get(ref)
        if treatment is None:
            problems.append(Problem(f"{where}.treatments", f"unknown treatment {ref!r}"))
            continue
        if condition is None:
            continue
        if condition not in treatment.conditions:
            problems.append(
                Problem(f"{where}.treatments", f"treatment {ref!r} does not cover {condition!r}")
            )
            continue
        _, recommendation = treatment.verdict_for(condition)
        if negative and recommendation not in NEGATIVE_RECOMMENDATIONS:
            problems.append(
                Problem(
                    f"{where}.treatments",
                    f"{ref!r} is {recommendation!r} for {condition!r}, not advised against",
                )
            )
        if not negative and recommendation in NEGATIVE_RECOMMENDATIONS:
            problems.append(
                Problem(
                    f"{where}.treatments",
                    f"{ref!r} is {recommendation!r} for {condition!r} and cannot be offered",
                )
            )
    return problems


def cross_check(rules: PlanRules, kb: TreatmentBase, library: ExerciseLibrary) -> list[Problem]:
    """Every link from the plan rules to the other knowledge, as problems (empty when sound)."""
    problems: list[Problem] = []
    known_ci = set(kb.contraindications)
    named = set(rules.selector)

    seen: dict[str, str] = {}
    for section, item in rules.all_rules():
        key = getattr(item, "id", None)
        if key is None:
            continue
        if key in seen:
            problems.append(Problem(_where(section, item), f"id already used in {seen[key]}"))
        seen[key] = section

    for name, selector in rules.selector.items():
        problems += _selector_problems(
            f"selector.{name}", selector, named=named, contraindications=known_ci,
            may_use=False, may_read_contraindications=True,
        )
    for section in ("contraindication", *SECTIONS):
        for rule in rules.rules(section):
            where = _where(section, rule)
            problems += _selector_problems(
                f"{where}.when", rule.when, named=named, contraindications=known_ci,
                may_use=True, may_read_contraindications=section != "contraindication",
            )
    for w in rules.programme.withhold:
        problems += _selector_problems(
            f"programme.withhold[{w.id}].when", w.when, named=named, contraindications=known_ci,
            may_use=True, may_read_contraindications=True,
        )

    for c in rules.contraindication:
        if c.contraindication not in known_ci:
            problems.append(
                Problem(_where("contraindication", c), f"unknown contraindication "
                        f"{c.contraindication!r}")
            )
    for f in rules.first_line:
        problems += _treatment_problems(
            _where("first_line", f), f.treatments, f.condition, kb, negative=False
        )
    for e in rules.escalation:
        problems += _treatment_problems(
            _where("escalation", e), e.treatments, e.condition, kb, negative=False
        )
    for a in rules.avoid:
        where = _where("avoid", a)
        problems += _treatment_problems(where, a.treatments, a.condition, kb, negative=True)
        if a.contraindication is not None:
            if a.contraindication not in known_ci:
                problems.append(
                    Problem(f"{where}.contraindication",
                            f"unknown contraindication {a.contraindication!r}")
                )
            for ref in a.treatments:
                t = kb.treatments.get(ref)
                if t is not None and a.contraindication not in t.contraindications:
                    problems.append(
                        Problem(f"{where}.treatments",
                                f"{ref!r} does not list contraindication {a.contraindication!r}")
                    )
    for cl in rules.claims:
        where = _where("claims", cl)
        problems += _claims_problems(where, cl, kb)

    for template in rules.programme.templates:
        where = _where("programme.templates", template)
        chains: dict[tuple[str, ...], str] = {}
        for ref in template.exercises:
            exercise = library.exercises.get(ref)
            if exercise is None:
                problems.append(Problem(f"{where}.exercises", f"unknown exercise {ref!r}"))
                continue
            if template.condition not in exercise.suits:
                problems.append(
                    Problem(f"{where}.exercises",
                            f"exercise {ref!r} does not suit {template.condition!r}")
                )
            chain = library.chain(ref)
            if chain in chains:
                problems.append(
                    Problem(f"{where}.exercises",
                            f"{ref!r} is on the same progression chain as {chains[chain]!r}")
                )
            chains[chain] = ref
    conditions = [t.condition for t in rules.programme.templates]
    repeated = sorted({c for c in conditions if conditions.count(c) > 1})
    if repeated:
        problems.append(Problem("programme.templates", f"more than one template for {repeated}"))
    return problems


def _claims_problems(where: str, rule: ClaimsRule, kb: TreatmentBase) -> list[Problem]:
    problems: list[Problem] = []
    for ref in rule.treatments:
        t = kb.treatments.get(ref)
        if t is None:
            problems.append(Problem(f"{where}.treatments", f"unknown treatment {ref!r}"))
        elif rule.condition not in t.conditions:
            problems.append(
                Problem(f"{where}.treatments",
                        f"treatment {ref!r} does not cover {rule.condition!r}")
            )
        elif not t.claims:
            problems.append(Problem(f"{where}.treatments", f"treatment {ref!r} answers no claims"))
    return problems


# ---------------------------------------------------------------------------------------------
# Parsing and loading
# ---------------------------------------------------------------------------------------------

_TOP = {
    "version", "notice", "levels", "selector", "contraindication", *SECTIONS, "programme",
}


def parse_plan_rules(
    text: str,
    *,
    treatments: TreatmentBase | None = None,
    exercises: ExerciseLibrary | None = None,
    source: str = PLAN_RULES_FILE,
) -> PlanRules:
    """Parse and check plan rules given as TOML text against the treatment knowledge base and
    exercise library (default: the packaged ones)."""
    data = parse_toml(text, source)
    problems = Problems()
    problems.add_all(source, top_level_problems(data, _TOP))
    known = {key: value for key, value in data.items() if key in _TOP}
    try:
        rules = PlanRules.model_validate(freeze(_with_programme_ids(known)))
    except ValidationError as exc:
        problems.add_all(source, _named(validation_problems(exc), known))
        problems.raise_if_any()
        raise  # unreachable: a validation error always adds a problem
    problems.add_all(source, cross_check(
        rules,
        load_treatments() if treatments is None else treatments,
        load_exercises() if exercises is None else exercises,
    ))
    problems.raise_if_any()
    rules.when_criteria  # noqa: B018 -- built at load rather than by the first plan
    return rules


def _with_programme_ids(data: dict[str, Any]) -> dict[str, Any]:
    # Adjust rules are keyed tables; their id comes from the key, as for treatments.
    programme = data.get("programme")
    if not isinstance(programme, dict) or not isinstance(programme.get("adjust"), dict):
        return data
    adjust = {
        key: ({"id": f"prog.adjust.{key}", **value} if isinstance(value, dict) and "id" not in value
              else value)
        for key, value in programme["adjust"].items()
    }
    return {**data, "programme": {**programme, "adjust": adjust}}


def _named(problems: list[Problem], data: Mapping[str, Any]) -> list[Problem]:
    """Replace ``referral[3]`` by ``referral[ref.x]`` in problem paths, when the rule has an id."""
    out = []
    for p in problems:
        path = p.path
        head, sep, rest = path.partition("[")
        if sep and head in data and isinstance(data[head], list):
            index, _, tail = rest.partition("]")
            if index.isdigit() and int(index) < len(data[head]):
                rule = data[head][int(index)]
                if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                    path = f"{head}[{rule['id']}]{tail}"
        out.append(Problem(path, p.message))
    return out


@functools.lru_cache(maxsize=1)
def load_plan_rules() -> PlanRules:
    """The plan rules shipped with spinecare (read once, then cached)."""
    return parse_plan_rules(read_text(knowledge_dir() / PLAN_RULES_FILE, PLAN_RULES_FILE))
