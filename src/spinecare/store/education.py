"""Articles sent to patients, the patients' e-mail addresses, and the e-mails that tell them.
Plain functions over a :class:`Session`; the caller owns the transaction, so the articles and
their e-mail are stored together or not at all. Claiming an e-mail works as for alerts
(:func:`spinecare.store.alerts.claim_email`): a conditional UPDATE leases the row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.store import outbox
from spinecare.store.models import EducationEmail, EducationShare, PatientAddress, User
from spinecare.store.stamps import new_id, utcnow


def add_shares(session: Session, patient_id: str, sent_by: int,
               article_ids: Sequence[str]) -> list[EducationShare]:
    now = utcnow()
    rows = [EducationShare(id=new_id(), patient_id=patient_id, article_id=a, sent_by=sent_by,
                           sent_at=now) for a in article_ids]
    session.add_all(rows)
    return rows


def shares_of(session: Session, patient_id: str) -> list[tuple[EducationShare, str]]:
    """The patient's sent articles, newest first, with the sender's username."""
    return [(row, name or "") for row, name in session.execute(
        select(EducationShare, User.username).join(User, User.id == EducationShare.sent_by)
        .where(EducationShare.patient_id == patient_id)
        .order_by(EducationShare.sent_at.desc(), EducationShare.id))]


def address_of(session: Session, patient_id: str) -> str | None:
    row = session.get(PatientAddress, patient_id)
    return row.email if row else None


def language_of(session: Session, patient_id: str) -> str | None:
    """The page language the patient's own account chose, if it has one."""
    return session.scalar(select(User.language).where(User.patient_id == patient_id))


def set_address(session: Session, patient_id: str, email: str | None) -> None:
    row = session.get(PatientAddress, patient_id)
    if email is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(PatientAddress(patient_id=patient_id, email=email, updated_at=utcnow()))
    else:
        row.email, row.updated_at = email, utcnow()


def queue_email(session: Session, patient_id: str, address: str,
                articles: int) -> EducationEmail:
    now = utcnow()
    row = EducationEmail(patient_id=patient_id, address=address, articles=articles,
                         created_at=now, status="pending", attempts=0, next_attempt_at=now)
    session.add(row)
    return row


def claim_email(session: Session, now: datetime, lease: timedelta) -> EducationEmail | None:
    """The next education e-mail due, leased for ``lease`` so no other worker takes it."""
    return outbox.claim_due(session, EducationEmail, now, lease)


def emails_of(session: Session, patient_id: str) -> Sequence[EducationEmail]:
    return session.scalars(select(EducationEmail).where(EducationEmail.patient_id == patient_id)
                           .order_by(EducationEmail.id.desc())).all()
