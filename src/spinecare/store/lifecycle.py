"""Taking access away and giving it back: disabling accounts, revoking tokens, one-time
password resets, leaving a care team, cancelling invitations.

Every check of a bearer token reads its row and its user's row (:func:`check_token`), so
whatever is written here holds for the next request on every worker: a revoked token, a
disabled account.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from spinecare.store.accounts import TOKEN_CHECK, Principal, hash_token, principal_from_row
from spinecare.store.db import Database
from spinecare.store.models import AccessToken, CareTeamMember, Invitation, PasswordReset, User
from spinecare.store.stamps import utcnow


def check_token(db: Database, token_hash: str) -> tuple[Principal, datetime] | None:
    """The caller a token stands for and when it expires, if it is valid now: not revoked,
    not expired, its account not disabled. Read from the database on every call (no cache),
    so a revocation written by any worker holds for the next request on all of them."""
    with db.read_connection() as conn:
        return principal_from_row(conn.execute(
            TOKEN_CHECK, {"token_hash": token_hash, "now": utcnow()}).first())


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_by_username(session: Session, username: str) -> User | None:
    if "\x00" in username:
        return None
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session, *, limit: int, offset: int) -> tuple[Sequence[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return rows, total


def revoke_user_tokens(session: Session, user_id: int) -> int:
    """Revoke every live token of the user; how many there were."""
    now = utcnow()
    result = session.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None),
               AccessToken.expires_at > now)
        .values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def set_disabled(session: Session, user: User, disabled: bool) -> int:
    """Disable or enable the account. Disabling also revokes its tokens (the count), so that
    enabling it again does not bring back the sessions that were open."""
    user.disabled = disabled
    revoked = revoke_user_tokens(session, user.id) if disabled else 0
    # Unused reset links of a disabled account are spent: enabling it must not revive them.
    if disabled:
        _spend_resets(session, user.id)
    session.flush()
    return revoked


def _spend_resets(session: Session, user_id: int) -> None:
    session.execute(update(PasswordReset)
                    .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
                    .values(used_at=utcnow()))


def create_password_reset(session: Session, user_id: int, created_by: int | None,
                          ttl: timedelta) -> tuple[str, datetime]:
    """A one-time reset token for the user (only its sha256 is stored); earlier unused ones
    of the same user stop working, so only the newest link is live."""
    _spend_resets(session, user_id)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(PasswordReset(token_hash=hash_token(token), user_id=user_id,
                              created_by=created_by, created_at=now, expires_at=now + ttl,
                              used_at=None))
    session.flush()
    return token, now + ttl


def redeem_password_reset(session: Session, token: str, password_hash: str) -> User | None:
    """Set the password of the reset's user and revoke the user's tokens, if the reset is
    unused and unexpired; mark it used in the same conditional UPDATE, so it works once even
    when presented twice at the same time. ``None`` for anything else."""
    now = utcnow()
    claimed = session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == hash_token(token), PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.user_id)).first()
    if claimed is None:
        return None
    user = session.get(User, claimed[0])
    if user is None or user.role == "patient":
        return None
    user.password_hash = password_hash
    revoke_user_tokens(session, user.id)
    return user


def care_team_size(session: Session, patient_id: str) -> int:
    return session.scalar(select(func.count()).select_from(CareTeamMember)
                          .where(CareTeamMember.patient_id == patient_id)) or 0


def remove_from_care_team(session: Session, patient_id: str, user_id: int) -> bool:
    """Take the clinician off the patient's care team; false when they were not on it."""
    result = session.execute(delete(CareTeamMember).where(
        CareTeamMember.patient_id == patient_id, CareTeamMember.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


def open_invitations(session: Session, patient_id: str) -> Sequence[Invitation]:
    """The patient's invitations that could still be redeemed, oldest first."""
    return session.scalars(
        select(Invitation)
        .where(Invitation.patient_id == patient_id, Invitation.used_at.is_(None),
               Invitation.cancelled_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at, Invitation.id)).all()


def cancel_invitations(session: Session, patient_id: str,
                       invitation_id: str | None = None) -> int:
    """Cancel the patient's open invitations (or the one ``invitation_id``); how many."""
    now = utcnow()
    where = [Invitation.patient_id == patient_id, Invitation.used_at.is_(None),
             Invitation.cancelled_at.is_(None), Invitation.expires_at > now]
    if invitation_id is not None:
        where.append(Invitation.id == invitation_id)
    result = session.execute(update(Invitation).where(*where).values(cancelled_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def patient_account(session: Session, patient_id: str) -> User | None:
    return session.scalar(select(User).where(User.patient_id == patient_id))
