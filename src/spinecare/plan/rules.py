"""Strict loader for the care-plan rules (``spinecare/knowledge/plan_rules.toml``).

The rules are clinical content kept as data: which referral, test, first-line treatment,
escalation, avoid item, review, safety-net message, website-claim answer and home-exercise
template applies to which situation, each with an id and its sources. This module types and checks
them and decides nothing clinical; :mod:`spinecare.plan.planner` applies them.

A rule's ``when`` is criteria text (:mod:`spinecare.criteria`), parsed at load: case facts by
``section.field``, the assessment by references (``flag.CODE``, ``flag_level.CODE``,
``likely.CODE``, ``high.CODE``, ``unlikely.CODE``, ``situation.triage``,
``situation.mjoa_band``, ``situation.duration_weeks``, ``triage_rule.RULE_ID``,
``lbp_source.SOURCE``, ``contraindication.ID``) and the ``[define]`` criteria by name. Every
name is checked: case facts against the case model, references against the closed vocabularies
and ``treatments.toml``. A first-line treatment must not be one the knowledge base advises
against for that condition; an avoided treatment must be advised against for the condition or
list the contraindication the rule names. Errors name the file and the rule
(``plan_rules.toml: referral[ref.lss.physio].treatments: unknown treatment 'x'``).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator, Mapping, Set
from typing import Annotated, Any, Self, get_args

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, model_validator

from spinecare import criteria
from spinecare.criteria.nodes import walk
from spinecare.errors import KnowledgeError, Problem
from spinecare.instruments.registry import instrument
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
    CONDITIONS,
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
    "SITUATION",
    "URGENCY_RANK",
    "AdjustRules",
    "AvoidRule",
    "ClaimsRule",
    "ContraindicationRule",
    "DisagreementRule",
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
    "StopSymptom",
    "Urgency",
    "load_plan_rules",
    "parse_plan_rules",
    "parse_when",
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
    "disagreement",
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
# When a rule applies: criteria text
# ---------------------------------------------------------------------------------------------

def parse_when(text: str, where: str, defined: Mapping[str, criteria.Node]) -> criteria.Node:
    """A rule's ``when`` text as a criterion; a bare name is a ``define`` criterion, replaced by
    its tree (so evaluation and "what is missing" see through it)."""
    node = criteria.parse(text, where, frozenset(defined), references=criteria.PLAN_REFERENCES)
    return _inline(node, defined)


def _inline(node: criteria.Node, defined: Mapping[str, criteria.Node]) -> criteria.Node:
    if isinstance(node, criteria.Ref) and node.kind == "finding":
        return defined[node.name]
    if isinstance(node, criteria.And | criteria.Or):
        return type(node)(tuple(_inline(a, defined) for a in node.args))
    if isinstance(node, criteria.Not):
        return criteria.Not(_inline(node.arg, defined))
    if isinstance(node, criteria.Call):
        return criteria.Call(node.fn, tuple(_inline(a, defined) for a in node.args))
    return node


# ---------------------------------------------------------------------------------------------
# Rules, one model per plan section
# ---------------------------------------------------------------------------------------------


class _Rule(_Frozen):
    id: RuleId
    when: Text = "True"
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


class DisagreementRule(_Worded):
    """Treatments on which guidelines differ for ``condition``: the plan shows each with every
    guideline's position and source (``positions`` in ``treatments.toml``), not one verdict."""

    condition: Condition
    treatments: SomeIds


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
    when: Text
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
    #: Named criteria a rule's ``when`` may use by name, each written out where it is used.
    define: ReadOnlyMap[Id, Text] = Field(default_factory=lambda: types.MappingProxyType({}))
    contraindication: tuple[ContraindicationRule, ...] = ()
    immediate: tuple[ImmediateRule, ...]
    referral: tuple[ReferralRule, ...]
    investigation: tuple[InvestigationRule, ...]
    first_line: tuple[FirstLineRule, ...]
    escalation: tuple[EscalationRule, ...]
    avoid: tuple[AvoidRule, ...]
    disagreement: tuple[DisagreementRule, ...] = ()
    review: tuple[ReviewRule, ...]
    safety_net: Annotated[tuple[SafetyNetRule, ...], Field(min_length=1)]
    claims: tuple[ClaimsRule, ...] = ()
    programme: ProgrammeRules

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = sorted(set(LEVELS) - set(self.levels))
        if missing:
            raise ValueError(f"levels: no text for {missing}")
        if not any(r.when.strip() == "True" and r.urgency == "immediately"
                   for r in self.safety_net):
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
        defined = self.defined
        return types.MappingProxyType(
            {r.id: parse_when(r.when, f"{r.id}.when", defined) for r in rules})

    @functools.cached_property
    def defined(self) -> Mapping[str, criteria.Node]:
        """The ``define`` criteria by name, each with the earlier ones it names written out."""
        out: dict[str, criteria.Node] = {}
        for name, text in self.define.items():
            out[name] = parse_when(text, f"define.{name}", out)
        return types.MappingProxyType(out)

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
# Cross-checks against the treatment knowledge base and the exercise library
# ---------------------------------------------------------------------------------------------


#: What a situation offers under ``situation.NAME``, with the codes it may take (None: a number).
SITUATION: Mapping[str, tuple[str, ...] | None] = types.MappingProxyType({
    "triage": get_args(Level),
    "mjoa_band": get_args(MjoaBand),
    "duration_weeks": None,
})


#: Instruments a rule reads a severity band of (``band.odi``), and the scores it reads.
BANDED = ("odi", "ndi", "mjoa")
SCORES = (*BANDED, "zcq_symptom_severity", "zcq_physical_function")


_TREATMENT = criteria.ItemFact("treatment")


def _reference_names(contraindications: Set[str]) -> Mapping[str, Set[str] | None]:
    """The names each kind of reference may take (None: any rule id the engine may fire)."""
    return {
        "band": frozenset(BANDED), "score": frozenset(SCORES),
        "flag": RED_FLAGS, "flag_level": RED_FLAGS,
        "likely": CONDITIONS, "high": CONDITIONS, "unlikely": CONDITIONS,
        "lbp_source": frozenset(get_args(LbpSource)),
        "contraindication": contraindications,
        "situation": frozenset(SITUATION),
        "triage_rule": None,
    }


def _codes(ref: criteria.Ref) -> tuple[str, ...] | None:
    """The codes a coded reference takes, for checking the values it is compared with."""
    if ref.kind == "flag_level":
        return get_args(Level)
    if ref.kind == "band":
        return tuple(b.code for b in instrument(ref.name).band)
    if ref.kind == "situation":
        return SITUATION.get(ref.name)
    return None


def _when_problems(rules: PlanRules, contraindications: Set[str],
                   treatments: Set[str] = frozenset()) -> list[Problem]:
    """Every ``define`` and ``when`` parsed, and every reference checked against what a situation
    provides: a typo (``likely.hip_arthritis``) would make a rule that can never fire."""
    problems: list[Problem] = []
    names = _reference_names(contraindications)
    defined: dict[str, criteria.Node] = {}
    items: list[tuple[str, str, str, bool]] = [
        (f"define.{name}", name, text, True) for name, text in rules.define.items()]
    for section in ("contraindication", *SECTIONS):
        for rule in rules.rules(section):
            items.append((f"{_where(section, rule)}.when", "", rule.when,
                          section != "contraindication"))
    items += [(f"programme.withhold[{w.id}].when", "", w.when, True)
              for w in rules.programme.withhold]
    for where, name, text, may_read_contraindications in items:
        try:
            node = parse_when(text, "", defined)
        except KnowledgeError as exc:
            problems.append(Problem(where, str(exc).removeprefix(": ")))
            continue
        if name:
            defined[name] = node
        for n in walk(node):
            if isinstance(n, criteria.Ref):
                allowed = names.get(n.kind, frozenset())
                if allowed is not None and n.name not in allowed:
                    problems.append(Problem(where, f"unknown {n.kind} {n.name!r}"))
                if n.kind == "contraindication" and not may_read_contraindications:
                    problems.append(Problem(
                        where, "contraindication rules cannot select on contraindications"))
            compared = (n.values if isinstance(n, criteria.In) and n.operand == _TREATMENT
                        else (n.right.value,) if isinstance(n, criteria.Cmp) and n.left ==
                        _TREATMENT and isinstance(n.right, criteria.Const) else ())
            for value in compared:
                if value not in treatments:
                    problems.append(Problem(where, f"unknown treatment {value!r}"))
            if isinstance(n, criteria.In) and isinstance(n.operand, criteria.Ref):
                codes = _codes(n.operand)
                bad = [v for v in n.values if codes is not None and v not in codes]
                if bad:
                    problems.append(Problem(
                        where, f"{n.operand.kind}.{n.operand.name} is never {bad[0]!r}"))
    return problems


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

    seen: dict[str, str] = {}
    for section, item in rules.all_rules():
        key = getattr(item, "id", None)
        if key is None:
            continue
        if key in seen:
            problems.append(Problem(_where(section, item), f"id already used in {seen[key]}"))
        seen[key] = section

    problems += _when_problems(rules, known_ci, frozenset(kb.treatments))

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
    avoided = {(a.condition, t) for a in rules.avoid if a.condition for t in a.treatments}
    for d in rules.disagreement:
        where = _where("disagreement", d)
        for ref in d.treatments:
            t = kb.treatments.get(ref)
            if t is None:
                problems.append(Problem(f"{where}.treatments", f"unknown treatment {ref!r}"))
            elif not t.disputed_for(d.condition):
                problems.append(Problem(
                    f"{where}.treatments", f"guidelines do not differ on {ref!r} for "
                    f"{d.condition!r} (its positions need one 'against' and one other)"))
            if (d.condition, ref) in avoided:
                problems.append(Problem(
                    f"{where}.treatments", f"{ref!r} is also avoided for {d.condition!r}: show "
                    "a disagreement as one item, not as 'do not offer'"))
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
    "version", "notice", "levels", "define", "contraindication", *SECTIONS, "programme",
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
