"""Request dependencies: the database, the settings, and who is calling.

Token checks must be cheap (``POST /assess`` answers in well under a millisecond): a validated
token is remembered in memory for a few seconds (``Settings.token_cache_seconds``), keyed by its
sha256, and never past its expiry. A revocation through this process drops it at once; one made
by another process takes effect within the cache period.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from spinecare.api.settings import Settings
from spinecare.store.accounts import Principal, hash_token, principal_for_token
from spinecare.store.db import Database

NOT_AUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Invalid or expired token"
PATIENT_NOT_FOUND = "Patient not found"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


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


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request,
                            token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise unauthorized(NOT_AUTHENTICATED)
    token_hash = hash_token(token)
    cache: TokenCache = request.app.state.token_cache
    who = cache.get(token_hash)
    if who is not None:
        return who
    db: Database = request.app.state.db
    found = await run_in_threadpool(_lookup, db, token_hash)
    if found is None:
        raise unauthorized(INVALID_TOKEN)
    who, seconds_left = found
    cache.put(token_hash, who, seconds_left)
    return who


def _lookup(db: Database, token_hash: str) -> tuple[Principal, float] | None:
    from spinecare.store.records import utcnow

    with db.session(read_only=True) as session:
        found = principal_for_token(session, token_hash)
    if found is None:
        return None
    who, expires_at = found
    return who, (expires_at - utcnow()).total_seconds()


Caller = Annotated[Principal, Depends(current_principal)]
DB = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
