"""The library in every language: complete, faithful in shape to English, and rendered with the
same grades.

Each translated article must carry the English article's clinical structure (sections, treatment
ids, sources, condition) and only its words may differ; that is read here from the TOML files
themselves, not through the loader that also checks it. Translated treatment words are patient
text too, so they meet the same reading limits and wording rules as the articles.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from spinecare.education import (
    EducationLibraryError,
    load_library,
    parse_article,
    reading_problems,
    render_article,
    render_text,
)
from spinecare.education.languages import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS
from spinecare.education.render import (
    GRADE_WORDS_BY_LANGUAGE,
    RECOMMENDATION_WORDS_BY_LANGUAGE,
    SECTION_HEADINGS_BY_LANGUAGE,
    TEXT_LABELS,
)
from spinecare.education.wording import (
    absolute_claims,
    diagnosis_phrases,
    speaks_of_possibility,
)
from spinecare.plan.evidence import evidence_for
from spinecare.plan.knowledge import (
    EVIDENCE_GRADES,
    RECOMMENDATIONS,
    KnowledgeFileError,
    load_treatments,
)
from tests.conftest import broken_copy
from tests.education.conftest import ARTICLE_IDS, EDUCATION_DIR, article_ids, language_dir

ENGLISH = load_library()
TREATMENTS = load_treatments()
SECTIONS = ("urgent", "what_it_is", "causes", "symptoms", "tests", "treatments", "what_you_can_do")


def _raw(language: str, article_id: str) -> dict[str, Any]:
    return tomllib.loads((language_dir(language) / f"{article_id}.toml").read_text())


def _raw_words(language: str) -> dict[str, Any]:
    path = language_dir(language) / "treatments.toml"
    return tomllib.loads(path.read_text())["treatment"]


def _treatments(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for s in doc["sections"] for t in s.get("treatments", ())]


TRANSLATED = [
    pytest.param(language, aid, id=f"{language}-{aid}")
    for language in TRANSLATIONS
    for aid in ARTICLE_IDS
]
TRANSLATED_TREATMENTS = [
    pytest.param(language, tid, id=f"{language}-{tid}")
    for language in TRANSLATIONS
    for tid in sorted(TREATMENTS.treatments)
]


def test_every_language_folder_on_disk_is_a_language_of_the_library_and_back() -> None:
    folders = {p.name for p in EDUCATION_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(TRANSLATIONS)
    assert DEFAULT_LANGUAGE == LANGUAGES[0] == "en"


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_the_library_is_complete_in_every_language_with_no_english_fallback(
    language: str,
) -> None:
    library = load_library(language=language)
    assert article_ids(language) == ARTICLE_IDS
    assert library.fallbacks == ()
    assert library.treatment_fallbacks == ()
    assert sorted(_raw_words(language)) == sorted(TREATMENTS.treatments)
    assert all(a.language == language for a in library.articles.values())
    # One version covers every language; the order of the articles is the English one.
    assert library.version == ENGLISH.version
    assert list(library.articles) == list(ENGLISH.articles)


@pytest.mark.parametrize(("language", "article_id"), TRANSLATED)
def test_a_translation_has_the_sections_treatments_and_sources_of_its_english_article(
    language: str, article_id: str
) -> None:
    english, translated = _raw(DEFAULT_LANGUAGE, article_id), _raw(language, article_id)
    assert [s for s in SECTIONS if s in translated] == [s for s in SECTIONS if s in english]
    for key in ("kind", "condition", "urgent_first", "sources"):
        assert translated.get(key) == english.get(key), key
    for key in ("ids", "for_condition"):
        assert translated.get("treatments", {}).get(key) == english.get("treatments", {}).get(
            key
        ), key
    # Paragraph for paragraph and point for point, so no advice can go missing in translation.
    for section in SECTIONS:
        if section in english:
            for part in ("paragraphs", "points"):
                assert len(translated[section].get(part, [])) == len(
                    english[section].get(part, [])
                ), (section, part)


@pytest.mark.parametrize(("language", "article_id"), TRANSLATED)
def test_a_translated_article_shows_the_same_grades_as_the_english_one(
    language: str, article_id: str
) -> None:
    library = load_library(language=language)
    theirs = _treatments(render_article(ENGLISH.articles[article_id], ENGLISH))
    mine = _treatments(render_article(library.articles[article_id], library))
    verdict = ("id", "evidence_grade", "recommendation", "conditions")
    assert [{k: t[k] for k in verdict} for t in mine] == [
        {k: t[k] for k in verdict} for t in theirs
    ]
    words = _raw_words(language)
    for t in mine:
        assert t["name"] == words[t["id"]]["name"]
        assert t["summary"] == words[t["id"]]["patient_summary"]
        assert t["evidence_words"] == GRADE_WORDS_BY_LANGUAGE[language][t["evidence_grade"]]


@pytest.mark.parametrize(("language", "article_id"), TRANSLATED)
def test_translated_grades_equal_spinecare_evidence_for_the_same_condition(
    language: str, article_id: str
) -> None:
    library = load_library(language=language)
    for t in _treatments(render_article(library.articles[article_id], library)):
        verdicts = {v["condition"]: v for v in evidence_for(t["id"])["verdicts"]}
        for condition in t["conditions"]:
            v = verdicts[condition]
            assert (v["evidence_grade"], v["recommendation"]) == (
                t["evidence_grade"], t["recommendation"]), (t["id"], condition)


@pytest.mark.parametrize(("language", "article_id"), TRANSLATED)
def test_the_text_form_uses_the_languages_headings_and_labels(
    language: str, article_id: str
) -> None:
    library = load_library(language=language)
    article = library.articles[article_id]
    doc = render_article(article, library)
    assert doc["language"] == language
    text = render_text(doc)
    headings = [SECTION_HEADINGS_BY_LANGUAGE[language][n].upper() for n, _ in article.sections()]
    positions = [text.index(f"\n{h}\n") for h in headings]
    assert positions == sorted(positions)
    assert text.rstrip().endswith(TEXT_LABELS[language]["not_a_diagnosis"])
    assert f"\n{TEXT_LABELS[language]['sources']}\n" in text


def test_words_exist_for_every_grade_recommendation_heading_and_label_in_every_language() -> None:
    for language in LANGUAGES:
        assert set(GRADE_WORDS_BY_LANGUAGE[language]) == EVIDENCE_GRADES
        assert set(RECOMMENDATION_WORDS_BY_LANGUAGE[language]) == RECOMMENDATIONS
        assert set(SECTION_HEADINGS_BY_LANGUAGE[language]) == set(SECTIONS)
        assert set(TEXT_LABELS[language]) == set(TEXT_LABELS[DEFAULT_LANGUAGE])


@pytest.mark.parametrize(("language", "treatment_id"), TRANSLATED_TREATMENTS)
def test_every_translated_treatment_summary_meets_the_reading_limits(
    language: str, treatment_id: str
) -> None:
    summary = _raw_words(language)[treatment_id]["patient_summary"]
    assert reading_problems(summary, language=language) == []


@pytest.mark.parametrize(("language", "treatment_id"), TRANSLATED_TREATMENTS)
def test_every_translated_treatment_summary_speaks_of_what_may_be_and_promises_nothing(
    language: str, treatment_id: str
) -> None:
    summary = _raw_words(language)[treatment_id]["patient_summary"]
    assert speaks_of_possibility(summary, language), summary
    assert absolute_claims(summary, language) == []
    assert diagnosis_phrases(summary, language) == []


# ---------------------------------------------------------------------------------------------
# What the loader does with an incomplete or unfaithful translation
# ---------------------------------------------------------------------------------------------


def _copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return broken_copy(EDUCATION_DIR, tmp_path / "education", file, old, new)


def _problems(folder: Path, language: str = "es") -> str:
    with pytest.raises(EducationLibraryError) as err:
        load_library(folder, language=language)  # type: ignore[arg-type]
    return str(err.value)


def test_an_article_not_yet_translated_falls_back_to_english_and_is_reported(
    tmp_path: Path,
) -> None:
    folder = _copy(tmp_path, "index.toml", 'name = "', 'name = "')
    (folder / "es" / "spinal_infection.toml").unlink()
    library = load_library(folder, language="es")
    assert library.fallbacks == ("spinal_infection",)
    article = library.articles["spinal_infection"]
    assert article.language == "en" and article == ENGLISH.articles["spinal_infection"]
    doc = render_article(article, library)
    assert doc["language"] == "en"
    assert doc["sections"][0]["heading"] == "When to get help at once"
    assert library.articles["lumbar_spinal_stenosis"].language == "es"


def test_a_treatment_not_yet_translated_keeps_its_english_words_and_is_reported(
    tmp_path: Path,
) -> None:
    words = (EDUCATION_DIR / "es" / "treatments.toml").read_text()
    start = words.index("[treatment.massage]")
    end = words.index("[treatment.", start + 1)
    folder = _copy(tmp_path, "es/treatments.toml", words[start:end], "")
    library = load_library(folder, language="es")
    assert library.treatment_fallbacks == ("massage",)
    doc = render_article(library.articles["nonspecific_low_back_pain"], library)
    massage = next(t for t in _treatments(doc) if t["id"] == "massage")
    assert massage["name"] == TREATMENTS.treatments["massage"].name
    assert massage["evidence_words"] == GRADE_WORDS_BY_LANGUAGE["es"][massage["evidence_grade"]]


def test_a_translation_with_other_treatment_ids_is_refused_naming_file_and_key(
    tmp_path: Path,
) -> None:
    folder = _copy(tmp_path, "es/cervical_radiculopathy.toml",
                   '"education_self_management", ', "")
    assert (
        "es/cervical_radiculopathy.toml: treatments.ids: is ('cervical_collar',); the English "
        "article has ('education_self_management', 'cervical_collar')" in _problems(folder)
    )


def test_a_translation_with_other_sources_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "es/spinal_infection.toml", ', "darouiche2006"', "")
    assert "es/spinal_infection.toml: sources: is ('berbari2015_idsa',)" in _problems(folder)


def test_a_translation_missing_a_section_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "es/how_stenosis_is_diagnosed.toml", "[symptoms]", "[notes]")
    problems = _problems(folder)
    assert "es/how_stenosis_is_diagnosed.toml: notes: unknown key" in problems


def test_a_translation_dropping_an_optional_section_is_refused_by_the_shape_check(
    tmp_path: Path,
) -> None:
    text = (EDUCATION_DIR / "es" / "how_stenosis_is_diagnosed.toml").read_text()
    start, end = text.index("[symptoms]"), text.index("[tests]")
    folder = _copy(tmp_path, "es/how_stenosis_is_diagnosed.toml", text[start:end], "")
    assert "es/how_stenosis_is_diagnosed.toml: (sections): has ['urgent', 'what_it_is', " \
        "'tests', 'what_you_can_do']" in _problems(folder)


def test_a_file_that_translates_no_english_article_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "index.toml", 'name = "', 'name = "')
    (folder / "es" / "stray.toml").write_text('title = "x"')
    assert "es/index.toml: articles: stray.toml translates no article of the English index" in (
        _problems(folder)
    )


def test_treatment_words_for_an_unknown_treatment_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "es/treatments.toml", "[treatment.massage]", "[treatment.masage]")
    assert "es/treatments.toml: treatment.masage: unknown treatment 'masage'" in _problems(folder)


def test_treatment_words_cannot_carry_a_grade(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "es/treatments.toml", 'name = "Masaje"',
                   'name = "Masaje"\nevidence_grade = "high"')
    assert "es/treatments.toml: treatment.massage.evidence_grade: unknown key" in (
        _problems(folder)
    )


def test_a_translation_index_must_name_its_own_language(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "es/index.toml", 'language = "es"', 'language = "en"')
    assert "es/index.toml: language: is 'en' in the folder es/" in _problems(folder)


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'; the library has en, es"):
        load_library(language="fr")  # type: ignore[arg-type]


def test_a_language_key_in_an_article_is_refused() -> None:
    with pytest.raises(KnowledgeFileError, match=r"x\.toml: language: the language comes from"):
        parse_article('language = "es"', article_id="x")


def test_existing_calls_keep_working_and_give_english() -> None:
    # The web pages and other callers use these signatures unchanged.
    assert load_library() is load_library(language="en")
    assert ENGLISH.language == "en" and ENGLISH.fallbacks == () and not ENGLISH.treatment_words
    doc = render_article(ENGLISH.articles["lumbar_spinal_stenosis"], ENGLISH)
    assert doc["language"] == "en" and doc["title"] == "Lumbar spinal stenosis"
    assert parse_article(
        (EDUCATION_DIR / "spinal_infection.toml").read_text(), article_id="spinal_infection"
    ).language == "en"
