"""Strict loaders for the treatment knowledge base and the exercise library.

The clinical content is data, kept apart from this code:

- ``spinecare/knowledge/treatments.toml``: evidence-graded treatments and the contraindications
  they name;
- ``spinecare/knowledge/exercises.toml``: the home exercise library, with progression and
  regression links;
- ``spinecare/knowledge/citations/*.toml``: the sources both of them cite.

This module types and checks that data and decides nothing clinical. Unknown keys, words outside
the closed vocabularies, dangling ids, broken progression chains and uncited items are errors; each
error names the file and the item (``treatments.toml: treatment.nsaids.citations: ...``).

Whether every cited id resolves depends on all citation files being present, so it is a separate
check, :func:`verify_citations`, rather than part of loading a single file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Set
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Annotated, Any, Self, TypeVar, get_args

from pydantic import AfterValidator, Field, model_validator

from spinecare.errors import KnowledgeError, Problem
from spinecare.kb import (
    Citation,
    CitationIds,
    Id,
    Ids,
    KnowledgeFileError,
    Problems,
    ReadOnlyMap,
    Text,
    Texts,
    Version,
    freeze,
    knowledge_dir,
    load_citation_folder,
    packaged_citations,
    parse_citations,
    parse_toml,
    read_text,
    top_level_problems,
    unique,
    unresolved_citations,
)
from spinecare.kb import StrictModel as _Frozen
from spinecare.vocabulary import EXPERT_JUDGEMENT as EXPERT_JUDGEMENT
from spinecare.vocabulary import ConditionCode as Condition
from spinecare.vocabulary import EvidenceGrade as EvidenceGrade
from spinecare.vocabulary import ExerciseCategory as ExerciseCategory
from spinecare.vocabulary import GuidelineStance
from spinecare.vocabulary import Recommendation as Recommendation
from spinecare.vocabulary import Verification as Verification

__all__ = [
    "CATEGORIES",
    "CONDITIONS",
    "EVIDENCE_GRADES",
    "EXERCISES_FILE",
    "EXPERT_JUDGEMENT",
    "NEGATIVE_RECOMMENDATIONS",
    "RECOMMENDATIONS",
    "TREATMENTS_FILE",
    "Citation",
    "Claim",
    "Condition",
    "ConditionVerdict",
    "Contraindication",
    "Dosage",
    "EvidenceGrade",
    "EvidenceStatement",
    "Exercise",
    "ExerciseCategory",
    "ExerciseLibrary",
    "KnowledgeError",
    "KnowledgeFileError",
    "Recommendation",
    "Treatment",
    "TreatmentBase",
    "Verification",
    "load_citations",
    "load_exercises",
    "load_treatments",
    "normalise_treatment_id",
    "parse_citations",
    "parse_exercises",
    "parse_treatments",
    "unresolved_citations",
    "verify_citations",
]

TREATMENTS_FILE = "treatments.toml"
EXERCISES_FILE = "exercises.toml"

# ---------------------------------------------------------------------------------------------
# Closed vocabularies (written once, in spinecare.vocabulary)
# ---------------------------------------------------------------------------------------------

CONDITIONS: frozenset[str] = frozenset(get_args(Condition))
EVIDENCE_GRADES: frozenset[str] = frozenset(get_args(EvidenceGrade))
RECOMMENDATIONS: frozenset[str] = frozenset(get_args(Recommendation))
CATEGORIES: frozenset[str] = frozenset(get_args(ExerciseCategory))

#: Recommendations that keep a treatment out of a plan. ``evidence_against`` must use one.
NEGATIVE_RECOMMENDATIONS: frozenset[str] = frozenset(
    {"not_recommended", "do_not_offer", "not_approved"}
)

Conditions = Annotated[tuple[Condition, ...], Field(min_length=1), AfterValidator(unique)]

# ---------------------------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------------------------


def _check_grade_fits_recommendation(grade: str, recommendation: str) -> None:
    if grade == "evidence_against" and recommendation not in NEGATIVE_RECOMMENDATIONS:
        raise ValueError(
            f"evidence_grade 'evidence_against' needs a negative recommendation "
            f"({', '.join(sorted(NEGATIVE_RECOMMENDATIONS))}), not {recommendation!r}"
        )


# ---------------------------------------------------------------------------------------------
# Treatments
# ---------------------------------------------------------------------------------------------


class EvidenceStatement(_Frozen):
    """One finding (paraphrased, numbers carried over) with its sources and verification tag."""

    finding: Text
    verification: Verification
    citations: CitationIds


class Claim(_Frozen):
    """A question people meet on clinic websites, answered in plain words with the evidence."""

    question: Text
    answer: Text
    citations: CitationIds


class ConditionVerdict(_Frozen):
    """Grade and recommendation for one condition where they differ from the treatment's own."""

    evidence_grade: EvidenceGrade
    recommendation: Recommendation
    reason: Text
    citations: CitationIds

    @model_validator(mode="after")
    def _grade_fits_recommendation(self) -> Self:
        _check_grade_fits_recommendation(self.evidence_grade, self.recommendation)
        return self


class Position(_Frozen):
    """What one guideline says of a treatment for some conditions, where guidelines differ: the
    plan shows every side with its source instead of one verdict."""

    guideline: Text
    stance: GuidelineStance
    says: Text
    conditions: Conditions
    verification: Verification
    citations: CitationIds


class Contraindication(_Frozen):
    """A situation in which a treatment or exercise is avoided or needs a clinician first."""

    id: Id
    label: Text
    when: Text
    citations: CitationIds


class Treatment(_Frozen):
    """One treatment: what it is, how good the evidence is, and what the guidelines say.

    ``evidence_grade`` and ``recommendation`` apply to every condition in ``conditions`` unless
    ``by_condition`` gives that condition its own verdict. Every id in ``citations`` supports at
    least one evidence statement, claim or condition verdict, and those cite nothing else.
    """

    id: Id
    name: Text
    what_it_is: Text
    conditions: Conditions
    evidence_grade: EvidenceGrade
    recommendation: Recommendation
    expected_benefit: Text
    risks: Texts
    contraindications: Ids
    regulatory: Text | None = None
    patient_summary: Text
    evidence: Annotated[tuple[EvidenceStatement, ...], Field(min_length=1)]
    claims: tuple[Claim, ...] = ()
    by_condition: ReadOnlyMap[Condition, ConditionVerdict] = Field(
        default_factory=lambda: MappingProxyType({})
    )
    citations: CitationIds
    #: The words people use for it ("traction table", "stem cells"), which
    #: ``spinecare evidence`` accepts as well as the id.
    aliases: tuple[Text, ...] = ()
    #: Guidelines' positions where they differ on this treatment.
    positions: tuple[Position, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_grade_fits_recommendation(self.evidence_grade, self.recommendation)
        if self.recommendation == "not_approved" and self.regulatory is None:
            raise ValueError("a 'not_approved' treatment needs 'regulatory' text")
        stray = sorted((set(self.by_condition) | {c for p in self.positions
                                                  for c in p.conditions}) - set(self.conditions))
        if stray:
            raise ValueError(f"by_condition or positions name conditions not listed in "
                             f"'conditions': {stray}")
        supported = self.supporting_citations()
        unlisted = sorted(supported - set(self.citations))
        if unlisted:
            raise ValueError(
                f"cited in evidence, claims or by_condition but not in citations: {unlisted}"
            )
        idle = sorted(set(self.citations) - supported)
        if idle:
            raise ValueError(f"listed in citations but supporting no statement: {idle}")
        return self

    def supporting_citations(self) -> frozenset[str]:
        """Ids cited by the evidence statements, claims and condition verdicts."""
        statements: list[EvidenceStatement | Claim | ConditionVerdict | Position] = [
            *self.evidence,
            *self.claims,
            *self.by_condition.values(),
            *self.positions,
        ]
        return frozenset(c for s in statements for c in s.citations)

    def positions_for(self, condition: Condition) -> tuple[Position, ...]:
        """The guidelines' positions on this treatment for ``condition``."""
        return tuple(p for p in self.positions if condition in p.conditions)

    def disputed_for(self, condition: Condition) -> bool:
        """Whether guidelines differ on it for ``condition``: one is against, another is not."""
        stances = {p.stance for p in self.positions_for(condition)}
        return "against" in stances and len(stances) > 1

    def verdict_for(self, condition: Condition) -> tuple[EvidenceGrade, Recommendation]:
        """Evidence grade and recommendation for one of this treatment's conditions."""
        if condition not in self.conditions:
            raise KeyError(f"treatment {self.id!r} does not cover {condition!r}")
        verdict = self.by_condition.get(condition)
        if verdict is None:
            return self.evidence_grade, self.recommendation
        return verdict.evidence_grade, verdict.recommendation


class TreatmentBase(_Frozen):
    """The treatment knowledge base: a version, the treatments and the contraindications."""

    version: Version
    treatments: ReadOnlyMap[Id, Treatment]
    contraindications: ReadOnlyMap[Id, Contraindication]

    @model_validator(mode="after")
    def _linked(self) -> Self:
        problems = [
            *_key_mismatches("treatment", self.treatments),
            *_key_mismatches("contraindication", self.contraindications),
            *_dangling_contraindications(self.treatments, set(self.contraindications)),
            *_alias_clashes(self.treatments),
        ]
        if problems:
            raise ValueError("; ".join(map(str, problems)))
        return self

    def by_alias(self) -> Mapping[str, str]:
        """Each alias, written as an id would be (``traction_table``), to its treatment id."""
        return MappingProxyType({normalise_treatment_id(alias): tid
                                 for tid, t in self.treatments.items() for alias in t.aliases})

    def cited_ids(self) -> Mapping[str, frozenset[str]]:
        """Citation ids by item path (``treatment.nsaids``, ``contraindication.myelopathy``)."""
        cited = {f"treatment.{k}": frozenset(t.citations) for k, t in self.treatments.items()}
        for key, item in self.contraindications.items():
            cited[f"contraindication.{key}"] = frozenset(item.citations)
        return MappingProxyType(cited)


def normalise_treatment_id(query: str) -> str:
    """``'Stem-cell injection'`` -> ``'stem_cell_injection'``: words written as an id is."""
    return re.sub(r"[^a-z0-9]+", "_", query.strip().lower()).strip("_")


def _alias_clashes(treatments: Mapping[str, Treatment]) -> list[Problem]:
    # An alias that names two treatments, or another treatment's id, would make a lookup guess.
    owner: dict[str, str] = {}
    problems = []
    for tid, t in treatments.items():
        for alias in t.aliases:
            key = normalise_treatment_id(alias)
            other = owner.get(key) or (key if key in treatments and key != tid else None)
            if other is not None and other != tid:
                problems.append(Problem(f"treatment.{tid}.aliases",
                                        f"{alias!r} already names {other}"))
            owner[key] = tid
    return problems


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------


class Dosage(_Frozen):
    """Sets of either repetitions or minutes, with how many days a week."""

    sets: Annotated[int, Field(ge=1, le=10)]
    reps: Annotated[int, Field(ge=1, le=50)] | None = None
    minutes: Annotated[int, Field(ge=1, le=60)] | None = None
    hold_seconds: Annotated[int, Field(ge=1, le=120)] | None = None
    frequency_per_week: Annotated[int, Field(ge=1, le=7)]

    @model_validator(mode="after")
    def _reps_or_minutes(self) -> Self:
        if (self.reps is None) == (self.minutes is None):
            raise ValueError("give exactly one of 'reps' and 'minutes'")
        return self


class Exercise(_Frozen):
    """One exercise of the home programme.

    ``avoid_with`` and ``supervise_with`` hold condition codes or contraindication ids: the
    exercise is left out for the first and given only under a clinician's supervision for the
    second. ``progression`` and ``regression`` link to a harder and an easier exercise.
    """

    id: Id
    name: Text
    purpose: Text
    instructions: Annotated[tuple[Text, ...], Field(min_length=2)]
    dosage: Dosage
    suits: Conditions
    avoid_with: Ids
    supervise_with: Ids = ()
    category: ExerciseCategory
    progression: Id | None = None
    regression: Id | None = None
    stop_if: Texts
    evidence_note: Text
    citations: CitationIds

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for field, codes in (("suits", self.suits), ("supervise_with", self.supervise_with)):
            both = sorted(set(codes) & set(self.avoid_with))
            if both:
                raise ValueError(f"listed in both {field!r} and 'avoid_with': {both}")
        if self.id in (self.progression, self.regression):
            raise ValueError("an exercise cannot progress or regress to itself")
        if self.progression is not None and self.progression == self.regression:
            raise ValueError("'progression' and 'regression' name the same exercise")
        return self


class ExerciseLibrary(_Frozen):
    """The exercise library: a version and the exercises, keyed by id."""

    version: Version
    exercises: ReadOnlyMap[Id, Exercise]

    @model_validator(mode="after")
    def _linked(self) -> Self:
        problems = [
            *_key_mismatches("exercise", self.exercises),
            *_broken_links(self.exercises),
        ]
        if problems:
            raise ValueError("; ".join(map(str, problems)))
        return self

    def chain(self, exercise_id: str) -> tuple[str, ...]:
        """The progression chain through ``exercise_id``, easiest first."""
        start = self.exercises[exercise_id]
        while start.regression is not None:
            start = self.exercises[start.regression]
        chain = [start.id]
        while (following := self.exercises[chain[-1]].progression) is not None:
            chain.append(following)
        return tuple(chain)

    def cited_ids(self) -> Mapping[str, frozenset[str]]:
        """Citation ids by item path (``exercise.interval_walking``)."""
        return MappingProxyType(
            {f"exercise.{k}": frozenset(e.citations) for k, e in self.exercises.items()}
        )


# ---------------------------------------------------------------------------------------------
# Cross-item checks (pure; shared by the parsers and the model validators)
# ---------------------------------------------------------------------------------------------


def _key_mismatches(
    table: str, items: Mapping[str, Contraindication | Treatment | Exercise]
) -> list[Problem]:
    return [
        Problem(f"{table}.{key}", f"keyed {key!r} but its id is {item.id!r}")
        for key, item in items.items()
        if key != item.id
    ]


def _dangling_contraindications(
    treatments: Mapping[str, Treatment], known: Set[str]
) -> list[Problem]:
    return [
        Problem(f"treatment.{key}.contraindications", f"unknown contraindication {ref!r}")
        for key, treatment in treatments.items()
        for ref in treatment.contraindications
        if ref not in known
    ]


def _broken_links(exercises: Mapping[str, Exercise]) -> list[Problem]:
    problems: list[Problem] = []
    for key, ex in exercises.items():
        for field, target in (("progression", ex.progression), ("regression", ex.regression)):
            if target is not None and target not in exercises:
                problems.append(Problem(f"exercise.{key}.{field}", f"unknown exercise {target!r}"))
    if problems:
        return problems
    # Each link must be mirrored, so every exercise sits on exactly one linear chain.
    for key, ex in exercises.items():
        if ex.progression is not None and exercises[ex.progression].regression != key:
            problems.append(
                Problem(
                    f"exercise.{key}.progression",
                    f"{ex.progression!r} must name {key!r} as its regression",
                )
            )
        if ex.regression is not None and exercises[ex.regression].progression != key:
            problems.append(
                Problem(
                    f"exercise.{key}.regression",
                    f"{ex.regression!r} must name {key!r} as its progression",
                )
            )
    for key in exercises:
        seen = [key]
        while (following := exercises[seen[-1]].progression) is not None:
            if following in seen:
                loop = " -> ".join([*seen[seen.index(following) :], following])
                problems.append(Problem(f"exercise.{key}.progression", f"cycle: {loop}"))
                break
            seen.append(following)
    return problems


def _unknown_codes(exercises: Mapping[str, Exercise], contraindications: Set[str]) -> list[Problem]:
    known = CONDITIONS | contraindications
    return [
        Problem(
            f"exercise.{key}.{field}",
            f"{code!r} is neither a condition code nor a contraindication id",
        )
        for key, ex in exercises.items()
        for field, codes in (("avoid_with", ex.avoid_with), ("supervise_with", ex.supervise_with))
        for code in codes
        if code not in known
    ]


# ---------------------------------------------------------------------------------------------
# Parsing (every problem of a file is collected, then raised together)
# ---------------------------------------------------------------------------------------------

_M = TypeVar("_M", Treatment, Contraindication, Exercise)


def _parse_items(
    data: Mapping[str, Any], table: str, model: type[_M], source: str, problems: Problems
) -> dict[str, _M]:
    items: dict[str, _M] = {}
    tables = data.get(table, {})
    if not isinstance(tables, dict):
        problems.add(source, table, f"must be a table of [{table}.<id>] tables")
        return items
    for key, raw in tables.items():
        prefix = f"{table}.{key}"
        if not isinstance(raw, dict):
            problems.add(source, prefix, "must be a table")
            continue
        if "id" in raw:
            problems.add(source, f"{prefix}.id", "the id comes from the table name; remove it")
            continue
        item = problems.validate(model, freeze({"id": key, **raw}), source, prefix)
        if item is not None:
            items[key] = item
    return items


def parse_treatments(text: str, *, source: str = TREATMENTS_FILE) -> TreatmentBase:
    """Parse and check a treatment knowledge base given as TOML text."""
    data = parse_toml(text, source)
    problems = Problems()
    problems.add_all(source, top_level_problems(
        data, {"version", "treatment", "contraindication"}, {"version", "treatment"}
    ))
    contraindications = _parse_items(data, "contraindication", Contraindication, source, problems)
    treatments = _parse_items(data, "treatment", Treatment, source, problems)
    problems.add_all(source, _dangling_contraindications(treatments, set(contraindications)))
    problems.raise_if_any()
    base = problems.validate(TreatmentBase, {
        "version": data["version"],
        "treatments": treatments,
        "contraindications": contraindications,
    }, source)
    problems.raise_if_any()
    assert base is not None
    return base


def parse_exercises(
    text: str, *, contraindication_ids: Set[str], source: str = EXERCISES_FILE
) -> ExerciseLibrary:
    """Parse and check an exercise library given as TOML text.

    ``contraindication_ids`` are the ids ``avoid_with`` and ``supervise_with`` may use besides
    condition codes (normally those of the treatment knowledge base).
    """
    data = parse_toml(text, source)
    problems = Problems()
    problems.add_all(source, top_level_problems(data, {"version", "exercise"},
                                                {"version", "exercise"}))
    exercises = _parse_items(data, "exercise", Exercise, source, problems)
    problems.add_all(source, _unknown_codes(exercises, contraindication_ids))
    problems.add_all(source, _broken_links(exercises))
    problems.raise_if_any()
    library = problems.validate(
        ExerciseLibrary, {"version": data["version"], "exercises": exercises}, source
    )
    problems.raise_if_any()
    assert library is not None
    return library


# ---------------------------------------------------------------------------------------------
# Loading package data
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def load_treatments() -> TreatmentBase:
    """The treatment knowledge base shipped with spinecare (read once, then cached)."""
    return parse_treatments(read_text(knowledge_dir() / TREATMENTS_FILE, TREATMENTS_FILE))


@functools.lru_cache(maxsize=1)
def load_exercises() -> ExerciseLibrary:
    """The exercise library shipped with spinecare (read once, then cached)."""
    return parse_exercises(
        read_text(knowledge_dir() / EXERCISES_FILE, EXERCISES_FILE),
        contraindication_ids=set(load_treatments().contraindications),
    )


def load_citations(folder: Traversable | None = None) -> Mapping[str, Citation]:
    """Every source in every ``*.toml`` of ``folder`` (default: the packaged citations folder).

    Ids must be unique across files.
    """
    if folder is None:
        return packaged_citations()
    return load_citation_folder(folder)


# ---------------------------------------------------------------------------------------------
# Citation resolution
# ---------------------------------------------------------------------------------------------


def verify_citations(
    known: Set[str],
    treatments: TreatmentBase | None = None,
    exercises: ExerciseLibrary | None = None,
) -> None:
    """Raise :class:`KnowledgeFileError` if any item cites an id that ``known`` lacks, listing
    every such id of both files.

    Defaults to the packaged knowledge base and exercise library.
    """
    treatments = load_treatments() if treatments is None else treatments
    exercises = load_exercises() if exercises is None else exercises
    problems = Problems()
    for source, cited in (
        (TREATMENTS_FILE, treatments.cited_ids()),
        (EXERCISES_FILE, exercises.cited_ids()),
    ):
        for item, refs in unresolved_citations(cited, known).items():
            for ref in refs:
                problems.add(source, f"{item}.citations", f"unknown source {ref!r}")
    problems.raise_if_any()
