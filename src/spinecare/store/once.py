"""One-time form tokens: a form is written once, however often it is sent.

A token is issued with a form (a random value; only its sha256 is stored), bound to who it
was issued to (an account, or a browser before sign-in) and to the form's purpose (which
form, for which record), and it expires. The form's write spends it in the write's own
transaction, recording where the write's result is shown; a second send of the same form
finds it spent, its transaction rolls back (so nothing is written twice), and the sender is
led to that result. A crash between the write and the spending cannot happen: they commit
together or not at all.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from spinecare.errors import SpinecareError
from spinecare.store.models import FormToken

#: How long a form stays good: a working day, so a visit form left open through a clinic
#: session (or an intake question left over lunch) still saves.
LIFETIME = timedelta(hours=12)
#: Spent and expired tokens are kept this long after expiry (a late Back still finds its
#: result), then pruned.
KEEP = timedelta(days=1)

State = Literal["open", "spent", "unknown"]


class Spent(SpinecareError):
    """The form was sent before: nothing of this send is kept (the transaction rolls back);
    ``location`` is where the first send's result is shown (``None`` if unknown)."""

    def __init__(self, location: str | None):
        super().__init__("This form was already sent")
        self.location = location


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(session: Session, owner: str, purpose: str, now: datetime,
          lifetime: timedelta = LIFETIME) -> str:
    token = secrets.token_urlsafe(24)
    session.add(FormToken(token_hash=hash_of(token), owner=owner[:80], purpose=purpose[:120],
                          created_at=now, expires_at=now + lifetime, used_at=None,
                          location=None))
    if random.random() < 0.02:
        prune(session, now)
    return token


@dataclass(frozen=True)
class Found:
    state: State
    location: str | None = None


def look(session: Session, token: str, owner: str, purpose: str, now: datetime) -> Found:
    """Whether ``token`` is open for this owner and purpose, spent (and where its result is),
    or unknown (never issued to them, for another form, or expired)."""
    row = session.get(FormToken, hash_of(token))
    if row is None or row.owner != owner[:80] or row.purpose != purpose[:120]:
        return Found("unknown")
    if row.used_at is not None:
        return Found("spent", row.location)
    if row.expires_at <= now:
        return Found("unknown")
    return Found("open")


def spend(session: Session, token: str, owner: str, purpose: str, location: str,
          now: datetime) -> None:
    """Mark ``token`` used, with where its result is, or raise :class:`Spent` (the caller's
    transaction then rolls back). One conditional UPDATE: of two sends at once, one wins."""
    digest = hash_of(token)
    done = session.execute(
        update(FormToken)
        .where(FormToken.token_hash == digest, FormToken.owner == owner[:80],
               FormToken.purpose == purpose[:120], FormToken.used_at.is_(None),
               FormToken.expires_at > now)
        .values(used_at=now, location=location[:500])
        .execution_options(synchronize_session=False))
    if not getattr(done, "rowcount", 0):
        earlier = session.scalar(select(FormToken.location).where(
            FormToken.token_hash == digest, FormToken.owner == owner[:80]))
        raise Spent(earlier)


def prune(session: Session, now: datetime) -> None:
    session.execute(delete(FormToken).where(FormToken.expires_at < now - KEEP))


#: What a use case calls in its write transaction to spend the form that asked for the write:
#: with the session and the id of what it wrote (the result's location is built from it).
Claim = Callable[[Session, str], None]
