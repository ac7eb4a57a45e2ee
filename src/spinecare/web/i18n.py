"""The pages' languages: which one a request gets, its message catalogue, and dates and numbers
written the way that language writes them.

A page's words are msgids in the templates (``{% trans %}``, ``_()``) and in the web's Python
(``_()`` from :func:`gettext_of`, ``N_`` for module-level texts translated when shown). The
catalogues are the ``.po`` files in ``web/locales``, shipped in the package and read once per
process: Babel parses them and the catalogue is served from memory, so a fresh clone needs no
compile step and nothing is fetched. Fuzzy entries are never used (Babel drops them when it
builds the catalogue), so a guessed translation cannot reach a patient; the tests refuse a
catalogue with any.

The language is chosen, first to last: the account's stored preference; ``?lang=`` on the
address (kept in a cookie) or that cookie; the browser's ``Accept-Language``; English.

Clinical knowledge shown on a page (intake questions, stop symptoms, condition names) is not in
these catalogues: it is knowledge data, translated in ``knowledge/translations/<lang>.toml``
keyed by the knowledge's own ids (:func:`knowledge_text`).
"""

from __future__ import annotations

import gettext
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from fastapi import Request

from spinecare import vocabulary
from spinecare.http.language import accepted
from spinecare.vocabulary import DEFAULT_LANGUAGE, LANGUAGES, Language

LANG_COOKIE = "spinecare_lang"
LANG_PARAM = "lang"
# Each language named in itself, for the switch in the page footer: the vocabulary's names,
# capitalised as the first word of a menu item is ("Español").
LANGUAGE_NAMES: dict[str, str] = {code: name[:1].upper() + name[1:]
                                  for code, name in vocabulary.LANGUAGE_NAMES.items()}


def N_(message: str) -> str:
    """Mark a module-level text for the catalogue; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English: the msgids themselves)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return gettext.NullTranslations()
    po = resources.files("spinecare.web") / "locales" / language / "LC_MESSAGES" / \
        "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    # The parsed catalogue as GNU gettext reads it, in memory: the standard lookup (plural
    # forms included) with nothing written to disk.
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _known(value: Any) -> Language | None:
    if isinstance(value, str) and value in LANGUAGES:
        return value
    return None


def asked_language(request: Request) -> Language | None:
    """A language chosen with ``?lang=`` on this request, if it names one we have."""
    return _known(request.query_params.get(LANG_PARAM))


def language_of(request: Request) -> Language:
    """The language of this request's page (remembered on the request)."""
    chosen = getattr(request.state, "language", None)
    if chosen is not None:
        return chosen  # type: ignore[no-any-return]
    who = getattr(request.state, "web_principal", None)
    found = (_known(getattr(who, "language", None)) or asked_language(request)
             or _known(request.cookies.get(LANG_COOKIE)))
    if found is None:
        found = next((known for t in accepted(request.headers.get("accept-language", ""))
                      if (known := _known(t)) is not None), DEFAULT_LANGUAGE)
    request.state.language = found
    return found  # type: ignore[return-value]


def gettext_of(request: Request) -> Callable[[str], str]:
    """``_`` for this request's language, for texts a route writes itself."""
    return translations(language_of(request)).gettext


def date_text(value: date | datetime | None, language: str) -> str:
    """A date as the language writes it (Babel, CLDR): "02 Dec 2026", "02 dic 2026"."""
    return format_date(value, "dd MMM y", locale=language) if value else ""


def datetime_text(value: datetime | None, language: str) -> str:
    """A date and time as the language writes it: "02 Dec 2026 14:05", "02 dic 2026 14:05"."""
    return format_datetime(value, "dd MMM y HH:mm", locale=language) if value else ""


def number_text(value: float | int | None, language: str) -> str:
    """A number with the language's decimal sign ("2.5", "2,5")."""
    return "" if value is None else format_decimal(value, locale=language)


def percent_text(p: float, language: str) -> str:
    """A model's probability as the report says it (never certain, never impossible), in the
    language's way of writing a percentage ("88%", "88 %")."""
    _ = translations(language).gettext
    if p > 0.99:
        return _("over %(percent)s") % {"percent": format_percent(0.99, locale=language)}
    if p < 0.01:
        return _("under %(percent)s") % {"percent": format_percent(0.01, locale=language)}
    return format_percent(p, locale=language)


# --- knowledge text -----------------------------------------------------------------------------


@cache
def knowledge_translations(language: str) -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """``{kind: {id: {field: text}}}`` from ``knowledge/translations/<language>.toml``."""
    if language == DEFAULT_LANGUAGE:
        return {}
    source = resources.files("spinecare.knowledge") / "translations" / f"{language}.toml"
    if not source.is_file():
        return {}
    data: dict[str, Any] = tomllib.loads(source.read_text(encoding="utf-8"))
    data.pop("meta", None)
    return data


def knowledge_text(language: str, kind: str, key: str, field: str, english: Any) -> Any:
    """A knowledge text (or list of texts) in ``language``, keyed by the knowledge's id; the
    English when it has no translation (shown as it is rather than not at all)."""
    return knowledge_translations(language).get(kind, {}).get(key, {}).get(field, english)


def knowledge_lang(language: str, kind: str, key: str, field: str) -> str:
    """The ``lang`` a knowledge text is in: ``language`` when translated, else ``en``."""
    if language == DEFAULT_LANGUAGE or \
            field in knowledge_translations(language).get(kind, {}).get(key, {}):
        return language
    return DEFAULT_LANGUAGE
