"""Wording rules for patient-facing text, as checks that return what they found.

Patient text says "may" and "possible"; it never tells a reader what they have, never makes
absolute promises, explains a medical term the first time it is used (the NHS content guide
puts the plain word first, then the medical term [nhs_content_style]) and never restates a
treatment's grade by hand (the renderer takes it from the treatment knowledge). Each function
returns the offending snippets, so a test failure shows the words to change.

Every rule exists in every language of the library (:data:`~spinecare.education.languages.
LANGUAGES`); a function takes the ``language`` of the text, English by default. Spanish text
speaks to the reader as "usted", the respectful form older readers expect, so the diagnosis
rule looks for "usted tiene" and its kin; "si tiene" (if you have) describes a situation and is
allowed, as "if you have" is in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from spinecare.education.languages import DEFAULT_LANGUAGE, Language
from spinecare.education.readability import sentences

__all__ = [
    "RULES",
    "WordingRules",
    "absolute_claims",
    "diagnosis_phrases",
    "mentions_urgent_care",
    "restated_grades",
    "speaks_of_possibility",
    "unexplained_terms",
]

# "You have X" tells the reader a diagnosis; "if you have", "when you have" and "whether you
# have" describe a situation and are allowed.
_DIAGNOSIS = re.compile(
    r"(?<!\bif )(?<!\bwhen )(?<!\bwhether )\byou(?: have| have got|'ve got| are suffering"
    r" from| suffer from)\b|\byour diagnosis is\b|\bthis means you have\b|\byou definitely\b",
    re.IGNORECASE,
)

_DIAGNOSIS_ES = re.compile(
    r"(?<!\bsi )(?<!\bcuando )(?<!\baunque )\busted (?:tiene|padece|sufre)\b|"
    r"\b(?:tiene|padece|sufre) usted\b|\bsu diagnóstico es\b|"
    r"\besto (?:significa|quiere decir) que (?:usted )?(?:tiene|padece)\b|"
    r"\bseguro que (?:usted )?(?:tiene|padece)\b|\busted sin duda\b",
    re.IGNORECASE,
)

_ABSOLUTE = re.compile(
    r"\b(?:always|never|guaranteed?|cures?|cured|definitely|certainly|proven|100 ?%|"
    r"completely safe|no risk|risk-free|permanent(?:ly)? fix)\b",
    re.IGNORECASE,
)

# "100 %" sits outside the word boundaries: a boundary after "%" needs a letter to follow.
_ABSOLUTE_ES = re.compile(
    r"\b(?:siempre|nunca|jamás|garantizad[oa]s?|garantiza|garantía|curas?|curan|curar|"
    r"curad[oa]s?|curación|definitivamente|con toda seguridad|totalmente segur[oa]|"
    r"completamente segur[oa]|sin (?:ningún )?riesgo|(?:científicamente|clínicamente) "
    r"probad[oa]|solución definitiva|arreglo permanente)\b|\b100 ?%",
    re.IGNORECASE,
)

# Words in quotation marks are being discussed, not claimed (“cure”, "97% success", «cura»).
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»")

# Grade talk belongs to the renderer, which reads the treatment knowledge.
_GRADE_TALK = re.compile(
    r"\b(?:(?:high|moderate|low|very low)[- ](?:certainty|quality) evidence|evidence grade|"
    r"strong evidence|weak evidence|good evidence that|insufficient evidence|"
    r"grade [a-d]\b|not recommended|do not offer|guidelines recommend)\b",
    re.IGNORECASE,
)

_GRADE_TALK_ES = re.compile(
    r"\b(?:(?:certeza|calidad) (?:alta|moderada|baja|muy baja)|"
    r"(?:pruebas?|evidencias?|estudios?) (?:sólid[oa]s?|fuertes?|débiles?|insuficientes?|"
    r"de (?:alta|baja) calidad)|evidencia (?:alta|moderada|baja|muy baja)|"
    r"grado de (?:evidencia|recomendación)|grado [a-d]\b|no se recomienda|"
    r"no recomendad[oa]s?|no (?:se )?debe ofrecerse|no (?:se )?debería ofrecer|"
    r"las guías (?:lo |la |los |las )?recomiendan)",
    re.IGNORECASE,
)

_EXPLAINED = re.compile(r"\(|\bmeans?\b|\bcalled\b", re.IGNORECASE)
_EXPLAINED_ES = re.compile(
    r"\(|\bsignifican?\b|\bquiere decir\b|\bquieren decir\b|\bes decir\b|"
    r"\b(?:se )?llam(?:a|an|ada|ado|adas|ados|amos|arla|arlo)\b",
    re.IGNORECASE,
)

# Where to go at once: an emergency department, the emergency number, or today.
_URGENT = re.compile(r"emergency department|999|same day|at once", re.IGNORECASE)
_URGENT_ES = re.compile(r"urgencias|\b112\b|el mismo día|enseguida|de inmediato", re.IGNORECASE)

# What "may be" sounds like: a summary speaks of possibility, not of fact.
_POSSIBLE = re.compile(r"\b(?:may|possible|possibly|might)\b", re.IGNORECASE)
_POSSIBLE_ES = re.compile(
    r"\b(?:puede|pueden|podría|podrían|posibles?|posiblemente|quizá|quizás)\b", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class WordingRules:
    """The patterns behind the wording checks, for one language."""

    diagnosis: re.Pattern[str]
    absolute: re.Pattern[str]
    grade_talk: re.Pattern[str]
    explained: re.Pattern[str]
    urgent: re.Pattern[str]
    possible: re.Pattern[str]


#: The wording rules of each language; a language of the library without rules fails its tests.
RULES: Mapping[str, WordingRules] = MappingProxyType(
    {
        "en": WordingRules(
            diagnosis=_DIAGNOSIS, absolute=_ABSOLUTE, grade_talk=_GRADE_TALK,
            explained=_EXPLAINED, urgent=_URGENT, possible=_POSSIBLE,
        ),
        "es": WordingRules(
            diagnosis=_DIAGNOSIS_ES, absolute=_ABSOLUTE_ES, grade_talk=_GRADE_TALK_ES,
            explained=_EXPLAINED_ES, urgent=_URGENT_ES, possible=_POSSIBLE_ES,
        ),
    }
)


def _snippets(pattern: re.Pattern[str], text: str) -> list[str]:
    return [
        text[max(0, m.start() - 30) : m.end() + 30].strip() for m in pattern.finditer(text)
    ]


def diagnosis_phrases(text: str, language: Language = DEFAULT_LANGUAGE) -> list[str]:
    """Phrases that tell the reader what they have (``You have stenosis``, ``Usted tiene``)."""
    return _snippets(RULES[language].diagnosis, text)


def absolute_claims(text: str, language: Language = DEFAULT_LANGUAGE) -> list[str]:
    """Absolute words outside quotation marks (``always``, ``cure``, ``siempre``, ``cura``)."""
    return _snippets(RULES[language].absolute, _QUOTED.sub("", text))


def restated_grades(text: str, language: Language = DEFAULT_LANGUAGE) -> list[str]:
    """Evidence-grade or recommendation wording written by hand instead of rendered."""
    return _snippets(RULES[language].grade_talk, text)


def mentions_urgent_care(text: str, language: Language = DEFAULT_LANGUAGE) -> bool:
    """Whether ``text`` says where to go at once (emergency department, 999 or 112, same day)."""
    return RULES[language].urgent.search(text) is not None


def speaks_of_possibility(text: str, language: Language = DEFAULT_LANGUAGE) -> bool:
    """Whether ``text`` speaks of what may be ("may", "possible"; "puede", "posible")."""
    return RULES[language].possible.search(text) is not None


def unexplained_terms(
    texts: Iterable[str], glossary: Mapping[str, str], language: Language = DEFAULT_LANGUAGE
) -> list[str]:
    """Glossary terms whose first sentence in ``texts`` (in reading order) does not explain them.

    A sentence explains a term when it has a bracket, "means" or "called" in it: the NHS style
    of "plain word (medical term)" or "medical term means plain words". In Spanish: a bracket,
    "quiere decir", "significa", "es decir" or a form of "llamar" ("se llama", "lo llaman").
    """
    explained = RULES[language].explained
    found = [s for text in texts for s in sentences(text)]
    problems = []
    for term in glossary:
        pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
        first = next((s for s in found if pattern.search(s)), None)
        if first is not None and not explained.search(first):
            problems.append(f"{term!r} first used without explanation: {first}")
    return problems
