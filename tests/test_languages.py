"""One list of languages: the vocabulary writes the codes and their names once; the education
library and the web pages take theirs from it."""

from __future__ import annotations

from spinecare import vocabulary
from spinecare.education import languages
from spinecare.web import i18n


def test_the_library_and_the_pages_use_the_vocabularys_languages() -> None:
    assert languages.LANGUAGES is vocabulary.LANGUAGES
    assert languages.LANGUAGE_NAMES is vocabulary.LANGUAGE_NAMES
    assert languages.DEFAULT_LANGUAGE == i18n.DEFAULT_LANGUAGE == vocabulary.DEFAULT_LANGUAGE
    assert vocabulary.LANGUAGES[0] == vocabulary.DEFAULT_LANGUAGE
    assert set(vocabulary.LANGUAGE_NAMES) == set(vocabulary.LANGUAGES)


def test_the_menu_names_are_the_vocabularys_names_capitalised() -> None:
    assert vocabulary.LANGUAGE_NAMES["es"] == "español"
    assert i18n.LANGUAGE_NAMES == {"en": "English", "es": "Español"}
    for code, name in vocabulary.LANGUAGE_NAMES.items():
        assert i18n.LANGUAGE_NAMES[code].casefold() == name.casefold()
