"""The evidence behind one treatment: grades by condition, findings with sources, claims answered.

:func:`evidence_for` reads the treatment knowledge base and its sources; it decides nothing
clinical. An unknown treatment raises :class:`UnknownTreatmentError` with the closest ids, so a
user who types ``stem-cells`` is told about ``stem_cell_injection``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from spinecare.errors import SpinecareError
from spinecare.plan.knowledge import (
    EXPERT_JUDGEMENT,
    Citation,
    TreatmentBase,
    load_citations,
    load_treatments,
    normalise_treatment_id,
)

__all__ = [
    "EVIDENCE_SCHEMA_ID",
    "UnknownTreatmentError",
    "citation_text",
    "evidence_for",
    "normalise_treatment_id",
    "suggest_treatments",
]

EVIDENCE_SCHEMA_ID = "spinecare.evidence/1"
EXPERT_TEXT = "expert judgement (no published source)"


class UnknownTreatmentError(SpinecareError, LookupError):
    """No treatment has this id; ``suggestions`` lists the closest ids."""

    def __init__(self, query: str, suggestions: tuple[str, ...]):
        self.query = query
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown treatment {query!r}{hint}")


def suggest_treatments(query: str, kb: TreatmentBase, limit: int = 5) -> tuple[str, ...]:
    """Treatment ids close to ``query``: spelling neighbours, then ids or names sharing a word."""
    key = normalise_treatment_id(query)
    ids = list(kb.treatments)
    close = difflib.get_close_matches(key, ids, n=limit, cutoff=0.6)
    words = {w for w in key.split("_") if len(w) > 2}
    stems = {w.rstrip("s") for w in words}
    for tid, t in kb.treatments.items():
        haystack = set(tid.split("_")) | set(normalise_treatment_id(t.name).split("_"))
        for alias in t.aliases:
            haystack |= set(normalise_treatment_id(alias).split("_"))
        if stems & {h.rstrip("s") for h in haystack} and tid not in close:
            close.append(tid)
    return tuple(close[:limit])


def citation_text(cid: str, citations: Mapping[str, Citation]) -> str:
    """``Suri P et al. 2010, JAMA 304(23):2628-36`` (the same short form the assessment uses)."""
    if cid == EXPERT_JUDGEMENT:
        return EXPERT_TEXT
    c = citations.get(cid)
    if c is None:
        return f"{cid} (source not found)"
    first = c.authors.split(",")[0].strip()
    who = f"{first} et al." if "," in c.authors and "et al" not in first else first
    where = c.journal
    if c.volume:
        where += f" {c.volume}" + (f"({c.issue})" if c.issue else "") + \
            (f":{c.pages}" if c.pages else "")
    elif c.pages:
        where += f" {c.pages}"
    year = f" {c.year}" if c.year else ""
    return f"{who}{year}, {where}"


def evidence_for(
    treatment_id: str,
    *,
    treatments: TreatmentBase | None = None,
    citations: Mapping[str, Citation] | None = None,
) -> dict[str, Any]:
    """The evidence summary of one treatment (``spinecare.evidence/1``).

    ``treatment_id`` may be written with spaces, hyphens or capitals (``Stem-cell injection``).
    """
    kb = load_treatments() if treatments is None else treatments
    sources = load_citations() if citations is None else citations
    key = normalise_treatment_id(treatment_id)
    t = kb.treatments.get(key) or kb.treatments.get(kb.by_alias().get(key, ""))
    if t is None:
        raise UnknownTreatmentError(treatment_id, suggest_treatments(treatment_id, kb))
    verdicts = []
    for condition in t.conditions:
        grade, recommendation = t.verdict_for(condition)
        special = t.by_condition.get(condition)
        verdicts.append({
            "condition": condition,
            "evidence_grade": grade,
            "recommendation": recommendation,
            "reason": special.reason if special else None,
            "citations": list(special.citations) if special else [],
        })
    return {
        "schema": EVIDENCE_SCHEMA_ID,
        "treatment": t.id,
        "name": t.name,
        "what_it_is": t.what_it_is,
        "verdicts": verdicts,
        "expected_benefit": t.expected_benefit,
        "risks": list(t.risks),
        "check_first": [
            {"id": ci, "label": kb.contraindications[ci].label} for ci in t.contraindications
        ],
        "regulatory": t.regulatory,
        "patient_summary": t.patient_summary,
        "evidence": [
            {"finding": e.finding, "verification": e.verification, "citations": list(e.citations)}
            for e in t.evidence
        ],
        "claims": [
            {"question": c.question, "answer": c.answer, "citations": list(c.citations)}
            for c in t.claims
        ],
        # Where guidelines differ, each one's position, so a reader sees both sides.
        "positions": [
            {"guideline": p.guideline, "stance": p.stance, "says": p.says,
             "conditions": list(p.conditions), "verification": p.verification,
             "citations": list(p.citations)}
            for p in t.positions
        ],
        "citations": {cid: citation_text(cid, sources) for cid in t.citations},
        "versions": {"treatments": kb.version},
    }
