"""The app's database, settings and token cache, and the principal a bearer token stands for.

Token checks must be cheap (``POST /assess`` answers in well under a millisecond): a validated
token is remembered in memory for a few seconds (``Settings.token_cache_seconds``), keyed by its
sha256, and never past its expiry. A revocation through this process drops it at once; one made
by another process takes effect within the cache period. The API's bearer header and the web's
session cookie carry the same tokens, so both doors look them up here.
"""

from __future__ import annotations

import threading
import time

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from spinecare.http.settings import Settings
from spinecare.store.accounts import Principal, hash_token, principal_for_token
from spinecare.store.audit import current_request
from spinecare.store.db import Database
from spinecare.store.stamps import utcnow


class TokenCache:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop(token_hash, None)
            return None
        return entry[0]

    def put(self, token_hash: str, who: Principal, seconds_left: float) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token_hash] = (who, time.monotonic() + min(self.seconds, seconds_left))

    def drop(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def token_cache(request: Request) -> TokenCache:
    cache: TokenCache = request.app.state.token_cache
    return cache


async def principal_of_token(request: Request, token: str) -> Principal | None:
    """Who ``token`` stands for, from the cache or else the database (``None``: nobody)."""
    token_hash = hash_token(token)
    cache = token_cache(request)
    who = cache.get(token_hash)
    if who is None:
        found = await run_in_threadpool(_lookup, get_db(request), token_hash)
        if found is None:
            return None
        who, seconds_left = found
        cache.put(token_hash, who, seconds_left)
    # Who the request's refusal, if any, is audited as.
    source = current_request()
    if source is not None:
        source.actor = who
    return who


def forget_token(request: Request, token: str) -> str:
    """Drop ``token`` from this process's cache at once; its hash, for revoking it."""
    token_hash = hash_token(token)
    token_cache(request).drop(token_hash)
    return token_hash


def _lookup(db: Database, token_hash: str) -> tuple[Principal, float] | None:
    with db.session(read_only=True) as session:
        found = principal_for_token(session, token_hash)
    if found is None:
        return None
    who, expires_at = found
    return who, (expires_at - utcnow()).total_seconds()
