"""An article as a dict (``spinecare.education/1``, ready for JSON) and as plain text.

The treatments section is where the article meets the treatment knowledge. An article names
treatment ids only; the name, the plain summary, the evidence grade and the recommendation are
read here from ``treatments.toml`` (for the article's condition where a treatment's verdict
differs by condition), so an article and ``spinecare evidence`` cannot disagree.

An article is rendered in its own language (``article.language``): headings, the words for
grades and recommendations, and the treatments' names and summaries (from the library's
translation where it has them). The grade and the recommendation themselves are the same codes
in every language, read from the same treatment knowledge.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from spinecare import __version__
from spinecare.education.languages import LANGUAGES
from spinecare.education.library import SECTION_HEADINGS, Article, EducationLibrary
from spinecare.plan.evidence import citation_text
from spinecare.plan.knowledge import Citation, TreatmentBase, load_citations, load_treatments

__all__ = [
    "EDUCATION_SCHEMA_ID",
    "GRADE_WORDS",
    "GRADE_WORDS_BY_LANGUAGE",
    "RECOMMENDATION_WORDS",
    "RECOMMENDATION_WORDS_BY_LANGUAGE",
    "SECTION_HEADINGS_BY_LANGUAGE",
    "TEXT_LABELS",
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

# Spanish: "pruebas" would read as medical tests, so the evidence is what the studies show.
_GRADE_WORDS_ES: Mapping[str, str] = {
    "high": "apoyo fuerte",
    "moderate": "apoyo moderado",
    "low": "apoyo débil",
    "very_low": "apoyo muy débil",
    "insufficient": "demasiado pocos para juzgar",
    "evidence_against": "apuntan en contra",
}
_RECOMMENDATION_WORDS_ES: Mapping[str, str] = {
    "recommended": "las guías lo recomiendan",
    "consider": "las guías dicen que puede valer la pena probarlo",
    "only_within_package": "las guías lo sugieren solo junto con ejercicio",
    "not_recommended": "las guías no lo recomiendan",
    "do_not_offer": "las guías dicen que no debería ofrecerse",
    "not_approved": "no está aprobado para este uso",
}

#: Grade words in every language of the library.
GRADE_WORDS_BY_LANGUAGE: Mapping[str, Mapping[str, str]] = {
    "en": GRADE_WORDS,
    "es": _GRADE_WORDS_ES,
}
RECOMMENDATION_WORDS_BY_LANGUAGE: Mapping[str, Mapping[str, str]] = {
    "en": RECOMMENDATION_WORDS,
    "es": _RECOMMENDATION_WORDS_ES,
}

#: Section headings in every language of the library.
SECTION_HEADINGS_BY_LANGUAGE: Mapping[str, Mapping[str, str]] = {
    "en": SECTION_HEADINGS,
    "es": {
        "urgent": "Cuándo pedir ayuda enseguida",
        "what_it_is": "Qué es",
        "causes": "Causas",
        "symptoms": "Síntomas",
        # "Pruebas" alone also means evidence; these are the tests a doctor does.
        "tests": "Pruebas médicas",
        "treatments": "Tratamientos",
        "what_you_can_do": "Qué puede hacer usted",
    },
}

#: The fixed words of the plain-text form, in every language of the library.
TEXT_LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "evidence": "Evidence",
        "sources": "SOURCES",
        "reviewed": "Last reviewed {date}, to the standard: {standard}.",
        "versions": "spinecare {engine}, education {education}, treatments {treatments}.",
        "not_a_diagnosis": "Information for patients, not a diagnosis.",
    },
    "es": {
        "evidence": "Estudios",
        "sources": "FUENTES",
        "reviewed": "Última revisión: {date}, según la norma: {standard}.",
        "versions": "spinecare {engine}, información {education}, tratamientos {treatments}.",
        "not_a_diagnosis": "Información para pacientes, no es un diagnóstico.",
    },
}

assert all(  # a new language needs its words here before anything renders in it
    language in table
    for language in LANGUAGES
    for table in (GRADE_WORDS_BY_LANGUAGE, RECOMMENDATION_WORDS_BY_LANGUAGE,
                  SECTION_HEADINGS_BY_LANGUAGE, TEXT_LABELS)
)

_WIDTH = 80


def _treatment_entries(
    article: Article, library: EducationLibrary, treatments: TreatmentBase
) -> list[dict[str, Any]]:
    if article.treatments is None:
        return []
    language = article.language
    translated = library.treatment_words if library.language == language else {}
    grade_words = GRADE_WORDS_BY_LANGUAGE[language]
    recommendation_words = RECOMMENDATION_WORDS_BY_LANGUAGE[language]
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
        words = translated.get(tid)
        entries.append(
            {
                "id": tid,
                "name": t.name if words is None else words.name,
                "summary": t.patient_summary if words is None else words.patient_summary,
                "evidence_grade": grade,
                "recommendation": recommendation,
                "evidence_words": grade_words[grade],
                "recommendation_words": recommendation_words[recommendation],
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
    """The article as ``spinecare.education/1``: sections in reading order, treatments merged.

    Rendered in the article's own language (``language`` in the result); an article that
    ``library`` lists in its fallbacks is English in a library of another language.
    """
    kb = load_treatments() if treatments is None else treatments
    sources = load_citations() if citations is None else citations
    headings = SECTION_HEADINGS_BY_LANGUAGE[article.language]
    sections: list[dict[str, Any]] = []
    for name, section in article.sections():
        item: dict[str, Any] = {
            "name": name,
            "heading": headings[name],
            "paragraphs": list(section.paragraphs),
            "points": list(section.points),
        }
        if name == "treatments":
            item["treatments"] = _treatment_entries(article, library, kb)
        sections.append(item)
    return {
        "schema": EDUCATION_SCHEMA_ID,
        "id": article.id,
        "language": article.language,
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
    labels = TEXT_LABELS[doc.get("language", "en")]
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
            line = f"{labels['evidence']}: {t['evidence_words']}. {advice[0].upper()}{advice[1:]}."
            out += _wrap(line, "    ")
            out += _wrap(t["summary"], "    ")
    out += ["", labels["sources"]]
    for cid, text in doc["sources"].items():
        out += _wrap(f"[{cid}] {text}", "    ", "  ")
    out.append("")
    out += _wrap(labels["reviewed"].format(date=doc["reviewed"], standard=doc["standard"]), "")
    out.append(labels["versions"].format(**doc["versions"]))
    out.append(labels["not_a_diagnosis"])
    return "\n".join(out) + "\n"
