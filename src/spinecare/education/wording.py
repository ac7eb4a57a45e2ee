"""Wording rules for patient-facing text, as checks that return what they found.

Patient text says "may" and "possible"; it never tells a reader what they have, never makes
absolute promises, explains a medical term the first time it is used (the NHS content guide
puts the plain word first, then the medical term [nhs_content_style]) and never restates a
treatment's grade by hand (the renderer takes it from the treatment knowledge). Each function
returns the offending snippets, so a test failure shows the words to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from spinecare.education.readability import sentences

__all__ = [
    "absolute_claims",
    "diagnosis_phrases",
    "restated_grades",
    "unexplained_terms",
]

# "You have X" tells the reader a diagnosis; "if you have", "when you have" and "whether you
# have" describe a situation and are allowed.
_DIAGNOSIS = re.compile(
    r"(?<!\bif )(?<!\bwhen )(?<!\bwhether )\byou(?: have| have got|'ve got| are suffering"
    r" from| suffer from)\b|\byour diagnosis is\b|\bthis means you have\b|\byou definitely\b",
    re.IGNORECASE,
)

_ABSOLUTE = re.compile(
    r"\b(?:always|never|guaranteed?|cures?|cured|definitely|certainly|proven|100 ?%|"
    r"completely safe|no risk|risk-free|permanent(?:ly)? fix)\b",
    re.IGNORECASE,
)

# Words in quotation marks are being discussed, not claimed (“cure”, "97% success").
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")

# Grade talk belongs to the renderer, which reads the treatment knowledge.
_GRADE_TALK = re.compile(
    r"\b(?:(?:high|moderate|low|very low)[- ](?:certainty|quality) evidence|evidence grade|"
    r"strong evidence|weak evidence|good evidence that|insufficient evidence|"
    r"grade [a-d]\b|not recommended|do not offer|guidelines recommend)\b",
    re.IGNORECASE,
)

_EXPLAINED = re.compile(r"\(|\bmeans?\b|\bcalled\b", re.IGNORECASE)


def _snippets(pattern: re.Pattern[str], text: str) -> list[str]:
    return [
        text[max(0, m.start() - 30) : m.end() + 30].strip() for m in pattern.finditer(text)
    ]


def diagnosis_phrases(text: str) -> list[str]:
    """Phrases that tell the reader what they have (``You have stenosis``)."""
    return _snippets(_DIAGNOSIS, text)


def absolute_claims(text: str) -> list[str]:
    """Absolute words outside quotation marks (``always``, ``cure``, ``guaranteed``)."""
    return _snippets(_ABSOLUTE, _QUOTED.sub("", text))


def restated_grades(text: str) -> list[str]:
    """Evidence-grade or recommendation wording written by hand instead of rendered."""
    return _snippets(_GRADE_TALK, text)


def unexplained_terms(texts: Iterable[str], glossary: Mapping[str, str]) -> list[str]:
    """Glossary terms whose first sentence in ``texts`` (in reading order) does not explain them.

    A sentence explains a term when it has a bracket, "means" or "called" in it: the NHS style
    of "plain word (medical term)" or "medical term means plain words".
    """
    found = [s for text in texts for s in sentences(text)]
    problems = []
    for term in glossary:
        pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
        first = next((s for s in found if pattern.search(s)), None)
        if first is not None and not _EXPLAINED.search(first):
            problems.append(f"{term!r} first used without explanation: {first}")
    return problems
