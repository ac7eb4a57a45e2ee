"""Intake drafts: a patient's intake answered so far, one open intake per patient."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete
from sqlalchemy.orm import Session

from spinecare.store.models import IntakeDraft


@dataclass
class Draft:
    """The answers by linkId, the questions skipped, and the order they were answered in
    (the intake's Back button undoes the last)."""

    answers: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    started_at: datetime | None = None


def load(session: Session, patient_id: str) -> Draft | None:
    row = session.get(IntakeDraft, patient_id)
    if row is None:
        return None
    return Draft(orjson.loads(row.answers_json), orjson.loads(row.skipped_json),
                 orjson.loads(row.order_json), row.started_at)


def save(session: Session, patient_id: str, draft: Draft, now: datetime) -> None:
    row = session.get(IntakeDraft, patient_id, with_for_update=True)
    answers = orjson.dumps(draft.answers).decode()
    skipped = orjson.dumps(sorted(draft.skipped)).decode()
    order = orjson.dumps(draft.order).decode()
    if row is None:
        session.add(IntakeDraft(patient_id=patient_id, answers_json=answers,
                                skipped_json=skipped, order_json=order, started_at=now,
                                updated_at=now))
    else:
        row.answers_json, row.skipped_json, row.order_json = answers, skipped, order
        row.updated_at = now


def drop(session: Session, patient_id: str) -> None:
    session.execute(delete(IntakeDraft).where(IntakeDraft.patient_id == patient_id))
