"""The patient summaries behind the clinician's worklist, and the worklist query itself.

A summary row per patient holds what the list sorts and filters on (latest triage, next review,
open alerts); records and alerts keep it current in the same transaction as the change, so the
list is one query over a join of the care team and the summaries, whatever the caseload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from spinecare.store.models import Alert, CareTeamMember, Patient, PatientSummary
from spinecare.vocabulary import LEVEL_RANK

Sort = Literal["priority", "name", "triage", "review", "alerts"]
SORTS: tuple[Sort, ...] = ("priority", "name", "triage", "review", "alerts")


def rank(level: str | None) -> int:
    """A triage level's rank plus one (0: no level), the form the summary keeps."""
    return LEVEL_RANK[level] + 1 if level in LEVEL_RANK else 0


def summary(session: Session, patient_id: str) -> PatientSummary:
    """The patient's summary row, created empty when missing (a restored older backup)."""
    row = session.get(PatientSummary, patient_id)
    if row is None:
        row = PatientSummary(patient_id=patient_id, visit_count=0, triage_rank=0,
                             open_alerts=0, alert_rank=0)
        session.add(row)
    return row


def visit_added(session: Session, patient_id: str, at: datetime, triage: str | None,
                review_after: timedelta | None) -> None:
    """Count a stored visit; the newest visit's triage and first review win."""
    row = summary(session, patient_id)
    row.visit_count = (row.visit_count or 0) + 1
    if row.last_visit_at is None or at >= row.last_visit_at:
        row.last_visit_at = at
        if triage is not None:
            row.triage, row.triage_rank = triage, rank(triage)
        row.review_due_at = at + review_after if review_after is not None else None


def recount_alerts(session: Session, patient_id: str) -> None:
    """The summary's open-alert figures from the alerts themselves."""
    session.flush()
    count, oldest = session.execute(
        select(func.count(), func.min(Alert.created_at))
        .where(Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None))).one()
    levels = session.scalars(select(Alert.level).distinct()
                             .where(Alert.patient_id == patient_id,
                                    Alert.acknowledged_at.is_(None))).all()
    row = summary(session, patient_id)
    row.open_alerts = count or 0
    row.oldest_open_alert_at = oldest
    row.alert_rank = max((rank(level) for level in levels), default=0)


@dataclass(frozen=True)
class Filters:
    query: str = ""
    open_alerts: bool = False
    triage: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class WorklistRow:
    patient: Patient
    summary: PatientSummary | None


def worklist(session: Session, clinician_id: int, filters: Filters, sort: Sort, now: datetime,
             *, limit: int, offset: int) -> tuple[Sequence[WorklistRow], int]:
    """A page of the clinician's patients and how many match in all. Every order ends with
    the name and the id, so pages are stable and a patient is never shown twice."""
    alert_rank = func.coalesce(PatientSummary.alert_rank, 0)
    triage_rank = func.coalesce(PatientSummary.triage_rank, 0)
    name = func.lower(Patient.display_name)
    where: list[ColumnElement[bool]] = [CareTeamMember.user_id == clinician_id]
    if filters.query:
        escaped = (filters.query.lower().replace("\\", "\\\\").replace("%", "\\%")
                   .replace("_", "\\_"))
        where.append(name.like(f"%{escaped}%", escape="\\"))
    if filters.open_alerts:
        where.append(PatientSummary.open_alerts > 0)
    if filters.triage is not None:
        where.append(PatientSummary.triage == filters.triage)
    if filters.overdue:
        where.append(PatientSummary.review_due_at <= now)
    review = PatientSummary.review_due_at.asc().nulls_last()
    by: dict[str, list[Any]] = {
        "priority": [alert_rank.desc(), triage_rank.desc(), review],
        "alerts": [alert_rank.desc(), func.coalesce(PatientSummary.open_alerts, 0).desc(),
                   PatientSummary.oldest_open_alert_at.asc().nulls_last()],
        "triage": [triage_rank.desc()],
        "review": [review],
        "name": [],
    }
    orders = by[sort]
    base = (select(Patient, PatientSummary)
            .join(CareTeamMember, CareTeamMember.patient_id == Patient.id)
            .outerjoin(PatientSummary, PatientSummary.patient_id == Patient.id)
            .where(and_(*where)))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(*orders, name, Patient.id)
                           .limit(limit).offset(offset)).all()
    return [WorklistRow(p, s) for p, s in rows], total
