"""The library as a whole: index against files, coverage of the differential, citations."""

from __future__ import annotations

import json
import tomllib
from importlib.resources import files

import pytest

from spinecare.education import load_library, uncovered_conditions
from spinecare.education.languages import LANGUAGES
from spinecare.plan.knowledge import CONDITIONS, load_citations, load_treatments
from spinecare.reasoning.knowledge import load_citations as load_reasoning_citations
from tests.education.conftest import ARTICLE_IDS, EDUCATION_DIR, KNOWLEDGE_DIR

LIBRARY = load_library()
LIBRARIES = {language: load_library(language=language) for language in LANGUAGES}


def test_every_article_file_is_listed_in_the_index_and_every_listed_file_exists() -> None:
    index = tomllib.loads((EDUCATION_DIR / "index.toml").read_text())
    assert sorted(index["articles"]) == ARTICLE_IDS
    assert list(LIBRARY.articles) == index["articles"]


def test_every_condition_code_of_the_differential_has_an_article() -> None:
    assert uncovered_conditions(LIBRARY) == ()


def test_the_condition_codes_agree_across_conditions_toml_the_schema_and_the_treatment_model() -> (
    None
):
    conditions_toml = tomllib.loads((KNOWLEDGE_DIR / "conditions.toml").read_text())
    schema = json.loads(
        (files("spinecare") / "schemas" / "assessment.schema.json").read_text(encoding="utf-8")
    )
    enums = _enums(schema)
    assert set(conditions_toml["condition"]) == set(CONDITIONS)
    assert any(set(e) == set(CONDITIONS) for e in enums), "schema enum of condition codes"
    covered = {a.condition for a in LIBRARY.articles.values() if a.condition}
    assert covered == set(conditions_toml["condition"])


def _enums(node: object) -> list[list[str]]:
    found: list[list[str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            found.append(node["enum"])
        for value in node.values():
            found += _enums(value)
    elif isinstance(node, list):
        for value in node:
            found += _enums(value)
    return found


def test_every_treatment_in_the_treatment_knowledge_is_named_by_some_article() -> None:
    named = {t for a in LIBRARY.articles.values() if a.treatments for t in a.treatments.ids}
    assert sorted(set(load_treatments().treatments) - named) == []


def test_the_four_topic_articles_are_there() -> None:
    topics = {a.id for a in LIBRARY.articles.values() if a.kind == "topic"}
    assert topics == {
        "how_stenosis_is_diagnosed",
        "back_pain_from_the_neck",
        "living_with_stenosis",
        "judging_treatment_claims",
    }


def test_the_standard_cites_sources_that_resolve() -> None:
    known = load_citations()
    assert all(cid in known for cid in LIBRARY.standard_sources)


@pytest.mark.parametrize("file", ["education.toml", "education_es.toml"])
def test_every_education_citation_is_cited_by_the_library_and_loads_in_both_loaders(
    file: str,
) -> None:
    path = KNOWLEDGE_DIR / "citations" / file
    ids = set(tomllib.loads(path.read_text()))
    cited = {
        cid
        for library in LIBRARIES.values()
        for cid in (*library.standard_sources,
                    *(c for a in library.articles.values() for c in a.sources))
    }
    assert ids - cited == set()
    # The assessment's loader reads the same folder; it must accept the new file too.
    reasoning = load_reasoning_citations(files("spinecare.knowledge") / "citations")
    assert ids <= set(reasoning)
    assert ids <= set(load_citations())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_glossary_term_is_used_somewhere(language: str) -> None:
    library = LIBRARIES[language]
    text = " ".join(t for a in library.articles.values() for _, t in a.reading_texts()).lower()
    assert library.glossary
    assert [term for term in library.glossary if term.lower() not in text] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_standard_of_every_language_cites_sources_that_resolve(language: str) -> None:
    known = load_citations()
    assert [c for c in LIBRARIES[language].standard_sources if c not in known] == []
