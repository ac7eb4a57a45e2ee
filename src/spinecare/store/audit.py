"""The audit trail: who did what to which patient, from where, and why a refusal was refused.

Every event carries the source address of the request it belongs to. Use cases do not pass it
down: the HTTP layer binds a :class:`RequestSource` to the request's context
(:func:`bind_request`) and :func:`audit` reads it, so no use case can forget it. The same
object tells the HTTP layer whether the request already recorded its refusal.

Events are chained (:mod:`spinecare.store.chain`). Appending reads the chain's head inside the
writing transaction: on SQLite the transaction already holds the write lock (``BEGIN
IMMEDIATE``); on PostgreSQL a transaction-scoped advisory lock serialises appenders from the
head's read to their commit, so ids, commit order and the chain agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from spinecare.store.chain import GENESIS, event_hash
from spinecare.store.models import AuditEvent
from spinecare.store.stamps import utcnow

if TYPE_CHECKING:
    from spinecare.store.accounts import Principal

# Any constant: the advisory lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK = 0x5350494E45
_ID = re.compile(r"[0-9a-f]{32}")
_REASON_MAX = 200
_USERNAME_MAX = 150


def is_id(value: str) -> bool:
    """Whether ``value`` has the form of the ids this store hands out. Anything else cannot
    name a row, and is never sent to the database (PostgreSQL refuses NUL characters)."""
    return _ID.fullmatch(value) is not None


@dataclass
class RequestSource:
    """The request an event belongs to: where it came from, who it turned out to be, and
    whether a refusal of it was audited already."""

    address: str | None
    actor: Principal | None = None
    refusal_audited: bool = False


_request: ContextVar[RequestSource | None] = ContextVar("spinecare_request", default=None)


@contextmanager
def bind_request(source: RequestSource) -> Iterator[RequestSource]:
    """Make ``source`` the request of every event audited in this context (threads started
    through ``run_in_threadpool`` inherit it)."""
    token = _request.set(source)
    try:
        yield source
    finally:
        _request.reset(token)


def current_request() -> RequestSource | None:
    return _request.get()


def _safe(value: str | None) -> str | None:
    if value is None or is_id(value) or (value.isdigit() and len(value) < 20):
        return value
    return "(malformed)"


def _printable(value: str | None, limit: int) -> str | None:
    """A value quoted from a request, fit to store and to show: no control characters (a NUL
    cannot even be stored in PostgreSQL), and bounded."""
    if value is None:
        return None
    cleaned = "".join(c if c.isprintable() else "\ufffd" for c in value)
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "\u2026"


def _head(session: Session) -> str:
    """The hash of the newest event, as this transaction sees it, holding the chain's lock."""
    transaction = session.get_transaction()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        head: str = cached[1]
        return head
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    found = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return found or GENESIS


def audit(session: Session, actor: Principal | None, action: str, *,
          patient_id: str | None = None, target_id: str | None = None,
          outcome: str = "ok", reason: str | None = None,
          username: str | None = None) -> None:
    """Record who did what to which patient, from where, and for a refusal why. Ids only:
    never names or clinical content (``username`` is the attempted login name of a failed
    sign-in, already normalised)."""
    source = _request.get()
    if outcome != "ok":
        reason = reason or outcome
        if source is not None:
            source.refusal_audited = True
    event = AuditEvent(
        at=utcnow(), actor_id=actor.user_id if actor else None,
        actor_role=actor.role if actor else None, action=action,
        patient_id=_safe(patient_id), target_id=_safe(target_id), outcome=outcome,
        address=source.address if source else None,
        reason=_printable(reason, _REASON_MAX), username=_printable(username, _USERNAME_MAX))
    event.prev_hash = _head(session)
    event.hash = event_hash({name: getattr(event, name) for name in (
        "at", "actor_id", "actor_role", "action", "patient_id", "target_id", "outcome",
        "address", "reason", "username", "prev_hash")})
    session.add(event)
    session.info["audit_head"] = (session.get_transaction(), event.hash)


def list_audit(session: Session, *, patient_id: str | None, limit: int,
               offset: int) -> tuple[Sequence[AuditEvent], int]:
    where = [AuditEvent.patient_id == patient_id] if patient_id else []
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = session.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found: how many events it checked, the head hash, and each
    broken link by event id."""

    events: int
    head: str
    problems: list[tuple[int, str]]


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the whole trail in id order and check every event's hash and link."""
    previous, count, last_id = GENESIS, 0, -1
    problems: list[tuple[int, str]] = []
    columns = [AuditEvent.id, AuditEvent.at, AuditEvent.actor_id, AuditEvent.actor_role,
               AuditEvent.action, AuditEvent.patient_id, AuditEvent.target_id,
               AuditEvent.outcome, AuditEvent.address, AuditEvent.reason, AuditEvent.username,
               AuditEvent.prev_hash, AuditEvent.hash]
    while True:
        rows = session.execute(select(*columns).where(AuditEvent.id > last_id)
                               .order_by(AuditEvent.id).limit(batch)).mappings().all()
        if not rows:
            break
        for row in rows:
            count += 1
            last_id = row["id"]
            if row["prev_hash"] != previous:
                problems.append((row["id"], "does not follow the event before it (an event "
                                            "before it was changed, removed or inserted)"))
            if event_hash(dict(row)) != row["hash"]:
                problems.append((row["id"], "its content does not match its hash (the event "
                                            "was changed)"))
            previous = row["hash"] or ""
    return ChainReport(count, previous, problems)
