"""The languages of the patient education library: spinecare's languages
(:mod:`spinecare.vocabulary`, where the list and the names are written once).

English is the library's source language: every article is written in English first, and a
translation lives in ``knowledge/education/<code>/``. A language added to the vocabulary needs
that folder, its wording rules (:mod:`spinecare.education.wording`), its reading formula
(:mod:`spinecare.education.readability`) and its patient words for the renderer
(:mod:`spinecare.education.render`); tests/education fails until each exists.
"""

from __future__ import annotations

from spinecare.vocabulary import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANGUAGE_NAMES", "TRANSLATIONS", "Language"]

#: The languages translated from the default one.
TRANSLATIONS: tuple[Language, ...] = tuple(x for x in LANGUAGES if x != DEFAULT_LANGUAGE)
