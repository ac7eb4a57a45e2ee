"""Passkeys (WebAuthn credentials) and the one-time challenges handed out for them.

A challenge is 32 random bytes given to one browser (bound to its session or pre-session
cookie, as ``owner``) for one purpose (adding a passkey, signing in); only its sha256 is kept.
The response that brings it back spends it in one conditional UPDATE, so a challenge answers
once, even when the same signed response is sent twice at the same time (a replay).
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from spinecare.store.models import Passkey, PasskeyChallenge, User

#: How long a challenge may be answered: the browser's own prompt times out well before.
CHALLENGE_TTL = timedelta(minutes=5)
#: Spent and expired challenges are deleted after this (they prove nothing any more).
_KEEP = timedelta(hours=1)


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def issue_challenge(session: Session, owner: str, purpose: str, now: datetime,
                    ttl: timedelta = CHALLENGE_TTL, handle: str | None = None) -> bytes:
    """A new challenge; ``handle`` is the user handle the browser was given with it (adding
    a passkey), kept until the answer comes back."""
    challenge = secrets.token_bytes(32)
    session.add(PasskeyChallenge(challenge_hash=_hash(challenge), owner=owner[:80],
                                 purpose=purpose[:16], user_handle=handle, created_at=now,
                                 expires_at=now + ttl, used_at=None))
    if random.random() < 0.05:
        session.execute(delete(PasskeyChallenge).where(
            PasskeyChallenge.expires_at < now - _KEEP))
    return challenge


@dataclass(frozen=True)
class Spent:
    handle: str | None


def spend_challenge(session: Session, challenge: bytes, owner: str, purpose: str,
                    now: datetime) -> Spent | None:
    """The challenge, now spent, if it was open for this browser and purpose; else ``None``."""
    done = session.execute(
        update(PasskeyChallenge)
        .where(PasskeyChallenge.challenge_hash == _hash(challenge),
               PasskeyChallenge.owner == owner[:80], PasskeyChallenge.purpose == purpose[:16],
               PasskeyChallenge.used_at.is_(None), PasskeyChallenge.expires_at > now)
        .values(used_at=now).returning(PasskeyChallenge.user_handle)
        .execution_options(synchronize_session=False)).first()
    return None if done is None else Spent(done[0])


def of_user(session: Session, user_id: int) -> Sequence[Passkey]:
    return session.scalars(select(Passkey).where(Passkey.user_id == user_id)
                           .order_by(Passkey.created_at, Passkey.id)).all()


def count_of_patient(session: Session, patient_id: str) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Passkey).join(User, User.id == Passkey.user_id)
        .where(User.patient_id == patient_id)) or 0)


def handle_of(session: Session, user_id: int) -> str | None:
    """The account's WebAuthn user handle, if it has a passkey (one handle per account, so
    a device keeps one passkey per account rather than piling them up)."""
    return session.scalar(select(Passkey.user_handle).where(Passkey.user_id == user_id)
                          .order_by(Passkey.id).limit(1))


def by_credential(session: Session, credential_id: str) -> Passkey | None:
    return session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))


def add(session: Session, row: Passkey) -> Passkey:
    session.add(row)
    session.flush()
    return row


def used(session: Session, passkey_id: int, old_count: int, new_count: int,
         now: datetime) -> bool:
    """Record a sign-in with the passkey: its counter moves from ``old_count`` to
    ``new_count`` only if nobody else moved it meanwhile (two sign-ins at once: one wins)."""
    done = session.execute(
        update(Passkey).where(Passkey.id == passkey_id, Passkey.sign_count == old_count)
        .values(sign_count=new_count, last_used_at=now)
        .execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0))


def remove(session: Session, user_id: int, passkey_id: int) -> bool:
    done = session.execute(delete(Passkey).where(Passkey.id == passkey_id,
                                                 Passkey.user_id == user_id)
                           .execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0))


def remove_all(session: Session, user_id: int) -> int:
    done = session.execute(delete(Passkey).where(Passkey.user_id == user_id)
                           .execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)
