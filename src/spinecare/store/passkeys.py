"""Passkeys (WebAuthn credentials) and the one-time challenges handed out for them.

A challenge is signed, not stored (:class:`Challenges`): 16 random bytes, its expiry, and the
HMAC-SHA256 under the service's secret of those, the browser it was given to (its session or
pre-session cookie, as ``owner``), its purpose (adding a passkey, signing in) and, for adding
one, the user handle given with it, which follows as the challenge's last bytes. So the
sign-in page, open to anyone, writes nothing when it hands one out. The response that brings
it back spends it by inserting its sha256, so a challenge answers once, even when the same
signed response is sent twice at the same time (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from spinecare.store.models import Passkey, PasskeyChallenge, User
from spinecare.store.once import insert_once, seal
from spinecare.store.stamps import moment_of, seconds_of

#: How long a challenge may be answered: the browser's own prompt times out well before.
CHALLENGE_TTL = timedelta(minutes=5)
#: Spent challenges are deleted this long after their expiry (they prove nothing any more).
_KEEP = timedelta(hours=1)
_DOMAIN = "spinecare.passkey-challenge/1"
# nonce, expiry (8 bytes, seconds since 1970), HMAC; then the user handle (ASCII), if any
_NONCE, _EXPIRY, _MAC = 16, 8, 32
_FIXED = _NONCE + _EXPIRY + _MAC
#: Longest user handle carried in a challenge (they are base64url of 32 bytes: 43 characters).
MAX_HANDLE = 100


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


@dataclass(frozen=True)
class Opened:
    """What a genuine challenge says: when it expires, and the user handle given with it."""

    expires: datetime
    handle: str | None


@dataclass(frozen=True)
class Challenges:
    """Challenges signed with ``secret`` (the service's secret key)."""

    secret: str = field(repr=False)

    def _mac(self, owner: str, purpose: str, head: bytes, handle: bytes) -> bytes:
        return seal(self.secret, _DOMAIN, owner, purpose, head.hex(), handle.hex())

    def issue(self, owner: str, purpose: str, now: datetime,
              ttl: timedelta = CHALLENGE_TTL, handle: str | None = None) -> bytes:
        """A new challenge; ``handle`` is the user handle the browser was given with it
        (adding a passkey), carried in the challenge until the answer comes back."""
        tail = (handle or "").encode("ascii")
        if len(tail) > MAX_HANDLE:
            raise ValueError("user handle too long for a challenge")
        head = secrets.token_bytes(_NONCE) + seconds_of(now + ttl).to_bytes(_EXPIRY, "big")
        return head + self._mac(owner, purpose, head, tail) + tail

    def opened(self, challenge: bytes, owner: str, purpose: str) -> Opened | None:
        """The challenge's contents if it was issued here to ``owner`` for ``purpose``
        (expired or not); ``None`` for any other bytes."""
        if not _FIXED <= len(challenge) <= _FIXED + MAX_HANDLE:
            return None
        head, mac, tail = (challenge[:_NONCE + _EXPIRY], challenge[_NONCE + _EXPIRY:_FIXED],
                           challenge[_FIXED:])
        if not hmac.compare_digest(mac, self._mac(owner, purpose, head, tail)):
            return None
        seconds = int.from_bytes(head[_NONCE:], "big")
        return Opened(moment_of(seconds), tail.decode("ascii") or None)


@dataclass(frozen=True)
class Spent:
    handle: str | None


def spend_challenge(session: Session, challenges: Challenges, challenge: bytes, owner: str,
                    purpose: str, now: datetime) -> Spent | None:
    """The challenge, now spent, if it was issued to this browser for this purpose and is
    neither expired nor spent before; else ``None``."""
    opened = challenges.opened(challenge, owner, purpose)
    if opened is None or opened.expires <= now:
        return None
    if not insert_once(session, PasskeyChallenge, {
            "challenge_hash": _hash(challenge), "owner": owner[:80], "purpose": purpose[:16],
            "user_handle": opened.handle, "created_at": now, "expires_at": opened.expires,
            "used_at": now}, "challenge_hash"):
        return None
    if random.random() < 0.05:
        session.execute(delete(PasskeyChallenge).where(
            PasskeyChallenge.expires_at < now - _KEEP))
    return Spent(opened.handle)


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
