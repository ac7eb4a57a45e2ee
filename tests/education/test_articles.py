"""Contract tests: one check over every article of the education library.

Each test is parametrised over the article files on disk, so a new article cannot skip any of
them: reading level per section, sentence length, sources, review date, urgent-care advice,
wording, medical terms, and the treatment ids it names.
"""

from __future__ import annotations

import datetime
import re

import pytest

from spinecare.education import LIMITS, load_library, measure, reading_problems
from spinecare.education.library import Article, EducationLibrary
from spinecare.education.wording import (
    absolute_claims,
    diagnosis_phrases,
    restated_grades,
    unexplained_terms,
)
from spinecare.plan.knowledge import load_citations, load_treatments
from tests.education.conftest import ARTICLE_IDS

LIBRARY: EducationLibrary = load_library()


def _article(article_id: str) -> Article:
    assert article_id in LIBRARY.articles, f"{article_id}.toml is not listed in index.toml"
    return LIBRARY.articles[article_id]


def section_reading_problems(article: Article) -> list[str]:
    """Every reading-level problem of every section of ``article``, named by section."""
    return [
        f"{article.id}: {name}: {problem}"
        for name, text in article.reading_texts()
        for problem in reading_problems(text)
    ]


def test_there_are_articles_to_check() -> None:
    # Guards the parametrised tests below against passing because they found no files.
    assert len(ARTICLE_IDS) >= 17


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_every_section_reads_at_flesch_kincaid_grade_8_or_lower(article_id: str) -> None:
    article = _article(article_id)
    grades = {name: measure(text).grade for name, text in article.reading_texts()}
    assert {n: g for n, g in grades.items() if g > LIMITS.max_grade} == {}


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_no_sentence_is_longer_than_25_words(article_id: str) -> None:
    article = _article(article_id)
    longest = {
        name: measure(text).longest_sentence_words for name, text in article.reading_texts()
    }
    assert max(longest.values()) <= LIMITS.max_sentence_words, longest


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_every_section_meets_every_reading_limit(article_id: str) -> None:
    assert section_reading_problems(_article(article_id)) == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_every_source_resolves_to_a_citation(article_id: str) -> None:
    known = load_citations()
    article = _article(article_id)
    assert article.sources
    assert [cid for cid in article.sources if cid not in known] == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_has_a_review_date_that_is_not_in_the_future_or_stale(article_id: str) -> None:
    article = _article(article_id)
    today = datetime.date.today()
    assert article.reviewed <= today
    # A three-year review cycle (design choice): an article older than that fails until reviewed.
    assert (today - article.reviewed).days <= 3 * 366, "review the article"
    assert "Flesch-Kincaid" in article.standard


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_says_when_to_seek_urgent_care(article_id: str) -> None:
    article = _article(article_id)
    urgent = article.urgent.sentences_text().lower()
    assert re.search(r"emergency department|999|same day|at once", urgent), urgent
    names = [name for name, _ in article.sections()]
    if article.kind == "condition" or article.urgent_first:
        assert names[0] == "urgent"
    else:
        assert names[-1] == "urgent"


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_never_tells_the_reader_what_they_have(article_id: str) -> None:
    text = " ".join(t for _, t in _article(article_id).reading_texts())
    assert diagnosis_phrases(text) == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_the_summary_speaks_of_what_may_be_not_what_is(article_id: str) -> None:
    summary = _article(article_id).summary
    assert re.search(r"\b(?:may|possible|possibly|might)\b", summary, re.IGNORECASE), summary


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_makes_no_absolute_claims(article_id: str) -> None:
    text = " ".join(t for _, t in _article(article_id).reading_texts())
    assert absolute_claims(text) == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_does_not_restate_an_evidence_grade_by_hand(article_id: str) -> None:
    text = " ".join(t for _, t in _article(article_id).reading_texts())
    assert restated_grades(text) == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_explains_medical_terms_on_first_use(article_id: str) -> None:
    texts = [t for _, t in _article(article_id).reading_texts()]
    assert unexplained_terms(texts, LIBRARY.glossary) == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_every_treatment_id_it_names_exists(article_id: str) -> None:
    article = _article(article_id)
    ids = article.treatments.ids if article.treatments else ()
    assert [t for t in ids if t not in load_treatments().treatments] == []


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_a_condition_article_has_every_section(article_id: str) -> None:
    article = _article(article_id)
    if article.kind != "condition":
        pytest.skip("topic articles carry the sections that fit them")
    assert [name for name, _ in article.sections()] == [
        "urgent", "what_it_is", "causes", "symptoms", "tests", "treatments", "what_you_can_do"
    ]
