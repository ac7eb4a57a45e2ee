"""Sign-in throttling: failed attempts counted in the database, so every worker shares them.

Each attempt is counted under three keys before its password is checked (so a burst of
parallel guesses cannot all slip through before the first failure is written):

- the **pair** (this account from this address): the attacker's own line. After
  ``pair_free`` failures each further one doubles a lock, 1 s, 2 s, 4 s... up to 15 minutes.
- the **address** (every account from this address): password spraying. After
  ``address_free`` failures, the same doubling up to 15 minutes.
- the **account** (this account from every address): a guessing attack spread over many
  addresses. After ``account_free`` failures, the same doubling, but only up to one minute.

Why the account's lock is short: it is the only lock an attacker can put on a real user who
signs in from somewhere else, so it must stay short; the attacker's own pair and address
keep their long locks. A spread-out attack still gets at most one guess per minute per
account (1,440 a day), against passwords that zxcvbn scores as needing about 10^8 guesses.

A browser that signed in to the account before (a known device, :mod:`spinecare.http.devices`)
is counted under its own **device** key in place of the account's: the account's lock from
everywhere does not stop it, its pair and address keys still do, and its device key locks as
the account's would (a stolen device cookie is worth one device's guesses, no more).

A key's count is forgotten after ``quiet`` (15 minutes) without a failure, and a successful
sign-in clears its account's and pair's counts and takes back its own count at the address
(never more: one's own account must not reset a spraying count). A refused (locked) attempt
is not counted: it does not make the lock longer, so a user who keeps retrying is not
punished for it. IPv6 addresses count by
their /64, which one subscriber usually holds whole.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from spinecare.store.db import insert_of
from spinecare.store.models import LoginThrottle


@dataclass(frozen=True)
class ThrottlePolicy:
    enabled: bool = True
    pair_free: int = 5
    address_free: int = 30
    account_free: int = 10
    first_delay: timedelta = timedelta(seconds=1)
    pair_max: timedelta = timedelta(minutes=15)
    address_max: timedelta = timedelta(minutes=15)
    account_max: timedelta = timedelta(minutes=1)
    quiet: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class _Rule:
    key: str
    free: int
    longest: timedelta


def address_group(address: str | None) -> str:
    """The unit an address is counted in: itself for IPv4, its /64 for IPv6."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _rules(policy: ThrottlePolicy, account: str, address: str | None,
           device: str | None = None) -> list[_Rule]:
    where = address_group(address)
    # Hashed: an attempted name is anything a client sent (any length, NUL included).
    account = _hashed(account)
    whole = (_Rule(f"device:{account}:{_hashed(device)}", policy.account_free,
                   policy.account_max) if device else
             _Rule(f"account:{account}", policy.account_free, policy.account_max))
    return [_Rule(f"pair:{where}:{account}", policy.pair_free, policy.pair_max),
            _Rule(f"address:{where}", policy.address_free, policy.address_max), whole]


def _lock(policy: ThrottlePolicy, failures: int, rule: _Rule) -> timedelta | None:
    over = failures - rule.free
    if over <= 0:
        return None
    # 2**over overflows nothing: the exponent is capped where the delay passes the longest.
    exponent = min(over - 1, 40)
    delay: timedelta = min(policy.first_delay * (2 ** exponent), rule.longest)
    return delay


def _insert(session: Session, keys: Sequence[str], now: datetime) -> None:
    # In key order, as the locking SELECT below: concurrent sign-ins never wait on each other
    # in opposite orders.
    rows = [{"key": key, "failures": 0, "last_failure": now, "locked_until": None}
            for key in sorted(keys)]
    ins = insert_of(session, LoginThrottle)
    session.execute(ins.values(rows).on_conflict_do_nothing(index_elements=["key"]))


def charge(session: Session, policy: ThrottlePolicy, account: str, address: str | None,
           now: datetime, device: str | None = None) -> float | None:
    """Count one sign-in attempt against ``account`` from ``address`` (from the known
    ``device``, if any), or, when one of its keys is locked, count nothing and return the
    seconds until it is free."""
    if not policy.enabled:
        return None
    rules = _rules(policy, account, address, device)
    keys = [rule.key for rule in rules]
    _insert(session, keys, now)
    rows = {row.key: row for row in session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_(keys))
        .order_by(LoginThrottle.key).with_for_update())}
    waits = [(row.locked_until - now).total_seconds() for row in rows.values()
             if row.locked_until is not None and row.locked_until > now]
    if waits:
        return max(1.0, math.ceil(max(waits)))
    for rule in rules:
        row = rows[rule.key]
        if row.failures and row.last_failure + policy.quiet <= now:
            row.failures = 0
        row.failures += 1
        row.last_failure = now
        lock = _lock(policy, row.failures, rule)
        row.locked_until = now + lock if lock else None
    if random.random() < 0.02:
        prune(session, policy, now)
    return None


def failed(session: Session, policy: ThrottlePolicy, account: str, address: str | None,
           now: datetime, device: str | None = None) -> None:
    """The password was wrong: start the locks this attempt earned from now, when its answer
    goes out, rather than from when it was counted (hashing takes a while)."""
    if not policy.enabled:
        return
    rules = _rules(policy, account, address, device)
    rows = {row.key: row for row in session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_([r.key for r in rules]))
        .order_by(LoginThrottle.key).with_for_update())}
    for rule in rules:
        row = rows.get(rule.key)
        lock = _lock(policy, row.failures, rule) if row is not None else None
        if row is not None and lock is not None:
            row.locked_until = max(row.locked_until or now, now + lock)


def succeeded(session: Session, policy: ThrottlePolicy, account: str,
              address: str | None, device: str | None = None) -> None:
    """A correct password: forget this pair's failures and the account's (or, from a known
    device, the device's: the guesses from elsewhere go on counting), and take back the
    attempt counted against the address (a clinic's many sign-ins from one address are no
    spraying)."""
    if not policy.enabled:
        return
    pair, spraying, whole = _rules(policy, account, address, device)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_([pair.key, whole.key])))
    row = session.get(LoginThrottle, spraying.key, with_for_update=True)
    if row is not None and row.failures > 0:
        row.failures -= 1
        if row.failures <= spraying.free:
            row.locked_until = None


def prune(session: Session, policy: ThrottlePolicy, now: datetime) -> None:
    """Drop the counts nobody needs any more (quiet for long enough, not locked)."""
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure < now - policy.quiet,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))
