"""Signing in and out. Every attempt is audited, a failed one without an actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from spinecare.service.errors import NotAuthenticated
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database


@dataclass(frozen=True)
class Token:
    """A new bearer token (the API's token and the web's session cookie alike)."""

    token: str
    expires_at: datetime


def login(db: Database, username: str, password: str, ttl: timedelta) -> Token:
    """A token for a clinician or admin, valid for ``ttl``."""
    with db.session() as session:
        user = accounts.authenticate(session, username, password)
        if user is None:
            records.audit(session, None, "auth.login", outcome="denied")
            raise NotAuthenticated("Incorrect username or password")
        token, expires = accounts.issue_token(session, user.id, ttl)
        records.audit(session, accounts.principal_of(user), "auth.login")
    return Token(token, expires)


def logout(db: Database, who: Principal, token_hash: str) -> None:
    """Revoke the token whose sha256 is ``token_hash``."""
    with db.session() as session:
        accounts.revoke_token(session, token_hash)
        records.audit(session, who, "auth.revoke")
