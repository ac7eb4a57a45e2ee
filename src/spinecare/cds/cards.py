"""Cards as CDS Hooks 2.0 defines them (https://cds-hooks.hl7.org/2.0/#card-attributes): a
``uuid`` (so feedback can name the card), a one-sentence ``summary`` under 140 characters, an
``indicator`` of ``info``, ``warning`` or ``critical``, a ``source`` with its ``label``, and
optional ``detail`` (GitHub-flavoured Markdown), ``suggestions`` (each with a ``uuid``, a
``label`` and ``actions``; ``selectionBehavior`` then required), ``overrideReasons`` (codings with
a ``display``) and ``links`` (``absolute`` or ``smart``). Optional fields are left out, never
sent empty (the specification's JSON rule).

:func:`triage_cards` turns an assessment into the ``spinecare-triage`` cards; :func:`imaging_card`
turns an imaging verdict into the ``spinecare-imaging`` card. Each card carries its type (kept
by the store for the acceptance statistics), which is not sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinecare.cds.imaging import RATING_WORDS, Rated, imaging_knowledge
from spinecare.kb.citations import packaged_citations
from spinecare.report import LEVEL_WORDS

SUMMARY_MAX = 139  # "<140 characters"
SOURCE_LABEL = "spinecare"
DISCLAIMER = ("Decision support for clinicians, not a diagnosis. If anything here is new or "
              "getting worse (numbness between the legs, bladder or bowel change, spreading "
              "weakness), the patient may need emergency care now.")

#: What to do now, per triage level: the contract's meaning of each level (CONTRACT.md 2).
DO_NOW = {
    "emergency": "same-day emergency department assessment now",
    "urgent": "specialist assessment within about two weeks",
    "routine": "primary care, physiotherapy or routine referral",
    "self_care": "advice and self-management, review if not better",
}


@dataclass(frozen=True, slots=True)
class Card:
    """A card to send, and its type for the statistics."""

    card_type: str
    body: dict[str, Any]

    @property
    def uuid(self) -> str:
        return str(self.body["uuid"])


def summary(text: str) -> str:
    """One sentence under 140 characters: cut at a word and marked when longer."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    cut = text[:SUMMARY_MAX - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "\u2026"


def _source(topic_code: str, topic_display: str, url: str | None) -> dict[str, Any]:
    source: dict[str, Any] = {"label": SOURCE_LABEL, "topic": {
        "system": "https://spinecare.example/fhir/CodeSystem/cds-card-topic",
        "code": topic_code, "display": topic_display}}
    if url:
        source["url"] = url
    return source


def _card(card_type: str, text: str, indicator: str, detail: str, source: dict[str, Any],
          **optional: Any) -> Card:
    body: dict[str, Any] = {"uuid": str(uuid.uuid4()), "summary": summary(text),
                            "indicator": indicator, "detail": detail, "source": source}
    body.update({k: v for k, v in optional.items() if v})
    return Card(card_type, body)


def _cited(ids: Sequence[str], texts: Mapping[str, str]) -> list[str]:
    return [f"- [{cid}] {texts[cid]}" for cid in ids if cid in texts]


def _link(public_url: str, label: str) -> list[dict[str, str]]:
    return [{"label": label, "url": f"{public_url}/patients", "type": "absolute"}]


def _label(code: str) -> str:
    return code.replace("_", " ")


def _chart_lines(sources: Mapping[str, Sequence[str]]) -> list[str]:
    if not sources:
        return []
    return ["**Chart data used**", *[f"- {path}: {', '.join(refs[:3])}"
                                     + (" ..." if len(refs) > 3 else "")
                                     for path, refs in list(sources.items())[:12]], ""]


def triage_cards(assessment: Mapping[str, Any], public_url: str,
                 problems: Sequence[str] = (),
                 sources: Mapping[str, Sequence[str]] | None = None) -> list[Card]:
    """The ``spinecare-triage`` cards: one ``critical`` card per red flag; else a ``warning``
    for an urgent triage; else one ``info`` card with the triage and the leading conditions.
    Nothing known (no finding at all) gives no card."""
    texts: Mapping[str, str] = assessment.get("citations", {})
    triage = assessment["triage"]
    level = triage["level"]
    link = _link(public_url, "Open spinecare (assess and plan)")
    versions = assessment.get("versions", {})
    footer = [f"spinecare engine {versions.get('engine', '?')}, knowledge "
              f"{versions.get('knowledge', '?')}. {DISCLAIMER}"]
    if problems:
        footer[:0] = ["**Chart data not used**", *[f"- {p}" for p in problems], ""]
    footer[:0] = _chart_lines(sources or {})
    cards: list[Card] = []
    for flag in assessment.get("red_flags", []):
        flag_level = flag.get("triage", level)
        text = (f"Possible {_label(flag['code'])}: {DO_NOW.get(flag_level, DO_NOW[level])}.")
        detail = "\n".join([
            f"**Possible {_label(flag['code'])}** ({LEVEL_WORDS.get(flag_level, flag_level)})",
            "", "**Findings**", *[f"- {e}" for e in flag.get("evidence", [])], "",
            "**Why**", *[f"- {r}" for r in triage.get("reasons", [])], "",
            f"Rules: {', '.join(flag.get('rules', []))}", "", "**Sources**",
            *_cited(flag.get("citations", []), texts), "", *footer])
        cards.append(_card("triage.red_flag", text, "critical", detail,
                           _source(f"red-flag.{flag['code']}", f"Red flag: "
                                   f"{_label(flag['code'])}", None), links=link))
    if cards:
        return cards
    conditions = [c for c in assessment.get("conditions", []) if c.get("likelihood") != "low"]
    leading = ", ".join(f"{c.get('label', _label(c['code']))} ({c['likelihood']})"
                        for c in conditions[:3])
    if level == "urgent":
        text = f"Urgent: {DO_NOW['urgent']}" + (f"; leading: {leading}" if leading else "") \
            + "."
        indicator, card_type = "warning", "triage.urgent"
    elif level == "emergency":  # an emergency level without a red flag still interrupts
        text = f"Emergency: {DO_NOW['emergency']}."
        indicator, card_type = "critical", "triage.emergency"
    else:
        if not conditions and not triage.get("reasons"):
            return []
        text = f"Triage {level.replace('_', ' ')}" + (
            f": possible {leading}" if leading else ": no condition stands out yet") + "."
        indicator, card_type = "info", "triage.info"
    detail = "\n".join([
        f"**Triage: {LEVEL_WORDS.get(level, level)}**", "",
        *[f"- {r}" for r in triage.get("reasons", [])], "",
        "**Leading conditions (possible, not a diagnosis)**",
        *([f"- {c.get('label', _label(c['code']))}: {c['likelihood']}; for: "
           f"{', '.join(c.get('evidence', [])) or 'no finding'}" for c in conditions[:3]]
          or ["- none moderately or highly likely on what is known"]), "",
        "**Ask next**", *[f"- {q['question']}" for q in assessment.get("ask", [])[:5]], "",
        "**Sources**", *_cited(triage.get("citations", []), texts), "", *footer])
    return [_card(card_type, text, indicator, detail,
                  _source(f"triage.{level}", f"Triage: {level}", None), links=link)]


def imaging_card(rated: Rated, draft_id: str | None) -> Card:
    """The ``spinecare-imaging`` card for one draft order: the variant used is named on the
    card, with its rating and the facts that chose it."""
    knowledge = imaging_knowledge()
    variant, order = rated.variant, rated.order
    words = RATING_WORDS[rated.rating]
    if rated.indicator == "critical":
        text = (f"{order.label} for possible cauda equina syndrome: arrange an emergency MRI "
                "now instead.")
    elif rated.rating == "UNA":
        text = f"{order.label}: {words} here (ACR, {variant.topic.split(': ')[-1]} V" \
               f"{variant.number})."
    elif rated.rating == "UA":
        text = f"{order.label} fits the ACR criteria ({words}) for this picture."
    else:
        text = f"{order.label}: {words} (ACR {variant.topic.split(': ')[-1]} " \
               f"V{variant.number})."
    citations = packaged_citations()
    detail = "\n".join([
        f"**{variant.name}**: {variant.label}.", "",
        f"Rating of this order ({order.label}): **{words}** (evidence tag {variant.tag}: "
        f"{'verified' if variant.tag == 'V' else 'partly verified, informational only'}).",
        "", "**Facts used**", *[f"- {f}" for f in rated.facts], "",
        "**Sources**", *[f"- [{c}] {citations[c].short()}" for c in variant.citations
                         if c in citations], "",
        f"Imaging rules {knowledge.version}. {DISCLAIMER}"])
    suggestions = None
    if rated.suggest_delete and draft_id:
        suggestions = [{"label": "Remove the draft imaging order", "uuid": str(uuid.uuid4()),
                        "isRecommended": True,
                        "actions": [{"type": "delete",
                                     "description": f"Remove the draft order {draft_id}",
                                     "resourceId": draft_id}]}]
    reasons = None
    if rated.indicator in ("warning", "critical"):
        reasons = [{"system": knowledge.override_system, "code": r.code, "display": r.display}
                   for r in knowledge.override_reason]
    optional: dict[str, Any] = {"suggestions": suggestions, "overrideReasons": reasons}
    if suggestions:
        optional["selectionBehavior"] = "at-most-one"
    return _card(f"imaging.{rated.variant_id}.{rated.rating}", text, rated.indicator, detail,
                 _source(f"imaging.{rated.variant_id}", variant.name[:120], None), **optional)
