"""The language a client asks for with ``Accept-Language``, read the same way by both doors
(the web pages' choice, :mod:`spinecare.web.i18n`, and the API's ``?lang=``)."""

from __future__ import annotations

from spinecare.vocabulary import LANGUAGES, Language

__all__ = ["accepted", "preferred"]


def accepted(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, most wanted first
    (RFC 9110 section 12.5.4; ``q=0`` means "not this one")."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    return [tag for _, _, tag in sorted(ranked)]


def preferred(header: str | None) -> Language | None:
    """The first language of ``header`` that spinecare has, if any."""
    for tag in accepted(header or ""):
        for known in LANGUAGES:
            if tag == known:
                return known
    return None
