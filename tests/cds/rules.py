"""The CDS Hooks 2.0 rules for a response and its cards, written from the specification's text
(https://cds-hooks.hl7.org/2.0/#card-attributes and the IG's invariants cds-resp-3 to -6),
as an oracle independent of the code that builds cards."""

from __future__ import annotations

import uuid
from typing import Any

INDICATORS = {"info", "warning", "critical"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
SELECTION = {"at-most-one", "any"}
CARD_FIELDS = {"uuid", "summary", "detail", "indicator", "source", "suggestions",
               "selectionBehavior", "overrideReasons", "links"}


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def card_problems(card: dict[str, Any]) -> list[str]:
    """Every way ``card`` breaks the specification (and spinecare's own use of it: every card
    has a uuid, so feedback can name it)."""
    out = []
    unknown = set(card) - CARD_FIELDS
    if unknown:
        out.append(f"unknown fields {sorted(unknown)}")
    for name, value in card.items():
        if _empty(value):
            out.append(f"{name} is sent empty (omit optional fields instead)")
    if not _is_uuid(card.get("uuid")):
        out.append("uuid missing or not a UUID")
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        out.append("summary missing")
    elif len(summary) >= 140:
        out.append(f"summary has {len(summary)} characters (must be under 140)")
    elif "\n" in summary:
        out.append("summary is more than one line")
    if card.get("indicator") not in INDICATORS:
        out.append(f"indicator {card.get('indicator')!r} is not info, warning or critical")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str) \
            or not source["label"]:
        out.append("source.label missing")
    if "detail" in card and not isinstance(card["detail"], str):
        out.append("detail is not a string (Markdown)")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if card.get("selectionBehavior") not in SELECTION:
            out.append("suggestions without selectionBehavior at-most-one or any (cds-resp-6)")
        for n, s in enumerate(suggestions):
            if not isinstance(s.get("label"), str) or not s["label"]:
                out.append(f"suggestions[{n}].label missing")
            if not _is_uuid(s.get("uuid")):
                out.append(f"suggestions[{n}].uuid missing or not a UUID")
            for m, a in enumerate(s.get("actions") or []):
                if a.get("type") not in ACTION_TYPES:
                    out.append(f"suggestions[{n}].actions[{m}].type invalid")
                if not a.get("description"):
                    out.append(f"suggestions[{n}].actions[{m}].description missing "
                               "(cds-resp-5)")
                if a.get("type") == "delete" and not a.get("resourceId"):
                    out.append(f"suggestions[{n}].actions[{m}] deletes without resourceId")
                if a.get("type") in ("create", "update") and not isinstance(
                        a.get("resource"), dict):
                    out.append(f"suggestions[{n}].actions[{m}] has no resource")
    elif "selectionBehavior" in card:
        out.append("selectionBehavior without suggestions")
    for n, r in enumerate(card.get("overrideReasons") or []):
        if not r.get("display"):
            out.append(f"overrideReasons[{n}] has no display (cds-resp-4)")
    for n, link in enumerate(card.get("links") or []):
        if not link.get("label") or not link.get("url"):
            out.append(f"links[{n}] needs label and url")
        if link.get("type") not in LINK_TYPES:
            out.append(f"links[{n}].type is not absolute or smart")
        if "appContext" in link and link.get("type") != "smart":
            out.append(f"links[{n}].appContext on a non-smart link (cds-resp-3)")
        if link.get("type") == "absolute" and not str(link.get("url", "")).startswith(
                ("https://", "http://")):
            out.append(f"links[{n}].url is not absolute")
    return out


def response_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return ["the response is not an object with a cards array"]
    out = [f"cards[{n}]: {p}" for n, c in enumerate(body["cards"]) for p in card_problems(c)]
    uuids = [c.get("uuid") for c in body["cards"]]
    if len(set(uuids)) != len(uuids):
        out.append("two cards share a uuid")
    return out
