"""An article as a dict (``spinecare.education/1``, ready for JSON) and as plain text.

The treatments section is where the article meets the treatment knowledge. An article names
treatment ids only; the name, the plain summary, the evidence grade and the recommendation are
read here from ``treatments.toml`` (for the article's condition where a treatment's verdict
differs by condition), so an article and ``spinecare evidence`` cannot disagree.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from spinecare import __version__
from spinecare.education.library import SECTION_HEADINGS, Article, EducationLibrary
from spinecare.plan.evidence import citation_text
from spinecare.plan.knowledge import Citation, TreatmentBase, load_citations, load_treatments

__all__ = [
    "EDUCATION_SCHEMA_ID",
    "GRADE_WORDS",
    "RECOMMENDATION_WORDS",
    "render_article",
    "render_text",
]

EDUCATION_SCHEMA_ID = "spinecare.education/1"

#: Patient words for the closed vocabularies of the treatment knowledge. Keyed by every code,
#: so a new grade or recommendation fails the contract test until it has words here.
GRADE_WORDS: Mapping[str, str] = {
    "high": "strong",
    "moderate": "moderate",
    "low": "weak",
    "very_low": "very weak",
    "insufficient": "too little to judge",
    "evidence_against": "points against it",
}
RECOMMENDATION_WORDS: Mapping[str, str] = {
    "recommended": "guidelines recommend it",
    "consider": "guidelines say it may be worth trying",
    "only_within_package": "guidelines suggest it only together with exercise",
    "not_recommended": "guidelines do not recommend it",
    "do_not_offer": "guidelines say it should not be offered",
    "not_approved": "not approved for this use",
}

_WIDTH = 80


def _treatment_entries(
    article: Article, treatments: TreatmentBase
) -> list[dict[str, Any]]:
    if article.treatments is None:
        return []
    condition = article.grading_condition()
    entries = []
    for tid in article.treatments.ids:
        t = treatments.treatments[tid]
        if condition is not None and condition in t.conditions:
            grade, recommendation = t.verdict_for(condition)
            applies_to = [condition]
        else:
            grade, recommendation = t.evidence_grade, t.recommendation
            applies_to = [c for c in t.conditions if c not in t.by_condition]
        entries.append(
            {
                "id": tid,
                "name": t.name,
                "summary": t.patient_summary,
                "evidence_grade": grade,
                "recommendation": recommendation,
                "evidence_words": GRADE_WORDS[grade],
                "recommendation_words": RECOMMENDATION_WORDS[recommendation],
                "conditions": applies_to,
            }
        )
    return entries


def render_article(
    article: Article,
    library: EducationLibrary,
    *,
    treatments: TreatmentBase | None = None,
    citations: Mapping[str, Citation] | None = None,
) -> dict[str, Any]:
    """The article as ``spinecare.education/1``: sections in reading order, treatments merged."""
    kb = load_treatments() if treatments is None else treatments
    sources = load_citations() if citations is None else citations
    sections: list[dict[str, Any]] = []
    for name, section in article.sections():
        item: dict[str, Any] = {
            "name": name,
            "heading": SECTION_HEADINGS[name],
            "paragraphs": list(section.paragraphs),
            "points": list(section.points),
        }
        if name == "treatments":
            item["treatments"] = _treatment_entries(article, kb)
        sections.append(item)
    return {
        "schema": EDUCATION_SCHEMA_ID,
        "id": article.id,
        "title": article.title,
        "kind": article.kind,
        "condition": article.condition,
        "summary": article.summary,
        "sections": sections,
        "sources": {cid: citation_text(cid, sources) for cid in article.sources},
        "reviewed": article.reviewed.isoformat(),
        "standard": article.standard,
        "versions": {
            "engine": __version__,
            "education": library.version,
            "treatments": kb.version,
        },
    }


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )


def render_text(doc: Mapping[str, Any]) -> str:
    """A rendered article (:func:`render_article`) as plain text for a terminal or a printout."""
    out = [doc["title"].upper(), ""]
    out += _wrap(doc["summary"], "")
    for section in doc["sections"]:
        out += ["", section["heading"].upper()]
        for paragraph in section["paragraphs"]:
            out += _wrap(paragraph)
        for point in section["points"]:
            out += _wrap(point, "    ", "  - ")
        for t in section.get("treatments", ()):
            out += ["", f"  {t['name']}"]
            advice = t["recommendation_words"]
            line = f"Evidence: {t['evidence_words']}. {advice[0].upper()}{advice[1:]}."
            out += _wrap(line, "    ")
            out += _wrap(t["summary"], "    ")
    out += ["", "SOURCES"]
    for cid, text in doc["sources"].items():
        out += _wrap(f"[{cid}] {text}", "    ", "  ")
    versions = doc["versions"]
    out.append("")
    out += _wrap(f"Last reviewed {doc['reviewed']}, to the standard: {doc['standard']}.", "")
    out.append(
        f"spinecare {versions['engine']}, education {versions['education']}, "
        f"treatments {versions['treatments']}."
    )
    out.append("Information for patients, not a diagnosis.")
    return "\n".join(out) + "\n"
