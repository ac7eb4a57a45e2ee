"""The languages of the patient education library, written once.

English is the library's source language: every article is written in English first, and a
translation lives in ``knowledge/education/<code>/``. A language added here needs that folder,
its wording rules (:mod:`spinecare.education.wording`), its reading formula
(:mod:`spinecare.education.readability`) and its patient words for the renderer
(:mod:`spinecare.education.render`); tests/education fails until each exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANGUAGE_NAMES", "TRANSLATIONS", "Language"]

Language = Literal["en", "es"]

#: Every language of the library, the source language first.
LANGUAGES: tuple[Language, ...] = get_args(Language)

DEFAULT_LANGUAGE: Language = "en"

#: The languages translated from the default one.
TRANSLATIONS: tuple[Language, ...] = tuple(x for x in LANGUAGES if x != DEFAULT_LANGUAGE)

#: Each language's name in that language, for a language menu or a note about a fallback.
LANGUAGE_NAMES: Mapping[str, str] = MappingProxyType({"en": "English", "es": "español"})
