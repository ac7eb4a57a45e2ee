"""CDS Hooks use cases: registering a client (an EHR) with its key set, admitting a signed call
once (replayed JWT ids refused), recording the cards handed out, storing feedback on them, and
the acceptance statistics.

The caller is a client, not a user: events carry no actor, and name the client's ``iss`` in
their reason. Nothing from ``fhirAuthorization`` ever reaches this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import orjson
from sqlalchemy.orm import Session

from spinecare.errors import Problem
from spinecare.service.errors import Invalid, NotAuthenticated
from spinecare.store import cds as store
from spinecare.store import records
from spinecare.store.cds import CardTypeStats, IssuedCard
from spinecare.store.db import Database
from spinecare.store.models import CdsFeedback
from spinecare.store.stamps import utcnow

ISS_MAX = 500
COMMENT_MAX = 2000


@dataclass(frozen=True, slots=True)
class ClientKeySource:
    iss: str
    jwks_url: str | None
    jwks_json: str | None
    version: str


def _target(value: str) -> str:
    """A UUID (a card's, a hook instance's) in the audit trail's id form."""
    return value.replace("-", "").lower()[:32]


def register_client(db: Database, iss: str, *, jwks_url: str | None = None,
                    jwks_json: str | None = None) -> bool:
    """Register ``iss`` (or replace its key source); true when it is new. The key set is
    checked by the caller (:func:`spinecare.cds.security.parse_jwks`)."""
    problems = []
    if not iss or len(iss) > ISS_MAX or not iss.isprintable():
        problems.append(Problem("iss", f"must be 1 to {ISS_MAX} printable characters"))
    if (jwks_url is None) == (jwks_json is None):
        problems.append(Problem("jwks", "give either a URL or a file"))
    if jwks_url is not None:
        parts = urlsplit(jwks_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            problems.append(Problem("jwks", "must be an http(s) URL"))
    if problems:
        raise Invalid("Invalid client", problems)
    with db.session() as session:
        _client, created = store.put_client(session, iss, jwks_url=jwks_url,
                                            jwks_json=jwks_json)
        records.audit(session, None, "cds.client.register" if created
                      else "cds.client.update", reason=f"client {iss}")
    return created


def client_keys(db: Database, iss: str) -> ClientKeySource | None:
    with db.session(read_only=True) as session:
        found = store.client(session, iss)
        if found is None:
            return None
        return ClientKeySource(found.iss, found.jwks_url, found.jwks_json,
                               found.updated_at.isoformat())


def clients(db: Database) -> list[ClientKeySource]:
    with db.session(read_only=True) as session:
        return [ClientKeySource(c.iss, c.jwks_url, c.jwks_json, c.updated_at.isoformat())
                for c in store.clients(session)]


@dataclass(frozen=True, slots=True)
class Token:
    """A verified JWT's identity: it may be used once."""

    iss: str
    jti: str
    expires_at: datetime


def _admit(session: Session, token: Token, what: str) -> None:
    if not store.remember_jti(session, token.iss, token.jti, token.expires_at):
        records.audit(session, None, what, outcome="denied",
                      reason=f"replayed JWT (jti already used) from client {token.iss}")
        raise NotAuthenticated("The JWT was already used (jti replayed)")


def admit(db: Database, token: Token, what: str) -> None:
    """Accept a verified JWT once: a ``jti`` already used by its ``iss`` is a replay
    (:class:`NotAuthenticated`, audited)."""
    with db.session() as session:
        _admit(session, token, what)


def record_cards(db: Database, iss: str, service: str, hook_instance: str,
                 cards: Sequence[IssuedCard], *, admitting: Token | None = None) -> None:
    """The cards handed to a client, for feedback and statistics; the call audited. With
    ``admitting``, the JWT is accepted in the same transaction (a replay is refused and
    nothing is recorded): one write per call instead of two."""
    with db.session() as session:
        if admitting is not None:
            _admit(session, admitting, f"cds.{service}")
        store.issue_cards(session, service, iss, hook_instance, cards)
        records.audit(session, None, f"cds.{service}", target_id=_target(hook_instance),
                      reason=f"client {iss}; {len(cards)} card(s)")


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    card: str
    outcome: str
    accepted: tuple[str, ...]
    override_system: str | None
    override_code: str | None
    user_comment: str | None
    outcome_at: datetime


def feedback(db: Database, iss: str, service: str, items: Sequence[FeedbackItem]) -> int:
    """Store feedback on cards this service gave this client (all or nothing, each item
    audited); a card it never gave is an :class:`Invalid` naming the item."""
    with db.session() as session:
        known = store.cards(session, {i.card for i in items})
        problems = [Problem(f"feedback[{n}].card", "is not a card this service gave this "
                                                  "client")
                    for n, item in enumerate(items)
                    if item.card not in known or known[item.card].service != service
                    or known[item.card].iss != iss]
        if problems:
            records.audit(session, None, "cds.feedback", outcome="invalid",
                          reason=f"client {iss}; unknown cards")
            raise Invalid("Invalid feedback", problems)
        now = utcnow()
        store.add_feedback(session, [CdsFeedback(
            card_uuid=i.card, outcome=i.outcome,
            accepted_json=orjson.dumps(list(i.accepted)).decode() if i.accepted else None,
            override_system=i.override_system, override_code=i.override_code,
            user_comment=(i.user_comment or None), outcome_at=i.outcome_at, received_at=now,
            iss=iss) for i in items])
        for i in items:
            records.audit(session, None, "cds.feedback", target_id=_target(i.card),
                          reason=f"client {iss}; {known[i.card].card_type}; {i.outcome}"
                                 + (f"; reason {i.override_code}" if i.override_code else ""))
    return len(items)


def stats(db: Database) -> list[CardTypeStats]:
    with db.session(read_only=True) as session:
        return store.stats(session)
