"""The CDS Hooks tables: registered clients, JWT ids seen, cards issued, feedback. Plain
functions over a :class:`Session`; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinecare.store.models import CdsCard, CdsClient, CdsFeedback, CdsJti
from spinecare.store.stamps import utcnow


def client(session: Session, iss: str) -> CdsClient | None:
    return session.scalar(select(CdsClient).where(CdsClient.iss == iss))


def clients(session: Session) -> Sequence[CdsClient]:
    return session.scalars(select(CdsClient).order_by(CdsClient.iss)).all()


def put_client(session: Session, iss: str, *, jwks_url: str | None,
               jwks_json: str | None) -> tuple[CdsClient, bool]:
    """Register ``iss`` or replace its key source: ``(client, created)``."""
    now = utcnow()
    found = client(session, iss)
    if found is not None:
        found.jwks_url, found.jwks_json, found.updated_at = jwks_url, jwks_json, now
        return found, False
    made = CdsClient(iss=iss, jwks_url=jwks_url, jwks_json=jwks_json, created_at=now,
                     updated_at=now)
    session.add(made)
    session.flush()
    return made, True


def remember_jti(session: Session, iss: str, jti: str, expires_at: datetime) -> bool:
    """Record a JWT id; false when it was seen before (a replay). Expired ids are swept first,
    so the table holds only the tokens that could still be replayed."""
    now = utcnow()
    session.execute(delete(CdsJti).where(CdsJti.expires_at < now)
                    .execution_options(synchronize_session=False))
    if session.get(CdsJti, (iss, jti)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(CdsJti(iss=iss, jti=jti, expires_at=expires_at))
    except IntegrityError:  # another worker took it between our read and our write
        return False
    return True


@dataclass(frozen=True, slots=True)
class IssuedCard:
    uuid: str
    card_type: str


def issue_cards(session: Session, service: str, iss: str, hook_instance: str,
                cards: Sequence[IssuedCard]) -> None:
    now = utcnow()
    session.add_all([CdsCard(uuid=c.uuid, service=service, card_type=c.card_type, iss=iss,
                             hook_instance=hook_instance, issued_at=now) for c in cards])


def cards(session: Session, uuids: set[str]) -> dict[str, CdsCard]:
    if not uuids:
        return {}
    return {c.uuid: c for c in session.scalars(select(CdsCard).where(CdsCard.uuid.in_(uuids)))}


def add_feedback(session: Session, rows: Sequence[CdsFeedback]) -> None:
    session.add_all(rows)


@dataclass(frozen=True, slots=True)
class CardTypeStats:
    service: str
    card_type: str
    issued: int
    accepted: int
    overridden: int


def stats(session: Session) -> list[CardTypeStats]:
    """Per service and card type: cards issued, and cards with accepted or overridden
    feedback (each card counted once per outcome, however often the EHR repeated it)."""
    issued = {(s, t): n for s, t, n in session.execute(
        select(CdsCard.service, CdsCard.card_type, func.count())
        .group_by(CdsCard.service, CdsCard.card_type))}
    outcomes: dict[tuple[str, str, str], int] = {}
    per_card = (select(CdsFeedback.card_uuid, CdsFeedback.outcome)
                .distinct().subquery())
    for service, card_type, outcome, n in session.execute(
            select(CdsCard.service, CdsCard.card_type, per_card.c.outcome, func.count())
            .join(per_card, per_card.c.card_uuid == CdsCard.uuid)
            .group_by(CdsCard.service, CdsCard.card_type, per_card.c.outcome)):
        outcomes[(service, card_type, outcome)] = n
    return [CardTypeStats(s, t, n, outcomes.get((s, t, "accepted"), 0),
                          outcomes.get((s, t, "overridden"), 0))
            for (s, t), n in sorted(issued.items())]
