"""Shared paths and helpers for the education library tests.

Article ids are read from the files on disk, not from the index, so an article that someone
adds without listing it is still tested (and the listing test fails for it). The same holds for
each language: ``LANGUAGE_ARTICLES`` pairs every language of the library with every article file
in its folder, so a new article or a new language cannot skip the contract tests.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from spinecare.education.languages import DEFAULT_LANGUAGE, LANGUAGES
from spinecare.education.library import INDEX_FILE, TREATMENT_WORDS_FILE

EDUCATION_DIR = Path(str(files("spinecare.knowledge") / "education"))
KNOWLEDGE_DIR = EDUCATION_DIR.parent


def language_dir(language: str) -> Path:
    """The folder of one language's articles (English is the library's own folder)."""
    return EDUCATION_DIR if language == DEFAULT_LANGUAGE else EDUCATION_DIR / language


def article_ids(language: str) -> list[str]:
    """The article files on disk in one language's folder."""
    return sorted(
        p.stem
        for p in language_dir(language).glob("*.toml")
        if p.name != INDEX_FILE
        and not (language != DEFAULT_LANGUAGE and p.name == TREATMENT_WORDS_FILE)
    )


ARTICLE_IDS = article_ids(DEFAULT_LANGUAGE)

#: Every (language, article id) on disk, as pytest parameters named ``es-lumbar_spinal_stenosis``.
LANGUAGE_ARTICLES = [
    pytest.param(language, aid, id=f"{language}-{aid}")
    for language in LANGUAGES
    for aid in article_ids(language)
]
