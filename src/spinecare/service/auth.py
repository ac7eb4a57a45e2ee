"""Signing in and out. Every attempt is audited with the attempted (normalised) username and
the source address; a failed one without an actor, with its reason.

Sign-in runs in three steps so that no database lock is held while a password is hashed:

1. a short write transaction counts the attempt against the throttle's keys (or refuses it,
   audited, when one is locked) and reads the account's hash;
2. argon2 runs in the bounded hashing pool (:data:`spinecare.store.passwords.HASHING`),
   awaited, so it occupies neither a database connection nor a request thread;
3. a second short transaction issues the token (or audits the failure).

Step 1 is also gated: at most :data:`GATE_WIDTH` sign-ins are in it at once, waiting without a
thread or a connection. Otherwise a flood of sign-ins queues dozens of write transactions at once,
and every other request's audit write waits behind all of them (30 at once cost a patient read
about 170 ms at p99); the flood loses nothing by it, since the hasher is its bottleneck anyway.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio.to_thread import run_sync as run_in_threadpool

from spinecare.service.errors import NotAuthenticated, Throttled, Unavailable
from spinecare.store import accounts, passwords, records, throttle, usernames
from spinecare.store.accounts import LoginCandidate, Principal
from spinecare.store.db import Database
from spinecare.store.models import User
from spinecare.store.stamps import utcnow
from spinecare.store.throttle import ThrottlePolicy

_LOGIN = "auth.login"
GATE_WIDTH = 2

# One gate per event loop (an asyncio semaphore belongs to the loop it first waits on; tests
# run several loops).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(GATE_WIDTH)
    return gate


@dataclass(frozen=True)
class Token:
    """A new bearer token (the API's token and the web's session cookie alike)."""

    token: str
    expires_at: datetime


def _begin(db: Database, typed: str, attempted: str, key: str, address: str | None,
           policy: ThrottlePolicy, device: str | None) -> LoginCandidate | None:
    with db.session() as session:
        wait = throttle.charge(session, policy, key, address, utcnow(), device)
        if wait is not None:
            records.audit(session, None, _LOGIN, outcome="throttled", username=attempted,
                          reason=f"too many failed sign-ins; retry after {wait:.0f} s")
            raise Throttled("Too many failed sign-ins; try again later", wait)
        return accounts.login_candidate(session, typed)


def _finish(db: Database, attempted: str, key: str, address: str | None,
            policy: ThrottlePolicy, found: LoginCandidate | None, correct: bool,
            rehashed: str | None, ttl: timedelta, device: str | None) -> Token:
    with db.session() as session:
        user = session.get(User, found.user_id) if found else None
        reason: str | None = None
        if found is None:
            reason = "unknown username"
        elif not correct:
            reason = "wrong password"
        elif user is None or user.password_hash != found.password_hash:
            reason = "the password was changed meanwhile"
        elif not found.may_sign_in or user.disabled:
            reason = "the account cannot sign in (disabled, or a patient account)"
        if reason is not None or user is None:
            throttle.failed(session, policy, key, address, utcnow(), device)
            records.audit(session, None, _LOGIN, outcome="denied", username=attempted,
                          target_id=str(found.user_id) if found else None, reason=reason)
            raise NotAuthenticated("Incorrect username or password")
        if rehashed:
            user.password_hash = rehashed
        throttle.succeeded(session, policy, key, address, device)
        token, expires = accounts.issue_token(session, user.id, ttl)
        records.audit(session, accounts.principal_of(user), _LOGIN, username=attempted)
    return Token(token, expires)


async def login(db: Database, username: str, password: str, ttl: timedelta, *,
                address: str | None = None,
                policy: ThrottlePolicy | None = None, device: str | None = None) -> Token:
    """A token for a clinician or admin, valid for ``ttl``; :class:`Throttled` while the
    account or the address is locked, :class:`Unavailable` when too many sign-ins queue.
    ``device`` is the id of a known device of this account (checked by the caller,
    :mod:`spinecare.http.devices`): the account's lock from everywhere does not stop it."""
    rules = policy or ThrottlePolicy()
    # Longer than any username: a key of a megabyte of text helps nobody.
    typed = username[:2 * usernames.MAX_LENGTH]
    attempted = usernames.canonical(typed)
    key = usernames.username_key(typed)
    async with _gate():
        found = await run_in_threadpool(_begin, db, typed, attempted, key, address, rules,
                                        device)
        candidate_hash = found.password_hash if found else None
        try:
            future = passwords.HASHING.submit(
                lambda: passwords.verify(candidate_hash, password))
        except passwords.HashingBusy:
            busy = True
        else:
            busy = False
    if busy:
        await run_in_threadpool(_busy, db, attempted)
        raise Unavailable("Too many sign-ins at once; try again in a moment", 1)
    correct, rehashed = await asyncio.wrap_future(future)
    return await run_in_threadpool(_finish, db, attempted, key, address, rules, found,
                                   correct, rehashed, ttl, device)


def _busy(db: Database, attempted: str) -> None:
    with db.session() as session:
        records.audit(session, None, _LOGIN, outcome="busy", username=attempted,
                      reason="too many sign-ins waiting for the password hasher")


def logout(db: Database, who: Principal, token_hash: str) -> None:
    """Revoke the token whose sha256 is ``token_hash``."""
    with db.session() as session:
        accounts.revoke_token(session, token_hash)
        records.audit(session, who, "auth.revoke")
