"""Reading level of patient-facing text, measured rather than hoped for.

Three limits apply to every section of every article (:data:`LIMITS`):

- **Flesch-Kincaid grade at most 8**, computed by ``textstat``. The NHS content guide aims for a
  reading age of 9 to 11 and accepts 11 to 14 where medical information cannot be made simpler
  (NHS digital service manual, "How we write" [nhs_content_style]); a US school grade of 8 is a
  reading age of about 13 to 14, the top of that tolerance.
- **No sentence longer than 25 words.** NICE's rules of clear writing give 15 to 20 words as
  ideal and 30 as the maximum [nice_clear_writing]; 25 sits between the two, as in the GOV.UK
  style most NHS pages follow.
- **An average of at most 20 words a sentence** in a section, the top of NICE's ideal range
  [nice_clear_writing].

Spanish text is held to the same sentence limits and to the equivalent of grade 8 by the
Spanish adaptations of the Flesch formula, each computed by ``textstat`` with Spanish syllables:

- **Fernández Huerta lecturabilidad at least 60.** Fernández Huerta's scale puts 60 to 70 at
  "normal (para adulto)", the reading of a 7th or 8th school grade [fernandez_huerta1959], so
  60 is where grade 8 ends. textstat uses the corrected formula, 206.84 - 60 x syllables per
  word - 1.02 x words per sentence [law2011_fernandez_huerta]. :attr:`Reading.grade` of a
  Spanish text is the top grade of the score's band on that scale, so the one limit "grade 8
  or lower" reads the same in every language.
- **Szigriszt-Pazos perspicuity at least 55**, the lower edge of "normal" on the INFLESZ scale,
  which was validated on Spanish reading habits for texts written for patients
  [barrio_cantalejo2008_inflesz]. The two formulas differ only in their weights; asking for
  both guards against a text that passes one by a hair.

Sentences are split on ``.``, ``!`` and ``?`` followed by a space, which is how the articles are
written (no abbreviations with full stops, per the NHS guide). The scores are textstat's, on the
same text, so a test and a reviewer running textstat by hand get the same number.

References
----------
NHS England. NHS digital service manual, content guide: How we write.
National Institute for Health and Care Excellence. Corporate document ECD2: Rules of clear writing.
Fernández Huerta J. Medidas sencillas de lecturabilidad. Consigna 1959;214:29-32.
Law G. Error in the Fernandez Huerta readability formula. 2011.
Barrio-Cantalejo IM et al. Validación de la Escala INFLESZ para evaluar la legibilidad de los
textos dirigidos a pacientes. An Sist Sanit Navar 2008;31(2):135-52.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import textstat  # type: ignore[import-untyped]
from textstat.textstat import textstatistics  # type: ignore[import-untyped]

from spinecare.education.languages import DEFAULT_LANGUAGE, Language

__all__ = [
    "LIMITS",
    "LIMITS_BY_LANGUAGE",
    "SPANISH_LIMITS",
    "Limits",
    "Reading",
    "fernandez_huerta_grade",
    "measure",
    "reading_problems",
    "sentences",
    "words",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """The reading-level limits one text must meet."""

    max_grade: float = 8.0
    max_sentence_words: int = 25
    max_mean_sentence_words: float = 20.0
    #: Szigriszt-Pazos perspicuity, for languages whose formula has it (Spanish).
    min_perspicuity: float | None = None


#: The limits every English article section meets (see the module docstring for their sources).
LIMITS = Limits()

#: The limits every Spanish article section meets: grade 8 on Fernández Huerta's scale (a score
#: of 60 or more) and an INFLESZ perspicuity of 55 or more.
SPANISH_LIMITS = Limits(min_perspicuity=55.0)

LIMITS_BY_LANGUAGE: Mapping[str, Limits] = MappingProxyType({"en": LIMITS, "es": SPANISH_LIMITS})

#: Fernández Huerta's scale: the lowest score of each band and the top school grade it names.
#: 50 to 60 is "preuniversitario" and 30 to 50 "cursos selectivos"; 12 and 14 stand for them.
_FERNANDEZ_HUERTA_BANDS: tuple[tuple[float, float], ...] = (
    (90.0, 4.0), (80.0, 5.0), (70.0, 6.0), (60.0, 8.0), (50.0, 12.0), (30.0, 14.0),
)
_FERNANDEZ_HUERTA_BOTTOM_GRADE = 16.0

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')»]*\s+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’%-]*")
# Spanish words carry accents and ñ; an ASCII pattern would cut "años" into two words.
_WORD_UNICODE = re.compile(r"[^\W_][\w'’%-]*")
_WORDS: Mapping[str, re.Pattern[str]] = MappingProxyType({"en": _WORD, "es": _WORD_UNICODE})

# A textstat instance of its own: textstat's module-level functions share one language setting,
# and switching it would change every English grade measured after.
_SPANISH = textstatistics()
_SPANISH.set_lang("es")


def sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text``, in order."""
    return tuple(s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip())


def words(sentence: str, language: Language = DEFAULT_LANGUAGE) -> int:
    """Words in one sentence (numbers and hyphenated words count once)."""
    return len(_WORDS[language].findall(sentence))


def fernandez_huerta_grade(score: float) -> float:
    """The top school grade of the band ``score`` falls in on Fernández Huerta's scale."""
    return next(
        (grade for low, grade in _FERNANDEZ_HUERTA_BANDS if score >= low),
        _FERNANDEZ_HUERTA_BOTTOM_GRADE,
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """What was measured in one text."""

    grade: float
    sentences: int
    words: int
    longest_sentence: str
    longest_sentence_words: int
    language: Language = DEFAULT_LANGUAGE
    #: Fernández Huerta lecturabilidad (Spanish only; higher is easier).
    ease: float | None = None
    #: Szigriszt-Pazos perspicuity (Spanish only; higher is easier).
    perspicuity: float | None = None

    @property
    def mean_sentence_words(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0


def measure(text: str, language: Language = DEFAULT_LANGUAGE) -> Reading:
    """The grade by ``language``'s formula (textstat) and the sentence lengths of ``text``.

    English: the Flesch-Kincaid grade. Spanish: the Fernández Huerta score as ``ease``, its band's
    grade as ``grade``, and the Szigriszt-Pazos perspicuity.
    """
    found = sentences(text)
    counts = [words(s, language) for s in found]
    longest = max(range(len(found)), key=counts.__getitem__, default=None)
    ease = perspicuity = None
    if language == "es":
        ease = float(_SPANISH.fernandez_huerta(text)) if found else 100.0
        perspicuity = float(_SPANISH.szigriszt_pazos(text)) if found else 100.0
        grade = fernandez_huerta_grade(ease)
    else:
        grade = float(textstat.flesch_kincaid_grade(text)) if found else 0.0
    return Reading(
        grade=grade,
        sentences=len(found),
        words=sum(counts),
        longest_sentence=found[longest] if longest is not None else "",
        longest_sentence_words=counts[longest] if longest is not None else 0,
        language=language,
        ease=ease,
        perspicuity=perspicuity,
    )


def reading_problems(
    text: str, limits: Limits | None = None, *, language: Language = DEFAULT_LANGUAGE
) -> list[str]:
    """Every limit ``text`` breaks, in words a writer can act on (empty when it reads well).

    ``limits`` defaults to those of ``language`` (:data:`LIMITS_BY_LANGUAGE`).
    """
    limits = LIMITS_BY_LANGUAGE[language] if limits is None else limits
    reading = measure(text, language)
    problems = []
    if reading.grade > limits.max_grade:
        if reading.ease is not None:
            problems.append(
                f"Fernández Huerta {reading.ease:.1f} is in the grade {reading.grade:g} band "
                f"(limit grade {limits.max_grade:g}: a score of 60 or more)"
            )
        else:
            problems.append(
                f"Flesch-Kincaid grade {reading.grade:.1f} is above {limits.max_grade:g}"
            )
    if (
        limits.min_perspicuity is not None
        and reading.perspicuity is not None
        and reading.perspicuity < limits.min_perspicuity
    ):
        problems.append(
            f"Szigriszt-Pazos perspicuity {reading.perspicuity:.1f} is below "
            f"{limits.min_perspicuity:g}"
        )
    for sentence in sentences(text):
        n = words(sentence, language)
        if n > limits.max_sentence_words:
            problems.append(
                f"sentence of {n} words (limit {limits.max_sentence_words}): {sentence[:60]}..."
            )
    if reading.mean_sentence_words > limits.max_mean_sentence_words:
        problems.append(
            f"sentences average {reading.mean_sentence_words:.1f} words "
            f"(limit {limits.max_mean_sentence_words:g})"
        )
    return problems
