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
import tomllib
from collections.abc import Iterable, Mapping, Set
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    WrapSerializer,
    model_validator,
)

from spinecare.errors import KnowledgeError, Problem

__all__ = [
    "CATEGORIES",
    "CONDITIONS",
    "EVIDENCE_GRADES",
    "EXPERT_JUDGEMENT",
    "NEGATIVE_RECOMMENDATIONS",
    "RECOMMENDATIONS",
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
    "parse_citations",
    "parse_exercises",
    "parse_treatments",
    "unresolved_citations",
    "verify_citations",
]

KNOWLEDGE_PACKAGE = "spinecare.knowledge"
TREATMENTS_FILE = "treatments.toml"
EXERCISES_FILE = "exercises.toml"
CITATIONS_DIR = "citations"

#: Reserved citation id: no published source exists, and the output says so plainly.
EXPERT_JUDGEMENT = "expert_judgement"

# ---------------------------------------------------------------------------------------------
# Closed vocabularies
# ---------------------------------------------------------------------------------------------

#: Condition codes, shared with the assessment's differential (``assessment.schema.json``).
Condition = Literal[
    "lumbar_spinal_stenosis",
    "degenerative_cervical_myelopathy",
    "cervical_radiculopathy",
    "lumbar_radiculopathy",
    "cauda_equina_syndrome",
    "vascular_claudication",
    "hip_osteoarthritis",
    "peripheral_neuropathy",
    "spinal_infection",
    "spinal_malignancy",
    "vertebral_fracture",
    "nonspecific_low_back_pain",
    "nonspecific_neck_pain",
]

#: GRADE-style certainty that the treatment helps. ``evidence_against``: good evidence that it
#: does not help, or a guideline says do not offer it.
EvidenceGrade = Literal["high", "moderate", "low", "very_low", "insufficient", "evidence_against"]

Recommendation = Literal[
    "recommended",
    "consider",
    "only_within_package",
    "not_recommended",
    "do_not_offer",
    "not_approved",
]

ExerciseCategory = Literal[
    "flexion_bias",
    "walking",
    "cycling",
    "neck",
    "balance",
    "general_mobility",
    "strengthening",
]

#: Verification tag of a fact, as in the clinical reference: V verified, P partly, U not checked.
Verification = Literal["V", "P", "U"]

CONDITIONS: frozenset[str] = frozenset(get_args(Condition))
EVIDENCE_GRADES: frozenset[str] = frozenset(get_args(EvidenceGrade))
RECOMMENDATIONS: frozenset[str] = frozenset(get_args(Recommendation))
CATEGORIES: frozenset[str] = frozenset(get_args(ExerciseCategory))

#: Recommendations that keep a treatment out of a plan. ``evidence_against`` must use one.
NEGATIVE_RECOMMENDATIONS: frozenset[str] = frozenset(
    {"not_recommended", "do_not_offer", "not_approved"}
)

# ---------------------------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------------------------

_K = TypeVar("_K", bound=str)
_V = TypeVar("_V")
_T = TypeVar("_T")


def _read_only(value: Mapping[_K, _V]) -> Mapping[_K, _V]:
    # Loaded knowledge is cached and shared; a caller must not be able to edit it in place.
    return MappingProxyType(dict(value))


def _as_dict(value: Mapping[str, Any], handler: SerializerFunctionWrapHandler) -> Any:
    return handler(dict(value))


def _unique(values: tuple[_T, ...]) -> tuple[_T, ...]:
    seen: set[_T] = set()
    repeated: list[_T] = []
    for value in values:
        if value in seen:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise ValueError(f"repeated entries: {', '.join(map(str, repeated))}")
    return values


ReadOnlyMap = Annotated[Mapping[_K, _V], AfterValidator(_read_only), WrapSerializer(_as_dict)]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(pattern=r"\S")]
Version = Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
Ids = Annotated[tuple[Id, ...], AfterValidator(_unique)]
CitationIds = Annotated[tuple[Id, ...], Field(min_length=1), AfterValidator(_unique)]
Conditions = Annotated[tuple[Condition, ...], Field(min_length=1), AfterValidator(_unique)]
Texts = Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(_unique)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_grade_fits_recommendation(grade: str, recommendation: str) -> None:
    if grade == "evidence_against" and recommendation not in NEGATIVE_RECOMMENDATIONS:
        raise ValueError(
            f"evidence_grade 'evidence_against' needs a negative recommendation "
            f"({', '.join(sorted(NEGATIVE_RECOMMENDATIONS))}), not {recommendation!r}"
        )


# ---------------------------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------------------------


class Citation(_Frozen):
    """One source, as described in ``knowledge/citations/README.md``."""

    authors: Text
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    title: Text | None = None
    journal: Text
    volume: Text | None = None
    issue: Text | None = None
    pages: Text | None = None
    doi: Annotated[str, StringConstraints(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    pmid: Annotated[str, StringConstraints(pattern=r"^\d{1,9}$")] | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    verification: Verification
    note: Text | None = None


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

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_grade_fits_recommendation(self.evidence_grade, self.recommendation)
        if self.recommendation == "not_approved" and self.regulatory is None:
            raise ValueError("a 'not_approved' treatment needs 'regulatory' text")
        stray = sorted(set(self.by_condition) - set(self.conditions))
        if stray:
            raise ValueError(f"by_condition names conditions not listed in 'conditions': {stray}")
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
        statements: list[EvidenceStatement | Claim | ConditionVerdict] = [
            *self.evidence,
            *self.claims,
            *self.by_condition.values(),
        ]
        return frozenset(c for s in statements for c in s.citations)

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
        ]
        if problems:
            raise ValueError("; ".join(map(str, problems)))
        return self

    def cited_ids(self) -> Mapping[str, frozenset[str]]:
        """Citation ids by item path (``treatment.nsaids``, ``contraindication.myelopathy``)."""
        cited = {f"treatment.{k}": frozenset(t.citations) for k, t in self.treatments.items()}
        for key, item in self.contraindications.items():
            cited[f"contraindication.{key}"] = frozenset(item.citations)
        return MappingProxyType(cited)


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
# Parsing
# ---------------------------------------------------------------------------------------------


class KnowledgeFileError(KnowledgeError):
    """A knowledge file that breaks its rules. ``problems`` point at items (``treatment.x.y``)."""

    def __init__(self, file: str, problems: Iterable[Problem]):
        self.file = file
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{file}: {p}" for p in self.problems))


def _freeze(value: Any) -> Any:
    # TOML arrays arrive as lists; the strict models hold tuples.
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _problems_from(error: ValidationError, prefix: str) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        path = prefix + "".join(
            f".{part}" if isinstance(part, str) else f"[{part}]" for part in detail["loc"]
        )
        kind = detail["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing required key"
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(Problem(path.lstrip("."), message))
    return problems


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeFileError(source, [Problem("(file)", f"not valid TOML: {exc}")]) from exc


def _check_top_level(
    data: Mapping[str, Any], allowed: Set[str], required: Set[str]
) -> list[Problem]:
    problems = [Problem(key, "unknown key") for key in data if key not in allowed]
    problems += [Problem(key, "missing required key") for key in sorted(required - set(data))]
    return problems


_M = TypeVar("_M", Treatment, Contraindication, Exercise)


def _parse_items(
    data: Mapping[str, Any], table: str, model: type[_M], problems: list[Problem]
) -> dict[str, _M]:
    items: dict[str, _M] = {}
    tables = data.get(table, {})
    if not isinstance(tables, dict):
        problems.append(Problem(table, f"must be a table of [{table}.<id>] tables"))
        return items
    for key, raw in tables.items():
        prefix = f"{table}.{key}"
        if not isinstance(raw, dict):
            problems.append(Problem(prefix, "must be a table"))
            continue
        if "id" in raw:
            problems.append(Problem(f"{prefix}.id", "the id comes from the table name; remove it"))
            continue
        try:
            items[key] = model.model_validate(_freeze({"id": key, **raw}))
        except ValidationError as exc:
            problems.extend(_problems_from(exc, prefix))
    return items


def parse_treatments(text: str, *, source: str = TREATMENTS_FILE) -> TreatmentBase:
    """Parse and check a treatment knowledge base given as TOML text."""
    data = _parse_toml(text, source)
    problems = _check_top_level(
        data, {"version", "treatment", "contraindication"}, {"version", "treatment"}
    )
    contraindications = _parse_items(data, "contraindication", Contraindication, problems)
    treatments = _parse_items(data, "treatment", Treatment, problems)
    problems += _dangling_contraindications(treatments, set(contraindications))
    if problems:
        raise KnowledgeFileError(source, problems)
    try:
        return TreatmentBase.model_validate(
            {
                "version": data["version"],
                "treatments": treatments,
                "contraindications": contraindications,
            }
        )
    except ValidationError as exc:
        raise KnowledgeFileError(source, _problems_from(exc, "")) from exc


def parse_exercises(
    text: str, *, contraindication_ids: Set[str], source: str = EXERCISES_FILE
) -> ExerciseLibrary:
    """Parse and check an exercise library given as TOML text.

    ``contraindication_ids`` are the ids ``avoid_with`` and ``supervise_with`` may use besides
    condition codes (normally those of the treatment knowledge base).
    """
    data = _parse_toml(text, source)
    problems = _check_top_level(data, {"version", "exercise"}, {"version", "exercise"})
    exercises = _parse_items(data, "exercise", Exercise, problems)
    problems += _unknown_codes(exercises, contraindication_ids)
    problems += _broken_links(exercises)
    if problems:
        raise KnowledgeFileError(source, problems)
    try:
        return ExerciseLibrary.model_validate({"version": data["version"], "exercises": exercises})
    except ValidationError as exc:
        raise KnowledgeFileError(source, _problems_from(exc, "")) from exc


def parse_citations(text: str, *, source: str) -> dict[str, Citation]:
    """Parse one citations file (a table per source, keyed by its id)."""
    data = _parse_toml(text, source)
    problems: list[Problem] = []
    citations: dict[str, Citation] = {}
    for key, raw in data.items():
        if key == EXPERT_JUDGEMENT:
            problems.append(Problem(key, "reserved id: expert judgement is not a source"))
        elif not isinstance(raw, dict):
            problems.append(Problem(key, "must be a table"))
        else:
            try:
                citations[key] = Citation.model_validate(_freeze(raw))
            except ValidationError as exc:
                problems.extend(_problems_from(exc, key))
    if problems:
        raise KnowledgeFileError(source, problems)
    return citations


# ---------------------------------------------------------------------------------------------
# Loading package data
# ---------------------------------------------------------------------------------------------


def _knowledge_dir() -> Traversable:
    return files(KNOWLEDGE_PACKAGE)


def _read(resource: Traversable, name: str) -> str:
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KnowledgeFileError(name, [Problem("(file)", "not found")]) from exc


@functools.lru_cache(maxsize=1)
def load_treatments() -> TreatmentBase:
    """The treatment knowledge base shipped with spinecare (read once, then cached)."""
    return parse_treatments(_read(_knowledge_dir() / TREATMENTS_FILE, TREATMENTS_FILE))


@functools.lru_cache(maxsize=1)
def load_exercises() -> ExerciseLibrary:
    """The exercise library shipped with spinecare (read once, then cached)."""
    return parse_exercises(
        _read(_knowledge_dir() / EXERCISES_FILE, EXERCISES_FILE),
        contraindication_ids=set(load_treatments().contraindications),
    )


def load_citations(folder: Traversable | None = None) -> Mapping[str, Citation]:
    """Every source in every ``*.toml`` of ``folder`` (default: the packaged citations folder).

    Ids must be unique across files.
    """
    if folder is None:
        return _packaged_citations()
    return _load_citation_folder(folder)


@functools.lru_cache(maxsize=1)
def _packaged_citations() -> Mapping[str, Citation]:
    return _load_citation_folder(_knowledge_dir() / CITATIONS_DIR)


def _load_citation_folder(folder: Traversable) -> Mapping[str, Citation]:
    merged: dict[str, Citation] = {}
    origin: dict[str, str] = {}
    entries = sorted(
        (e for e in folder.iterdir() if e.is_file() and e.name.endswith(".toml")),
        key=lambda e: e.name,
    )
    for entry in entries:
        for key, citation in parse_citations(_read(entry, entry.name), source=entry.name).items():
            if key in merged:
                raise KnowledgeFileError(
                    entry.name, [Problem(key, f"id already defined in {origin[key]}")]
                )
            merged[key] = citation
            origin[key] = entry.name
    return MappingProxyType(merged)


# ---------------------------------------------------------------------------------------------
# Citation resolution
# ---------------------------------------------------------------------------------------------


def unresolved_citations(
    cited: Mapping[str, Iterable[str]], known: Set[str]
) -> dict[str, tuple[str, ...]]:
    """Per item path, the cited ids that are neither in ``known`` nor ``expert_judgement``."""
    missing = {
        item: tuple(sorted(set(ids) - known - {EXPERT_JUDGEMENT})) for item, ids in cited.items()
    }
    return {item: ids for item, ids in missing.items() if ids}


def verify_citations(
    known: Set[str],
    treatments: TreatmentBase | None = None,
    exercises: ExerciseLibrary | None = None,
) -> None:
    """Raise :class:`KnowledgeFileError` if any item cites an id that ``known`` lacks.

    Defaults to the packaged knowledge base and exercise library.
    """
    treatments = load_treatments() if treatments is None else treatments
    exercises = load_exercises() if exercises is None else exercises
    for source, cited in (
        (TREATMENTS_FILE, treatments.cited_ids()),
        (EXERCISES_FILE, exercises.cited_ids()),
    ):
        missing = unresolved_citations(cited, known)
        if missing:
            raise KnowledgeFileError(
                source,
                [
                    Problem(f"{item}.citations", f"unknown source {ref!r}")
                    for item, refs in missing.items()
                    for ref in refs
                ],
            )
