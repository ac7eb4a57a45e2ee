"""Passwords: which are good enough, and hashing them off the event loop and off any
database transaction.

Which passwords are accepted (NIST SP 800-63B section 5.1.1.2: length, and no password from
lists of breached or common ones; no composition rules):

- 12 to 1,024 characters (the upper bound keeps one argon2 call cheap), not only whitespace;
- a zxcvbn score of at least 3 ("safely unguessable", about 10^8 guesses) by the ``zxcvbn``
  package, whose dictionaries (common passwords from public breaches, English words, names,
  keyboard patterns) are shipped with it: nothing is fetched at run time. The username and the
  service's name count as known words.

Hashing is argon2id (argon2-cffi's defaults, RFC 9106's second recommended set; about 0.2 s).
:data:`HASHING` is a small thread pool of its own, so a flood of sign-ins queues for it and
neither holds a database lock nor starves the threads that answer other requests (on Linux its
threads run at a lower priority, niceness 10, so a flood of sign-ins yields the CPU to every
other request); when more than :data:`MAX_WAITING` are already queued, :class:`HashingBusy`
refuses at once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from spinecare.errors import SpinecareError

MIN_LENGTH = 12
MAX_LENGTH = 1024
MIN_SCORE = 3
# zxcvbn's own bound: its matching is quadratic in the length.
_SCORED_PREFIX = 72

hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time.
DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
# zxcvbn keeps the user inputs of the call in a module global.
_zxcvbn_lock = threading.Lock()

T = TypeVar("T")


def problem(password: str, *, username: str = "") -> str | None:
    """Why ``password`` is refused, or ``None``."""
    if not password.strip():
        return "the password must not be only spaces"
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    with _zxcvbn_lock:
        result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username, "spinecare"])
    if result["score"] < MIN_SCORE:
        return ("the password is too easy to guess (it is common, in a list of breached "
                "passwords, or close to a word or pattern); a few unrelated words work well")
    return None


class HashingBusy(SpinecareError):
    """Too many passwords are already waiting to be hashed; try again in a moment."""


class HashPool:
    """A bounded pool for argon2: ``workers`` threads and at most ``max_waiting`` queued."""

    def __init__(self, workers: int, max_waiting: int):
        self.workers = workers
        self.max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix="spinecare-argon2",
                                        initializer=_lower_priority)
        self._slots = threading.BoundedSemaphore(workers + max_waiting)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy("too many sign-ins at once")
        try:
            future = self._pool.submit(fn)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        return future


def _lower_priority() -> None:
    """Let every other request's work go first: on Linux a thread has its own nice value,
    and the threads argon2 starts for its lanes inherit it."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


def _workers() -> int:
    # argon2-cffi hashes with 4 lanes in parallel threads: one or two hashes at a time already
    # keep the cores busy, and more would only take CPU from every other request.
    return max(1, min(4, (os.cpu_count() or 2) // 2))


MAX_WAITING = 64
_NICE = 10
HASHING = HashPool(_workers(), MAX_WAITING)


def verify(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored`` (the dummy hash when ``None``), and a new hash
    when the stored one was made with weaker parameters than today's."""
    target = stored or DUMMY_HASH
    try:
        hasher.verify(target, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None
