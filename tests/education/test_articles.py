"""Contract tests: one check over every article of the education library, in every language.

Each test is parametrised over the article files on disk in every language's folder, so a new
article or a new language cannot skip any of them: reading level per section (by the language's
own formula), sentence length, sources, review date, urgent-care advice, wording, medical terms,
and the treatment ids it names.
"""

from __future__ import annotations

import datetime

import pytest

from spinecare.education import load_library, measure, reading_problems
from spinecare.education.languages import LANGUAGES
from spinecare.education.library import Article, EducationLibrary
from spinecare.education.readability import LIMITS_BY_LANGUAGE
from spinecare.education.wording import (
    RULES,
    absolute_claims,
    diagnosis_phrases,
    mentions_urgent_care,
    restated_grades,
    speaks_of_possibility,
    unexplained_terms,
)
from spinecare.plan.knowledge import load_citations, load_treatments
from tests.education.conftest import ARTICLE_IDS, LANGUAGE_ARTICLES

LIBRARY: EducationLibrary = load_library()
LIBRARIES: dict[str, EducationLibrary] = {lang: load_library(language=lang) for lang in LANGUAGES}

#: The reading formula each language's articles must name in their standard.
FORMULA = {"en": "Flesch-Kincaid", "es": "Fernández Huerta"}


def _article(language: str, article_id: str) -> Article:
    library = LIBRARIES[language]
    assert article_id in library.articles, f"{article_id}.toml is not listed in index.toml"
    article = library.articles[article_id]
    # A file on disk that the loader did not use would leave the check below testing English.
    assert article.language == language, f"{language}/{article_id}.toml was not loaded"
    return article


def section_reading_problems(article: Article) -> list[str]:
    """Every reading-level problem of every section of ``article``, named by section, measured
    by the formula of the article's language."""
    return [
        f"{article.id}: {name}: {problem}"
        for name, text in article.reading_texts()
        for problem in reading_problems(text, language=article.language)
    ]


def test_there_are_articles_to_check() -> None:
    # Guards the parametrised tests below against passing because they found no files.
    assert len(ARTICLE_IDS) >= 17
    assert len(LANGUAGE_ARTICLES) == len(ARTICLE_IDS) * len(LANGUAGES)


def test_every_language_has_a_formula_limits_and_wording_rules() -> None:
    assert set(FORMULA) == set(LANGUAGES) == set(LIMITS_BY_LANGUAGE) == set(RULES)


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_every_section_reads_at_grade_8_or_lower_by_its_languages_formula(
    language: str, article_id: str
) -> None:
    # English: Flesch-Kincaid grade; Spanish: the grade band of the Fernández Huerta score.
    article = _article(language, article_id)
    grades = {name: measure(text, language).grade for name, text in article.reading_texts()}
    limit = LIMITS_BY_LANGUAGE[language].max_grade
    assert {n: g for n, g in grades.items() if g > limit} == {}


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_no_sentence_is_longer_than_25_words(language: str, article_id: str) -> None:
    article = _article(language, article_id)
    longest = {
        name: measure(text, language).longest_sentence_words
        for name, text in article.reading_texts()
    }
    assert max(longest.values()) <= LIMITS_BY_LANGUAGE[language].max_sentence_words, longest


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_every_section_meets_every_reading_limit(language: str, article_id: str) -> None:
    assert section_reading_problems(_article(language, article_id)) == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_every_source_resolves_to_a_citation(language: str, article_id: str) -> None:
    known = load_citations()
    article = _article(language, article_id)
    assert article.sources
    assert [cid for cid in article.sources if cid not in known] == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_has_a_review_date_that_is_not_in_the_future_or_stale(
    language: str, article_id: str
) -> None:
    article = _article(language, article_id)
    today = datetime.date.today()
    assert article.reviewed <= today
    # A three-year review cycle (design choice): an article older than that fails until reviewed.
    assert (today - article.reviewed).days <= 3 * 366, "review the article"
    assert FORMULA[language] in article.standard


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_says_when_to_seek_urgent_care(language: str, article_id: str) -> None:
    article = _article(language, article_id)
    urgent = article.urgent.sentences_text()
    assert mentions_urgent_care(urgent, language), urgent
    names = [name for name, _ in article.sections()]
    if article.kind == "condition" or article.urgent_first:
        assert names[0] == "urgent"
    else:
        assert names[-1] == "urgent"


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_never_tells_the_reader_what_they_have(language: str, article_id: str) -> None:
    text = " ".join(t for _, t in _article(language, article_id).reading_texts())
    assert diagnosis_phrases(text, language) == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_the_summary_speaks_of_what_may_be_not_what_is(language: str, article_id: str) -> None:
    summary = _article(language, article_id).summary
    assert speaks_of_possibility(summary, language), summary


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_makes_no_absolute_claims(language: str, article_id: str) -> None:
    text = " ".join(t for _, t in _article(language, article_id).reading_texts())
    assert absolute_claims(text, language) == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_does_not_restate_an_evidence_grade_by_hand(language: str, article_id: str) -> None:
    text = " ".join(t for _, t in _article(language, article_id).reading_texts())
    assert restated_grades(text, language) == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_explains_medical_terms_on_first_use(language: str, article_id: str) -> None:
    texts = [t for _, t in _article(language, article_id).reading_texts()]
    assert unexplained_terms(texts, LIBRARIES[language].glossary, language) == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_every_treatment_id_it_names_exists(language: str, article_id: str) -> None:
    article = _article(language, article_id)
    ids = article.treatments.ids if article.treatments else ()
    assert [t for t in ids if t not in load_treatments().treatments] == []


@pytest.mark.parametrize(("language", "article_id"), LANGUAGE_ARTICLES)
def test_a_condition_article_has_every_section(language: str, article_id: str) -> None:
    article = _article(language, article_id)
    if article.kind != "condition":
        pytest.skip("topic articles carry the sections that fit them")
    assert [name for name, _ in article.sections()] == [
        "urgent", "what_it_is", "causes", "symptoms", "tests", "treatments", "what_you_can_do"
    ]
