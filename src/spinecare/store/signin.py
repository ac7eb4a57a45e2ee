"""Patient sign-in links sent by e-mail, and their outbox.

A link is a row with a random id; the e-mailed link carries that id signed with the service's
secret (itsdangerous, time-limited), so a copy of the database signs nobody in. A new link
cancels the patient's open ones (only the newest works); redeeming marks the row used in one
conditional UPDATE, so a link works exactly once even when opened twice at the same time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinecare.store import outbox
from spinecare.store.models import PatientAddress, SigninEmail, SigninLink, User
from spinecare.store.stamps import new_id

_SALT = "spinecare.signin/1"


def patients_at(session: Session, email: str) -> list[str]:
    """The patients whose address on record is ``email`` (compared without case: a family may
    share one address, so there can be several)."""
    key = email.strip().lower()
    return list(session.scalars(select(PatientAddress.patient_id).where(
        func.lower(PatientAddress.email) == key).order_by(PatientAddress.patient_id).limit(10)))


def address_of(session: Session, patient_id: str) -> str | None:
    row = session.get(PatientAddress, patient_id)
    return row.email if row else None


def account_of(session: Session, patient_id: str) -> User | None:
    return session.scalar(select(User).where(User.patient_id == patient_id))


def cancel_links(session: Session, patient_id: str, now: datetime) -> int:
    done = session.execute(
        update(SigninLink).where(SigninLink.patient_id == patient_id,
                                 SigninLink.used_at.is_(None),
                                 SigninLink.cancelled_at.is_(None))
        .values(cancelled_at=now).execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


def create_link(session: Session, patient_id: str, requested_by: int | None, address: str,
                ttl: timedelta, now: datetime) -> SigninLink:
    """A new link for the patient, its e-mail queued to ``address``; older links stop
    working."""
    cancel_links(session, patient_id, now)
    link = SigninLink(id=new_id(), patient_id=patient_id, requested_by=requested_by,
                      created_at=now, expires_at=now + ttl, used_at=None, cancelled_at=None)
    session.add(link)
    session.flush()
    session.add(SigninEmail(link_id=link.id, patient_id=patient_id, address=address,
                            created_at=now, status="pending", attempts=0,
                            next_attempt_at=now))
    return link


def token_of(secret_key: str, link_id: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_SALT).dumps(link_id)


def redeem(session: Session, secret_key: str, token: str, ttl: timedelta,
           now: datetime) -> User | None:
    """The patient's account for a valid, unused, newest link (created on first use, as an
    invitation does), marking the link used; ``None`` for any other token."""
    try:
        link_id = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(
            token, max_age=int(ttl.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(link_id, str):
        return None
    claimed = session.execute(
        update(SigninLink)
        .where(SigninLink.id == link_id, SigninLink.used_at.is_(None),
               SigninLink.cancelled_at.is_(None), SigninLink.expires_at > now)
        .values(used_at=now)
        .returning(SigninLink.patient_id)).first()
    if claimed is None:
        return None
    patient_id: str = claimed[0]
    user = account_of(session, patient_id)
    if user is None:
        user = User(username=None, role="patient", password_hash=None, patient_id=patient_id,
                    disabled=False, created_at=now)
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            user = account_of(session, patient_id)
            if user is None:
                raise
    return user if not user.disabled else None


def link_open(session: Session, link_id: str, now: datetime) -> bool:
    link = session.get(SigninLink, link_id)
    return link is not None and link.used_at is None and link.cancelled_at is None \
        and link.expires_at > now


def claim_email(session: Session, now: datetime, lease: timedelta) -> SigninEmail | None:
    return outbox.claim_due(session, SigninEmail, now, lease)
