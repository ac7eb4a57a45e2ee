"""One-time form tokens: a form is written once, however often it is sent.

A token is issued with a form and signed with the service's secret (HMAC-SHA256) over who it
was issued to (an account, or a browser before sign-in), the form's purpose (which form, for
which record), a random nonce and its expiry. Issuing writes nothing: a flood of form pages,
the sign-in page's above all, costs no row and never waits for the database's write lock.
The form's write spends the token in the write's own transaction by inserting its sha256
with where the write's result is shown; a second send of the same form finds that row, its
transaction rolls back (so nothing is written twice), and the sender is led to that result.
A crash between the write and the spending cannot happen: they commit together or not at
all. Only spent tokens are stored, and they are pruned a day after they would have expired.

:func:`seal` and :func:`insert_once` are the two halves, shared with the passkeys' one-time
challenges (:mod:`spinecare.store.passkeys`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from spinecare.errors import SpinecareError
from spinecare.store.db import insert_of
from spinecare.store.models import FormToken
from spinecare.store.stamps import moment_of, seconds_of

#: How long a form stays good: a working day, so a visit form left open through a clinic
#: session (or an intake question left over lunch) still saves.
LIFETIME = timedelta(hours=12)
#: Spent tokens are kept this long after their expiry (a late Back still finds its result),
#: then pruned.
KEEP = timedelta(days=1)

State = Literal["open", "spent", "unknown"]

# nonce (16 random bytes) . expiry (hex seconds since 1970, UTC) . HMAC-SHA256: one spelling
# only, so that no second spelling of a spent token could be spent again.
_TOKEN = re.compile(r"([A-Za-z0-9_-]{22})\.([0-9a-f]{1,12})\.([A-Za-z0-9_-]{43})")
_FORM = "spinecare.form-token/1"


class Spent(SpinecareError):
    """The form was sent before: nothing of this send is kept (the transaction rolls back);
    ``location`` is where the first send's result is shown (``None`` if unknown)."""

    def __init__(self, location: str | None):
        super().__init__("This form was already sent")
        self.location = location


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def seal(secret: str, domain: str, *fields: str | int) -> bytes:
    """The HMAC-SHA256 under ``secret`` of ``fields`` (JSON, so no two lists of fields read
    the same) in ``domain`` (so a value signed for one use never passes for another)."""
    message = json.dumps([domain, *fields], ensure_ascii=True, separators=(",", ":"))
    return hmac.new(secret.encode("utf-8", "surrogatepass"),
                    message.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def insert_once(session: Session, table: Any, values: Mapping[str, Any], key: str) -> bool:
    """Insert the row unless one with its ``key`` column is there: ``True`` if this call
    inserted it. Of two transactions at once, the second waits for the first and inserts
    nothing (PostgreSQL), or waits for the write lock and finds it (SQLite)."""
    ins = insert_of(session, table)
    # RETURNING, not the row count: psycopg reports -1 for this statement.
    done = session.execute(ins.values(dict(values)).on_conflict_do_nothing(
        index_elements=[key]).returning(ins.table.c[key]))
    return done.first() is not None


def issue(secret: str, owner: str, purpose: str, now: datetime,
          lifetime: timedelta = LIFETIME) -> str:
    """A new token for a form of ``purpose`` shown to ``owner``; nothing is stored."""
    nonce = secrets.token_urlsafe(16)
    body = f"{nonce}.{seconds_of(now + lifetime):x}"
    return f"{body}.{_b64(seal(secret, _FORM, owner, purpose, body))}"


def _expiry(secret: str, token: str, owner: str, purpose: str) -> datetime | None:
    """When ``token`` expires, if it was issued for this owner and purpose; else ``None``."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    body = f"{found.group(1)}.{found.group(2)}"
    if not hmac.compare_digest(found.group(3), _b64(seal(secret, _FORM, owner, purpose, body))):
        return None
    return moment_of(int(found.group(2), 16))


@dataclass(frozen=True)
class Found:
    state: State
    location: str | None = None


def look(session: Session, secret: str, token: str, owner: str, purpose: str,
         now: datetime) -> Found:
    """Whether ``token`` is open for this owner and purpose, spent (and where its result is),
    or unknown (never issued to them, for another form, or expired)."""
    expires = _expiry(secret, token, owner, purpose)
    if expires is None:
        return Found("unknown")
    spent = session.scalar(select(FormToken.location).where(
        FormToken.token_hash == hash_of(token)))
    if spent is not None:
        return Found("spent", spent or None)
    if expires <= now:
        return Found("unknown")
    return Found("open")


def spend(session: Session, secret: str, token: str, owner: str, purpose: str, location: str,
          now: datetime) -> None:
    """Record ``token`` as used, with where its result is, or raise :class:`Spent` (the
    caller's transaction then rolls back). One insert of its hash: of two sends at once, one
    wins."""
    expires = _expiry(secret, token, owner, purpose)
    digest = hash_of(token)
    if expires is not None and expires > now and insert_once(session, FormToken, {
            "token_hash": digest, "owner": owner[:80], "purpose": purpose[:120],
            "created_at": now, "expires_at": expires, "used_at": now,
            "location": location[:500]}, "token_hash"):
        if random.random() < 0.02:
            prune(session, now)
        return
    earlier = None if expires is None else session.scalar(
        select(FormToken.location).where(FormToken.token_hash == digest))
    raise Spent(earlier or None)


def prune(session: Session, now: datetime) -> None:
    session.execute(delete(FormToken).where(FormToken.expires_at < now - KEEP))


#: What a use case calls in its write transaction to spend the form that asked for the write:
#: with the session and the id of what it wrote (the result's location is built from it).
Claim = Callable[[Session, str], None]
