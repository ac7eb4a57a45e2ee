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

Sentences are split on ``.``, ``!`` and ``?`` followed by a space, which is how the articles are
written (no abbreviations with full stops, per the NHS guide). The grade is textstat's, on the
same text, so a test and a reviewer running textstat by hand get the same number.

References
----------
NHS England. NHS digital service manual, content guide: How we write.
National Institute for Health and Care Excellence. Corporate document ECD2: Rules of clear writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import textstat  # type: ignore[import-untyped]

__all__ = ["LIMITS", "Limits", "Reading", "measure", "reading_problems", "sentences", "words"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The reading-level limits one text must meet."""

    max_grade: float = 8.0
    max_sentence_words: int = 25
    max_mean_sentence_words: float = 20.0


#: The limits every article section meets (see the module docstring for their sources).
LIMITS = Limits()

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')]*\s+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’%-]*")


def sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text``, in order."""
    return tuple(s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip())


def words(sentence: str) -> int:
    """Words in one sentence (numbers and hyphenated words count once)."""
    return len(_WORD.findall(sentence))


@dataclass(frozen=True, slots=True)
class Reading:
    """What was measured in one text."""

    grade: float
    sentences: int
    words: int
    longest_sentence: str
    longest_sentence_words: int

    @property
    def mean_sentence_words(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0


def measure(text: str) -> Reading:
    """Flesch-Kincaid grade (textstat) and sentence lengths of ``text``."""
    found = sentences(text)
    counts = [words(s) for s in found]
    longest = max(range(len(found)), key=counts.__getitem__, default=None)
    return Reading(
        grade=float(textstat.flesch_kincaid_grade(text)) if found else 0.0,
        sentences=len(found),
        words=sum(counts),
        longest_sentence=found[longest] if longest is not None else "",
        longest_sentence_words=counts[longest] if longest is not None else 0,
    )


def reading_problems(text: str, limits: Limits = LIMITS) -> list[str]:
    """Every limit ``text`` breaks, in words a writer can act on (empty when it reads well)."""
    reading = measure(text)
    problems = []
    if reading.grade > limits.max_grade:
        problems.append(
            f"Flesch-Kincaid grade {reading.grade:.1f} is above {limits.max_grade:g}"
        )
    for sentence in sentences(text):
        n = words(sentence)
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
