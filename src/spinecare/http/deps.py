"""The app's database and settings, and the principal a bearer token stands for.

Every request reads its token's row and its user's row (one indexed join by primary keys, a
prebuilt statement on a plain connection: :func:`spinecare.store.lifecycle.check_token`):
a revoked token, a disabled account or a password reset holds from the next request on every
worker. An in-memory cache of validated tokens used to save that query; it let a revoked token
work for up to 10 s, or indefinitely on another worker's cache entry, and the query it saved
costs little next to the request (figures in README, "Several workers"). The API's bearer
header and the web's session cookie carry the same tokens, so both doors look them up here.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from spinecare.http.settings import Settings
from spinecare.store.accounts import Principal, hash_token
from spinecare.store.audit import current_request
from spinecare.store.db import Database
from spinecare.store.lifecycle import check_token


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def principal_of_token(request: Request, token: str) -> Principal | None:
    """Who ``token`` stands for, from the database (``None``: nobody)."""
    found = await run_in_threadpool(check_token, get_db(request), hash_token(token))
    if found is None:
        return None
    who = found[0]
    # Who the request's refusal, if any, is audited as.
    source = current_request()
    if source is not None:
        source.actor = who
    return who


def forget_token(request: Request, token: str) -> str:
    """The hash of ``token``, for revoking it (nothing else holds it: every check reads the
    database)."""
    return hash_token(token)
