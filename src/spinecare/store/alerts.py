"""Alerts to a patient's care team, the e-mails that announce them, and the clinicians'
alert addresses. Plain functions over a :class:`Session`; the caller owns the transaction, so
an alert is stored in the same transaction as the report that raised it.

E-mail delivery is claimed row by row with a conditional UPDATE (a lease on
``next_attempt_at``), so two workers, in one process or several, never send one e-mail twice
at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import orjson
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from spinecare.store import outbox
from spinecare.store.models import Alert, AlertAddress, AlertEmail, CareTeamMember, User
from spinecare.store.stamps import new_id, utcnow
from spinecare.store.worklist import rank, recount_alerts
from spinecare.vocabulary import TRIAGE_LEVELS

Status = Literal["open", "acknowledged", "all"]


@dataclass(frozen=True, slots=True)
class NewAlert:
    source: str
    source_id: str | None
    level: str
    flags: tuple[str, ...]
    reasons: tuple[str, ...]


def raise_alert(session: Session, patient_id: str, created_by: int,
                new: NewAlert) -> tuple[Alert, bool]:
    """Store ``new`` on the patient, or count it on the open alert it repeats (same source,
    level and flags): ``(alert, created)``."""
    flags_json = orjson.dumps(sorted(new.flags)).decode()
    now = utcnow()
    same = session.scalar(select(Alert).where(
        Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None),
        Alert.source == new.source, Alert.level == new.level,
        Alert.flags_json == flags_json).order_by(Alert.created_at).limit(1))
    if same is not None:
        same.reports += 1
        same.last_reported_at = now
        return same, False
    alert = Alert(id=new_id(), patient_id=patient_id, source=new.source,
                  source_id=new.source_id, level=new.level, flags_json=flags_json,
                  reasons_json=orjson.dumps(list(new.reasons)).decode(), created_at=now,
                  created_by=created_by, reports=1, last_reported_at=now)
    session.add(alert)
    recount_alerts(session, patient_id)
    return alert, True


def visible_alert(session: Session, clinician_id: int, alert_id: str) -> Alert | None:
    """The alert if it is on the care team of ``clinician_id``."""
    return session.scalar(select(Alert).join(
        CareTeamMember, CareTeamMember.patient_id == Alert.patient_id).where(
        Alert.id == alert_id, CareTeamMember.user_id == clinician_id))


def acknowledge(session: Session, alert: Alert, clinician_id: int, note: str) -> bool:
    """Mark the alert seen, with what was done; false when someone acknowledged it first."""
    done = session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=clinician_id,
                acknowledgement=note)
        .execution_options(synchronize_session=False))
    session.refresh(alert)
    recount_alerts(session, alert.patient_id)
    return bool(getattr(done, "rowcount", 0))


def _status(status: Status) -> list[object]:
    if status == "open":
        return [Alert.acknowledged_at.is_(None)]
    if status == "acknowledged":
        return [Alert.acknowledged_at.is_not(None)]
    return []


def clinician_alerts(session: Session, clinician_id: int, status: Status, *, limit: int,
                     offset: int) -> tuple[Sequence[Alert], int]:
    """Alerts on the clinician's care teams: open ones most severe and oldest first, others
    newest first."""
    where = [CareTeamMember.user_id == clinician_id, *_status(status)]
    base = select(Alert).join(CareTeamMember, CareTeamMember.patient_id == Alert.patient_id)
    total = session.scalar(select(func.count()).select_from(
        base.where(*where).subquery())) or 0  # type: ignore[arg-type]
    severity = case({level: rank(level) for level in TRIAGE_LEVELS}, value=Alert.level,
                    else_=0)
    order = ([severity.desc(), Alert.created_at, Alert.id] if status == "open"
             else [Alert.created_at.desc(), Alert.id])
    rows = session.scalars(base.where(*where)  # type: ignore[arg-type]
                           .order_by(*order).limit(limit).offset(offset)).all()
    return rows, total


def patient_alerts(session: Session, patient_id: str) -> Sequence[Alert]:
    """All the patient's alerts, newest first."""
    return session.scalars(select(Alert).where(Alert.patient_id == patient_id)
                           .order_by(Alert.created_at.desc(), Alert.id)).all()


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: name or "" for uid, name in session.execute(
        select(User.id, User.username).where(User.id.in_(ids)))}


# --- e-mail ---------------------------------------------------------------------------------


def address_of(session: Session, user_id: int) -> str | None:
    row = session.get(AlertAddress, user_id)
    return row.email if row else None


def set_address(session: Session, user_id: int, email: str | None) -> None:
    row = session.get(AlertAddress, user_id)
    if email is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(AlertAddress(user_id=user_id, email=email, updated_at=utcnow()))
    else:
        row.email, row.updated_at = email, utcnow()


def team_addresses(session: Session, patient_id: str) -> list[tuple[int, str, str | None]]:
    """(user id, username, alert address or None) of each active clinician on the team."""
    return [(uid, name or "", email) for uid, name, email in session.execute(
        select(User.id, User.username, AlertAddress.email)
        .join(CareTeamMember, CareTeamMember.user_id == User.id)
        .outerjoin(AlertAddress, AlertAddress.user_id == User.id)
        .where(CareTeamMember.patient_id == patient_id, User.disabled.is_(False))
        .order_by(User.username))]


def queue_emails(session: Session, now: datetime) -> int:
    """An e-mail for each clinician with an address on the team of every open alert not yet
    queued; the number queued."""
    queued = 0
    for alert in session.scalars(select(Alert).where(Alert.acknowledged_at.is_(None),
                                                     Alert.queued_at.is_(None))).all():
        for uid, _, email in team_addresses(session, alert.patient_id):
            if email:
                session.add(AlertEmail(alert_id=alert.id, user_id=uid, address=email,
                                       status="pending", attempts=0, next_attempt_at=now))
                queued += 1
        alert.queued_at = now
    return queued


def claim_email(session: Session, now: datetime, lease: timedelta) -> AlertEmail | None:
    """The next alert e-mail due, leased for ``lease`` so no other worker takes it meanwhile."""
    return outbox.claim_due(session, AlertEmail, now, lease)


def emails_of(session: Session, alert_id: str) -> Sequence[AlertEmail]:
    return session.scalars(select(AlertEmail).where(AlertEmail.alert_id == alert_id)
                           .order_by(AlertEmail.id)).all()
