"""Which articles one patient should read, from their latest assessment and care plan.

Nothing clinical is decided here; the choice follows what the engine and the planner already
said, read from the stored documents (``spinecare.assessment/1`` and ``spinecare.plan/1``):

- **Their likely conditions**: every condition of the differential in the band ``moderate``
  or ``high`` (the reasoning knowledge's bands, as the assessment states them), most serious
  first by the condition's ``priority`` in ``conditions.toml``. A red flag raises its
  condition's probability to at least the moderate band (the ``*.floor.red_flag`` floors), so
  the condition behind a red flag is always among them.
- **The urgent-care advice that fits**: the "when to get help at once" section of the most
  serious of those articles, shown before anything else. The urgent sections are written per
  condition, so this is the advice about the danger the assessment raised.
- **The plan's treatments**: the first-line treatments ("why we suggest"), the ones the plan
  says to avoid ("why we do not suggest") and the ones where guidelines disagree ("where
  guidelines differ"). Each links to the treatments section of an article that shows that
  treatment's grade: the article about the condition the plan item is for where it lists the
  treatment, else a topic article, else another condition's article.

A treatment where guidelines differ is shown only there, not also as suggested or avoided:
the plan's own page shows the two sides, and one treatment listed twice would read as a
contradiction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from spinecare.education.library import Article, EducationLibrary, Section
from spinecare.education.render import SECTION_HEADINGS_BY_LANGUAGE
from spinecare.reasoning.knowledge import default_knowledge

__all__ = [
    "LIKELY_BANDS",
    "ConditionReading",
    "PatientReading",
    "Stance",
    "TreatmentReading",
    "UrgentAdvice",
    "for_patient",
    "treatment_anchor",
]

#: The likelihood bands whose conditions a patient reads about (CONTRACT.md section 2).
LIKELY_BANDS: tuple[str, ...] = ("high", "moderate")

Stance = Literal["suggested", "not_suggested", "differ"]


@dataclass(frozen=True, slots=True)
class ConditionReading:
    condition: str
    likelihood: str
    article: Article


@dataclass(frozen=True, slots=True)
class TreatmentReading:
    treatment_id: str
    name: str
    stance: Stance
    article: Article | None

    @property
    def anchor(self) -> str:
        return treatment_anchor(self.treatment_id)


@dataclass(frozen=True, slots=True)
class UrgentAdvice:
    """The urgent-care section of one article, shown first on the patient's pages."""

    article: Article
    section: Section

    @property
    def heading(self) -> str:
        """The section's heading in the article's own language, as its page shows it."""
        return SECTION_HEADINGS_BY_LANGUAGE[self.article.language]["urgent"]


@dataclass(frozen=True, slots=True)
class PatientReading:
    urgent: UrgentAdvice | None
    conditions: tuple[ConditionReading, ...]
    treatments: tuple[TreatmentReading, ...]

    def with_stance(self, stance: Stance) -> tuple[TreatmentReading, ...]:
        return tuple(t for t in self.treatments if t.stance == stance)

    def article_ids(self) -> tuple[str, ...]:
        """Every article this reading links to, each once, in the order shown."""
        seen: dict[str, None] = {}
        for c in self.conditions:
            seen.setdefault(c.article.id)
        for t in self.treatments:
            if t.article is not None:
                seen.setdefault(t.article.id)
        return tuple(seen)


def treatment_anchor(treatment_id: str) -> str:
    """The fragment of a treatment's entry on an article page."""
    return f"treatment-{treatment_id}"


def _priority(condition: str) -> int:
    known = default_knowledge().conditions.get(condition)
    # A condition the knowledge no longer has (an old visit) sorts after every known one.
    return known.priority if known is not None else 1_000_000


def _conditions(assessment: Mapping[str, Any],
                library: EducationLibrary) -> tuple[ConditionReading, ...]:
    found = []
    for item in assessment.get("conditions", []):
        if item.get("likelihood") not in LIKELY_BANDS:
            continue
        article = library.for_condition(str(item.get("code")))
        if article is not None:
            found.append(ConditionReading(article.condition or "", item["likelihood"], article))
    return tuple(sorted(found, key=lambda c: _priority(c.condition)))


def _plan_items(plan: Mapping[str, Any],
               key: str) -> Iterable[tuple[str | None, Mapping[str, Any]]]:
    for group in plan.get(key) or []:
        for treatment in group.get("treatments") or []:
            yield group.get("condition"), treatment


def _article_for(treatment_id: str, condition: str | None,
                 mine: Sequence[ConditionReading],
                 library: EducationLibrary) -> Article | None:
    def lists(article: Article) -> bool:
        return article.treatments is not None and treatment_id in article.treatments.ids

    # An article shows a treatment's verdict for its own condition, so the article about the
    # plan item's condition comes first; then a topic article (which shows the general
    # verdict); another condition's article only when nothing else lists the treatment.
    candidates = [library.for_condition(condition)] if condition else []
    candidates += [a for a in library.articles.values() if a.kind == "topic"]
    candidates += [c.article for c in mine]
    candidates += list(library.articles.values())
    return next((a for a in candidates if a is not None and lists(a)), None)


def for_patient(assessment: Mapping[str, Any], plan: Mapping[str, Any],
                library: EducationLibrary) -> PatientReading:
    """The articles for a patient's latest assessment and plan (see the module docstring)."""
    conditions = _conditions(assessment, library)
    differ_ids = {t.get("id") for _, t in _plan_items(plan, "disagreements")}
    treatments: list[TreatmentReading] = []
    seen: set[str] = set()
    stances: tuple[tuple[Stance, str], ...] = (
        ("suggested", "first_line"), ("not_suggested", "avoid"), ("differ", "disagreements"))
    for stance, key in stances:
        for condition, item in _plan_items(plan, key):
            tid = str(item.get("id"))
            if tid in seen or (stance != "differ" and tid in differ_ids):
                continue
            seen.add(tid)
            # The stored plan names the treatment in English; a library in another language
            # has the treatment's own name in that language (the name its articles show).
            words = library.treatment_words.get(tid)
            name = words.name if words is not None else str(item.get("name") or tid)
            treatments.append(TreatmentReading(
                tid, name, stance, _article_for(tid, condition, conditions, library)))
    urgent = UrgentAdvice(conditions[0].article, conditions[0].article.urgent) \
        if conditions else None
    return PatientReading(urgent, conditions, tuple(treatments))
