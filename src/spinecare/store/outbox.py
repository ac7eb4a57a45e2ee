"""The e-mail outboxes (alert e-mails, education e-mails): rows a worker claims and sends.

Each kind of e-mail has its own table, but the same life: ``pending`` with a time it is next due,
leased by one worker while it sends, then ``sent``, due again later, or ``failed`` after the
last retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spinecare.store.models import AlertEmail, EducationEmail, SigninEmail

Email = TypeVar("Email", AlertEmail, EducationEmail, SigninEmail)


def claim_due(session: Session, model: type[Email], now: datetime,
              lease: timedelta) -> Email | None:
    """The next e-mail of ``model`` due, leased for ``lease`` so no other worker takes it
    meanwhile (the lease is taken only if nobody moved the row since it was read)."""
    for row in session.scalars(select(model).where(
            model.status == "pending", model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id).limit(5)).all():
        taken = session.execute(
            update(model).where(model.id == row.id,
                                model.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False))
        if getattr(taken, "rowcount", 0):
            session.refresh(row)
            return row
    return None


def record_attempt(email: AlertEmail | EducationEmail | SigninEmail, now: datetime,
                   error: str | None, retry_after: tuple[timedelta, ...]) -> str:
    """Write down one attempt to send ``email``: ``sent``, ``retrying`` (due again after the
    next wait) or ``failed`` (no wait left); the outcome is returned."""
    email.attempts += 1
    if error is None:
        email.status, email.sent_at, email.next_attempt_at = "sent", now, None
        email.last_error = None
        return "sent"
    if email.attempts > len(retry_after):
        email.status, email.next_attempt_at, email.last_error = "failed", None, error
        return "failed"
    email.next_attempt_at = now + retry_after[email.attempts - 1]
    email.last_error = error
    return "retrying"
