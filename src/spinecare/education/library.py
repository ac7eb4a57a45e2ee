"""Strict loading of the patient education library (``knowledge/education/``).

The articles are knowledge data, versioned apart from the software: ``index.toml`` holds the
library version, the writing standard and its sources, the glossary of medical terms and the
list of articles in reading order; every other ``*.toml`` file is one article. This module types
and checks that data and decides nothing clinical.

Loading is strict. An unknown key, a missing section, a treatment id that the treatment knowledge
lacks, a source that no citation file defines, or an article file that the index does not list
(or the reverse) is an error. Every problem is collected before raising, and each names the file
and the key (``lumbar_spinal_stenosis.toml: treatments.ids[2]: unknown treatment 'masage'``).

Grades and recommendations are not part of an article: an article names treatment ids only, and
:mod:`spinecare.education.render` takes the grade from the treatment knowledge.

Languages. English is the source language; a translation lives in ``<code>/`` beside the English
files (``es/lumbar_spinal_stenosis.toml``), with its own ``index.toml`` (name, standard,
glossary) and ``treatments.toml`` (the treatments' names and plain summaries in that language,
keyed by treatment id; grades stay in the treatment knowledge). A translated article must have
the same kind, condition, sections, treatment ids and sources as its English one. Where an
article or a treatment has no translation yet, the library falls back to English for that item
alone and says so (:attr:`EducationLibrary.fallbacks`, :attr:`EducationLibrary.
treatment_fallbacks`).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Annotated, Literal, Self, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from spinecare.education.languages import DEFAULT_LANGUAGE, LANGUAGES, Language
from spinecare.errors import KnowledgeError, Problem
from spinecare.kb import freeze, parse_toml, validation_problems
from spinecare.plan.knowledge import (
    CONDITIONS,
    EXPERT_JUDGEMENT,
    Citation,
    Condition,
    KnowledgeFileError,
    TreatmentBase,
    load_citations,
    load_treatments,
)

__all__ = [
    "ARTICLE_KINDS",
    "EDUCATION_DIR",
    "INDEX_FILE",
    "SECTION_HEADINGS",
    "SECTION_ORDER",
    "TREATMENT_WORDS_FILE",
    "Article",
    "ArticleKind",
    "EducationLibrary",
    "EducationLibraryError",
    "Section",
    "SectionName",
    "TreatmentSection",
    "TreatmentWords",
    "load_library",
    "parse_article",
    "parse_index",
    "uncovered_conditions",
]

EDUCATION_DIR = "education"
INDEX_FILE = "index.toml"
#: In a translation's folder: the treatments' names and plain summaries in that language.
TREATMENT_WORDS_FILE = "treatments.toml"

ArticleKind = Literal["condition", "topic"]
ARTICLE_KINDS: frozenset[str] = frozenset(get_args(ArticleKind))

SectionName = Literal[
    "urgent", "what_it_is", "causes", "symptoms", "tests", "treatments", "what_you_can_do"
]

#: Reading order of the sections. ``urgent`` moves to the end only in a topic article that
#: sets ``urgent_first = false`` (for example one about reading advertisements).
SECTION_ORDER: tuple[SectionName, ...] = get_args(SectionName)

#: The patient-facing heading of each section.
SECTION_HEADINGS: Mapping[str, str] = MappingProxyType(
    {
        "urgent": "When to get help at once",
        "what_it_is": "What it is",
        "causes": "Causes",
        "symptoms": "Symptoms",
        "tests": "Tests",
        "treatments": "Treatments",
        "what_you_can_do": "What you can do",
    }
)

#: Sections every article has; a condition article has all of them.
_ALWAYS: frozenset[str] = frozenset({"urgent", "what_it_is", "what_you_can_do"})

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(pattern=r"\S")]
Version = Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _unique(values: tuple[str, ...], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"repeated {what}: {', '.join(repeated)}")


class Section(_Frozen):
    """Paragraphs, then an optional list of points, in plain words."""

    paragraphs: Annotated[tuple[Text, ...], Field(min_length=1)]
    points: tuple[Text, ...] = ()

    def sentences_text(self) -> str:
        """The section as running text; a point without closing punctuation ends a sentence."""
        points = [p if p.rstrip()[-1] in ".!?" else f"{p.rstrip()}." for p in self.points]
        return " ".join([*self.paragraphs, *points])


class TreatmentSection(Section):
    """The treatments section: the article's own words plus treatment ids.

    The renderer adds each treatment's name, plain summary, evidence grade and recommendation
    from the treatment knowledge; ``for_condition`` picks the verdict when a treatment's grade
    differs by condition (it defaults to the article's condition).
    """

    ids: tuple[Id, ...] = ()
    for_condition: Condition | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        _unique(self.ids, "treatment ids")
        return self


class Article(_Frozen):
    """One patient education article."""

    id: Id
    #: The language the article is written in (from its folder, like its id from its name).
    language: Language = DEFAULT_LANGUAGE
    title: Text
    kind: ArticleKind
    condition: Condition | None = None
    summary: Text
    urgent_first: bool = True
    reviewed: datetime.date
    standard: Text
    sources: Annotated[tuple[Id, ...], Field(min_length=1)]
    urgent: Section
    what_it_is: Section
    causes: Section | None = None
    symptoms: Section | None = None
    tests: Section | None = None
    treatments: TreatmentSection | None = None
    what_you_can_do: Section

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique(self.sources, "sources")
        if EXPERT_JUDGEMENT in self.sources:
            raise ValueError("'expert_judgement' is not a source a patient can read")
        if self.kind == "condition":
            if self.condition is None:
                raise ValueError("a condition article needs 'condition'")
            missing = [s for s in SECTION_ORDER if getattr(self, s) is None]
            if missing:
                raise ValueError(f"a condition article needs every section; missing {missing}")
            if not self.urgent_first:
                raise ValueError("a condition article puts 'urgent' first")
        elif self.condition is not None:
            raise ValueError("only a condition article names a 'condition'")
        return self

    def sections(self) -> tuple[tuple[SectionName, Section], ...]:
        """The sections present, in reading order (``urgent`` first unless set otherwise)."""
        order = list(SECTION_ORDER)
        if not self.urgent_first:
            order.remove("urgent")
            order.append("urgent")
        found: list[tuple[SectionName, Section]] = []
        for name in order:
            section = getattr(self, name)
            if section is not None:
                found.append((name, section))
        return tuple(found)

    def reading_texts(self) -> tuple[tuple[str, str], ...]:
        """The summary and each section as running text, in reading order, by name."""
        sections = [(name, section.sentences_text()) for name, section in self.sections()]
        return (("summary", self.summary), *sections)

    def grading_condition(self) -> Condition | None:
        """The condition whose verdict the treatments section shows, if any."""
        if self.treatments is not None and self.treatments.for_condition is not None:
            return self.treatments.for_condition
        return self.condition


class TreatmentWords(_Frozen):
    """A treatment's name and plain summary in one language; never its grade."""

    name: Text
    patient_summary: Text


class _TreatmentWordsFile(_Frozen):
    treatment: Mapping[Id, TreatmentWords]


class TranslationIndex(_Frozen):
    """``<code>/index.toml``: a translation's language, name, standard and glossary.

    It has no version and no article list of its own: the articles and their order are those
    of the English index, and the library version covers every language.
    """

    language: Language
    name: Text
    standard: Text
    standard_sources: Annotated[tuple[Id, ...], Field(min_length=1)]
    glossary: Mapping[Text, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        _unique(self.standard_sources, "standard_sources")
        return self


class Index(_Frozen):
    """``index.toml``: the library's version, standard, glossary and articles in order."""

    version: Version
    name: Text
    standard: Text
    standard_sources: Annotated[tuple[Id, ...], Field(min_length=1)]
    articles: Annotated[tuple[Id, ...], Field(min_length=1)]
    glossary: Mapping[Text, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        _unique(self.articles, "articles")
        _unique(self.standard_sources, "standard_sources")
        return self


class EducationLibrary(_Frozen):
    """The loaded library: its index and the articles, keyed by id, in the index's order."""

    version: Version
    name: Text
    standard: Text
    standard_sources: tuple[Id, ...]
    glossary: Mapping[str, str]
    articles: Mapping[str, Article]
    #: The language asked for. An article in :attr:`fallbacks` is still in English.
    language: Language = DEFAULT_LANGUAGE
    #: Ids of the articles shown in English because this language has no translation yet.
    fallbacks: tuple[Id, ...] = ()
    #: The treatments' names and plain summaries in this language (empty for English).
    treatment_words: Mapping[str, TreatmentWords] = Field(default_factory=dict)
    #: Ids of the treatments whose words are shown in English for want of a translation.
    treatment_fallbacks: tuple[Id, ...] = ()

    def for_condition(self, condition: str) -> Article | None:
        """The article about one condition code, if the library has one."""
        return next((a for a in self.articles.values() if a.condition == condition), None)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


class EducationLibraryError(KnowledgeError):
    """Problems in one or more files of the library; ``errors`` holds one error per file."""

    def __init__(self, errors: Iterable[KnowledgeFileError]):
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def parse_index(text: str, *, source: str = INDEX_FILE) -> Index:
    """Parse and check ``index.toml`` given as TOML text."""
    data = parse_toml(text, source)
    try:
        return Index.model_validate(freeze(data))
    except ValidationError as exc:
        raise KnowledgeFileError.in_file(source, validation_problems(exc)) from exc


def parse_article(
    text: str,
    *,
    article_id: str,
    source: str | None = None,
    language: Language = DEFAULT_LANGUAGE,
) -> Article:
    """Parse and check one article given as TOML text; its id is its file name's stem and its
    language that of its folder."""
    source = source or f"{article_id}.toml"
    data = parse_toml(text, source)
    if "id" in data:
        raise KnowledgeFileError.in_file(
            source, [Problem("id", "the id comes from the file name; remove it")])
    if "language" in data:
        raise KnowledgeFileError.in_file(
            source, [Problem("language", "the language comes from the folder; remove it")])
    try:
        return Article.model_validate(
            freeze({"id": article_id, "language": language, **data}))
    except ValidationError as exc:
        raise KnowledgeFileError.in_file(source, validation_problems(exc)) from exc


def _cross_problems(
    article: Article, treatments: TreatmentBase, citations: Mapping[str, Citation]
) -> list[Problem]:
    problems = [
        Problem(f"sources[{i}]", f"unknown source {cid!r}")
        for i, cid in enumerate(article.sources)
        if cid not in citations
    ]
    if article.treatments is None:
        return problems
    condition = article.grading_condition()
    for i, tid in enumerate(article.treatments.ids):
        treatment = treatments.treatments.get(tid)
        if treatment is None:
            problems.append(Problem(f"treatments.ids[{i}]", f"unknown treatment {tid!r}"))
        elif condition is not None and condition not in treatment.conditions:
            problems.append(
                Problem(
                    f"treatments.ids[{i}]",
                    f"treatment {tid!r} has no verdict for {condition!r}",
                )
            )
    return problems


def _entries(folder: Traversable) -> dict[str, Traversable]:
    return {
        e.name.removesuffix(".toml"): e
        for e in folder.iterdir()
        if e.is_file() and e.name.endswith(".toml") and e.name != INDEX_FILE
    }


def _read(resource: Traversable, name: str) -> str:
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KnowledgeFileError.in_file(name, [Problem("(file)", "not found")]) from exc


def load_library(
    folder: Traversable | None = None,
    *,
    treatments: TreatmentBase | None = None,
    citations: Mapping[str, Citation] | None = None,
    language: Language = DEFAULT_LANGUAGE,
) -> EducationLibrary:
    """Load and cross-check the education library in ``folder`` (default: the packaged one).

    ``treatments`` and ``citations`` default to the packaged treatment knowledge and sources.
    ``language`` picks a translation (``"es"``); the English library is loaded and checked
    too, since each translated article is checked against its English one and an article not
    yet translated falls back to it. Raises :class:`EducationLibraryError` with every problem
    of every file, each naming the file and the key; a problem between files (listing,
    coverage) names ``index.toml`` (``es/index.toml`` for a translation).
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; the library has {', '.join(LANGUAGES)}")
    if folder is None and treatments is None and citations is None:
        return _packaged_library(language)
    folder = folder if folder is not None else files("spinecare.knowledge") / EDUCATION_DIR
    treatments = load_treatments() if treatments is None else treatments
    citations = load_citations() if citations is None else citations
    english = _load_english(folder, treatments, citations)
    if language == DEFAULT_LANGUAGE:
        return english
    return _load_translation(english, folder, language, treatments, citations)


def _load_english(
    folder: Traversable, treatments: TreatmentBase, citations: Mapping[str, Citation]
) -> EducationLibrary:
    try:
        index = parse_index(_read(folder / INDEX_FILE, INDEX_FILE))
    except KnowledgeFileError as exc:
        raise EducationLibraryError([exc]) from exc
    entries = _entries(folder)
    index_problems = [
        Problem(f"articles[{i}]", f"no file {name}.toml")
        for i, name in enumerate(index.articles)
        if name not in entries
    ]
    index_problems += [
        Problem("articles", f"{name}.toml is not listed")
        for name in sorted(entries)
        if name not in index.articles
    ]
    index_problems += [
        Problem(f"standard_sources[{i}]", f"unknown source {cid!r}")
        for i, cid in enumerate(index.standard_sources)
        if cid not in citations
    ]
    errors: list[KnowledgeFileError] = []
    articles: dict[str, Article] = {}
    for name in sorted(entries, key=lambda n: (n not in index.articles, n)):
        source = f"{name}.toml"
        try:
            article = parse_article(_read(entries[name], source), article_id=name, source=source)
        except KnowledgeFileError as exc:
            errors.append(exc)
            continue
        problems = _cross_problems(article, treatments, citations)
        if problems:
            errors.append(KnowledgeFileError.in_file(source, problems))
        elif name in index.articles:
            articles[name] = article
    articles = {name: articles[name] for name in index.articles if name in articles}
    covered: dict[str, str] = {}
    for article in articles.values():
        if article.condition is None:
            continue
        if article.condition in covered:
            index_problems.append(
                Problem(
                    "articles",
                    f"{article.id} and {covered[article.condition]} both cover "
                    f"{article.condition!r}",
                )
            )
        covered[article.condition] = article.id
    if index_problems:
        errors.insert(0, KnowledgeFileError.in_file(INDEX_FILE, index_problems))
    if errors:
        raise EducationLibraryError(errors)
    return EducationLibrary(
        version=index.version,
        name=index.name,
        standard=index.standard,
        standard_sources=index.standard_sources,
        glossary=MappingProxyType(dict(index.glossary)),
        articles=MappingProxyType(articles),
    )


def _shape_problems(english: Article, translated: Article) -> list[Problem]:
    """Where a translation departs from its English article in anything but its words."""
    problems = [
        Problem(key, f"is {getattr(translated, key)!r}; the English article has "
                     f"{getattr(english, key)!r}")
        for key in ("kind", "condition", "urgent_first", "sources")
        if getattr(translated, key) != getattr(english, key)
    ]
    names = [name for name, _ in translated.sections()]
    expected = [name for name, _ in english.sections()]
    if names != expected:
        problems.append(
            Problem("(sections)", f"has {names}; the English article has {expected}"))
    if english.treatments is not None and translated.treatments is not None:
        for key in ("ids", "for_condition"):
            mine, theirs = getattr(translated.treatments, key), getattr(english.treatments, key)
            if mine != theirs:
                problems.append(Problem(
                    f"treatments.{key}", f"is {mine!r}; the English article has {theirs!r}"))
    return problems


def _load_translation(
    english: EducationLibrary,
    folder: Traversable,
    language: Language,
    treatments: TreatmentBase,
    citations: Mapping[str, Citation],
) -> EducationLibrary:
    subfolder = folder / language
    index_name = f"{language}/{INDEX_FILE}"
    errors: list[KnowledgeFileError] = []
    try:
        index = _parse_model(
            TranslationIndex, _read(subfolder / INDEX_FILE, index_name), index_name)
    except KnowledgeFileError as exc:
        raise EducationLibraryError([exc]) from exc
    index_problems = []
    if index.language != language:
        index_problems.append(
            Problem("language", f"is {index.language!r} in the folder {language}/"))
    index_problems += [
        Problem(f"standard_sources[{i}]", f"unknown source {cid!r}")
        for i, cid in enumerate(index.standard_sources)
        if cid not in citations
    ]
    entries = {
        name: entry
        for name, entry in _entries(subfolder).items()
        if f"{name}.toml" != TREATMENT_WORDS_FILE
    }
    index_problems += [
        Problem("articles", f"{name}.toml translates no article of the English index")
        for name in sorted(entries)
        if name not in english.articles
    ]
    articles: dict[str, Article] = {}
    fallbacks: list[str] = []
    for name, original in english.articles.items():
        if name not in entries:
            fallbacks.append(name)
            articles[name] = original
            continue
        source = f"{language}/{name}.toml"
        try:
            article = parse_article(
                _read(entries[name], source), article_id=name, source=source, language=language)
        except KnowledgeFileError as exc:
            errors.append(exc)
            continue
        problems = _cross_problems(article, treatments, citations)
        problems += _shape_problems(original, article)
        if problems:
            errors.append(KnowledgeFileError.in_file(source, problems))
        articles[name] = article
    words, words_errors = _load_treatment_words(subfolder, language, treatments)
    errors += words_errors
    if index_problems:
        errors.insert(0, KnowledgeFileError.in_file(index_name, index_problems))
    if errors:
        raise EducationLibraryError(errors)
    return EducationLibrary(
        version=english.version,
        name=index.name,
        standard=index.standard,
        standard_sources=index.standard_sources,
        glossary=MappingProxyType(dict(index.glossary)),
        articles=MappingProxyType(articles),
        language=language,
        fallbacks=tuple(fallbacks),
        treatment_words=MappingProxyType(words),
        treatment_fallbacks=tuple(t for t in treatments.treatments if t not in words),
    )


def _load_treatment_words(
    subfolder: Traversable, language: str, treatments: TreatmentBase
) -> tuple[dict[str, TreatmentWords], list[KnowledgeFileError]]:
    source = f"{language}/{TREATMENT_WORDS_FILE}"
    resource = subfolder / TREATMENT_WORDS_FILE
    if not resource.is_file():
        return {}, []
    try:
        parsed = _parse_model(_TreatmentWordsFile, _read(resource, source), source)
    except KnowledgeFileError as exc:
        return {}, [exc]
    unknown = [
        Problem(f"treatment.{tid}", f"unknown treatment {tid!r}")
        for tid in parsed.treatment
        if tid not in treatments.treatments
    ]
    if unknown:
        return {}, [KnowledgeFileError.in_file(source, unknown)]
    return dict(parsed.treatment), []


_M = TypeVar("_M", bound=BaseModel)


def _parse_model(model: type[_M], text: str, source: str) -> _M:
    data = parse_toml(text, source)
    try:
        return model.model_validate(freeze(data))
    except ValidationError as exc:
        raise KnowledgeFileError.in_file(source, validation_problems(exc)) from exc


@functools.lru_cache(maxsize=len(LANGUAGES))
def _packaged_library(language: Language = DEFAULT_LANGUAGE) -> EducationLibrary:
    return load_library(
        files("spinecare.knowledge") / EDUCATION_DIR,
        treatments=load_treatments(),
        citations=load_citations(),
        language=language,
    )


def uncovered_conditions(library: EducationLibrary) -> tuple[str, ...]:
    """Condition codes of the differential that no article covers."""
    covered = {a.condition for a in library.articles.values()}
    return tuple(sorted(CONDITIONS - covered))
