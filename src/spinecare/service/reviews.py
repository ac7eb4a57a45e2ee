"""When a plan's follow-up questionnaires fall due. A plan's ``review`` items name an
instrument and the weeks after the visit at which to repeat it; see the review schedule in
``spinecare.plan`` and its sources there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from spinecare.instruments.registry import instruments
from spinecare.store.models import QuestionnaireResponse


def due_dates(visited_at: datetime,
              plan: Mapping[str, Any]) -> list[tuple[datetime, str, str]]:
    """(when, instrument, what to tell the patient) for each review the plan asks for,
    soonest first."""
    out = []
    for item in plan.get("review", []):
        for weeks in item.get("weeks", []):
            out.append((visited_at + timedelta(weeks=weeks), item["instrument"],
                        item.get("patient_text", "")))
    return sorted(out, key=lambda t: t[0])


def next_review(visited_at: datetime, plan: Mapping[str, Any]) -> datetime | None:
    after = first_review_after(plan)
    return visited_at + after if after is not None else None


def first_review_after(plan: Mapping[str, Any]) -> timedelta | None:
    """How long after the visit the plan's first review falls (``None``: no review)."""
    weeks = [w for item in plan.get("review", []) for w in item.get("weeks", [])]
    return timedelta(weeks=min(weeks)) if weeks else None


def due(visited_at: datetime, plan: Mapping[str, Any],
        responses: Sequence[QuestionnaireResponse],
        now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The questionnaires a patient fills in themself that are due now (and not answered
    since they fell due), and those coming up; one entry per instrument."""
    registry = instruments()
    due_now: dict[str, dict[str, Any]] = {}
    later: dict[str, dict[str, Any]] = {}
    for when, inst_id, text in due_dates(visited_at, plan):
        inst = registry.get(inst_id)
        if inst is None or inst.administered_by != "patient":
            continue
        answered_since = any(r.instrument == inst_id and r.created_at >= when
                             for r in responses)
        entry = {"id": inst_id, "name": inst.name, "when": when, "text": text}
        if when <= now and not answered_since:
            due_now.setdefault(inst_id, entry)
        elif when > now and inst_id not in due_now:
            later.setdefault(inst_id, entry)
    return list(due_now.values()), [v for k, v in later.items() if k not in due_now]
