"""The clinicians' worklists: one entry per patient per care-team member, holding what the list
sorts and filters on (latest triage, next review, open alerts), and the worklist query.

Records and alerts keep the entries current in the same transaction as the change. Each sort
has an index in its own order (``user_id`` first), so a page of a 10,000-patient list is read
from one index range in the order shown; the count is a scan of that clinician's range of a
covering index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from spinecare.store.models import Alert, Patient, WorklistEntry
from spinecare.vocabulary import LEVEL_RANK

Sort = Literal["priority", "name", "triage", "review", "alerts"]
SORTS: tuple[Sort, ...] = ("priority", "name", "triage", "review", "alerts")
#: The review order of a patient with no review planned: after every date.
NEVER = datetime(9999, 12, 31)
_NONE = 4


def rank(level: str | None) -> int:
    """A triage level's rank plus one (0: no level)."""
    return LEVEL_RANK[level] + 1 if level in LEVEL_RANK else 0


def order(level: str | None) -> int:
    """A level's place in an ascending sort, most urgent first (none: last)."""
    return _NONE - rank(level)


def add_entry(session: Session, user_id: int, patient_id: str, display_name: str) -> None:
    """Put the patient on the clinician's worklist: a copy of a colleague's entry when the
    patient has one, else an empty one (a new patient)."""
    if session.get(WorklistEntry, (user_id, patient_id)) is not None:
        return
    session.flush()
    other = session.scalar(select(WorklistEntry).where(WorklistEntry.patient_id == patient_id)
                           .limit(1))
    if other is not None:
        values = {c.key: getattr(other, c.key) for c in WorklistEntry.__table__.columns}
        values["user_id"] = user_id
        session.add(WorklistEntry(**values))
        return
    session.add(WorklistEntry(user_id=user_id, patient_id=patient_id,
                              name_key=display_name.lower(), visit_count=0, triage_order=_NONE,
                              review_order=NEVER, open_alerts=0, alert_order=_NONE))


def _set(session: Session, patient_id: str, **values: Any) -> None:
    session.execute(update(WorklistEntry).where(WorklistEntry.patient_id == patient_id)
                    .values(**values).execution_options(synchronize_session=False))


def visit_added(session: Session, patient_id: str, at: datetime, triage: str | None,
                review_after: timedelta | None) -> None:
    """Count a stored visit on every worklist of the patient; the newest visit's triage and
    first review win."""
    session.flush()
    last = session.scalar(select(func.max(WorklistEntry.last_visit_at))
                          .where(WorklistEntry.patient_id == patient_id))
    values: dict[str, Any] = {"visit_count": WorklistEntry.visit_count + 1}
    if last is None or at >= last:
        due = at + review_after if review_after is not None else None
        values.update(last_visit_at=at, review_due_at=due, review_order=due or NEVER)
        if triage is not None:
            values.update(triage=triage, triage_order=order(triage))
    _set(session, patient_id, **values)


def recount_alerts(session: Session, patient_id: str) -> None:
    """The open-alert figures of every worklist of the patient, from the alerts themselves."""
    session.flush()
    count, oldest = session.execute(
        select(func.count(), func.min(Alert.created_at))
        .where(Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None))).one()
    levels = session.scalars(select(Alert.level).distinct()
                             .where(Alert.patient_id == patient_id,
                                    Alert.acknowledged_at.is_(None))).all()
    top = max(levels, key=rank, default=None)
    _set(session, patient_id, open_alerts=count or 0, oldest_open_alert_at=oldest,
         alert_level=top, alert_order=order(top))


@dataclass(frozen=True)
class Filters:
    query: str = ""
    open_alerts: bool = False
    triage: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class WorklistRow:
    patient: Patient
    entry: WorklistEntry


def worklist(session: Session, clinician_id: int, filters: Filters, sort: Sort, now: datetime,
             *, limit: int, offset: int) -> tuple[Sequence[WorklistRow], int]:
    """A page of the clinician's patients and how many match in all. Every order ends with
    the name and the id, so pages are stable and a patient is never shown twice."""
    W = WorklistEntry
    where: list[ColumnElement[bool]] = [W.user_id == clinician_id]
    if filters.query:
        escaped = (filters.query.lower().replace("\\", "\\\\").replace("%", "\\%")
                   .replace("_", "\\_"))
        where.append(W.name_key.like(f"%{escaped}%", escape="\\"))
    # Each filter is a range of one of the indexes (the order columns, not the level names),
    # so neither the count nor the page reads an entry that does not match.
    if filters.open_alerts:
        where.append(W.alert_order < _NONE)
    if filters.triage is not None:
        where.append(W.triage_order == order(filters.triage))
    if filters.overdue:
        where.append(W.review_order <= now)
    # Each order but "alerts" is an index's column order (models.WorklistEntry).
    by: dict[str, list[Any]] = {
        "priority": [W.alert_order, W.triage_order, W.review_order],
        "alerts": [W.alert_order, W.open_alerts.desc(), W.oldest_open_alert_at],
        "triage": [W.triage_order],
        "review": [W.review_order],
        "name": [],
    }
    entries = session.scalars(select(W).where(and_(*where))
                              .order_by(*by[sort], W.name_key, W.patient_id)
                              .limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(W).where(and_(*where))) or 0
    ids = [e.patient_id for e in entries]
    people = {p.id: p for p in session.scalars(
        select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    return [WorklistRow(people[e.patient_id], e) for e in entries], total
