"""Accounts, passwords, bearer tokens and patient invitations.

- Passwords are hashed with argon2id (:mod:`spinecare.store.passwords`: which passwords are
  accepted, and the bounded pool that hashes them); an unknown username costs the same hash as
  a wrong password.
- Usernames are unique by their key (:mod:`spinecare.store.usernames`: NFKC, case-folded,
  confusables folded), and sign-in looks the key up: ``Alice`` signs in as ``alice``, and a
  Cyrillic ``аlice`` can be neither created beside it nor used for it.
- Bearer tokens are random and opaque (``secrets.token_urlsafe``); the database keeps only their
  sha256, with an expiry and a revocation time.
- A patient invitation is a row with a random id; the link carries that id signed with the
  service's secret (itsdangerous, time-limited). Redeeming it marks the row used in one
  conditional UPDATE, so a link works exactly once even when presented twice at the same time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinecare.errors import SpinecareError
from spinecare.store import passwords, usernames
from spinecare.store.models import AccessToken, Invitation, Patient, User
from spinecare.store.stamps import new_id, utcnow

Role = Literal["clinician", "admin", "patient"]
LOGIN_ROLES: tuple[Role, ...] = ("clinician", "admin")
_INVITATION_SALT = "spinecare.invitation/1"


class AccountError(SpinecareError, ValueError):
    """An account cannot be created as asked (the message says why; ``field`` names the
    input at fault)."""

    def __init__(self, message: str, field: str = "username"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: enough to authorise without another query."""

    user_id: int
    role: Role
    patient_id: str | None = None
    language: str | None = None  # the account's page language, when it chose one


def principal_of(user: User) -> Principal:
    role = cast(Role, user.role)
    return Principal(user.id, role, user.patient_id, user.language)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, username: str, role: Role, password: str) -> User:
    if role not in LOGIN_ROLES:
        raise AccountError(f"role must be one of {', '.join(LOGIN_ROLES)} (got {role!r})",
                           "role")
    username = username.strip()
    wrong = usernames.problem(username)
    if wrong:
        raise AccountError(wrong)
    key = usernames.username_key(username)
    if session.scalar(select(User.id).where(or_(User.username_key == key,
                                                User.username == username))) is not None:
        raise AccountError(f"the username {username!r} is taken (or too like one that is)")
    wrong = passwords.problem(password, username=username)
    if wrong:
        raise AccountError(wrong, "password")
    user = User(username=username, username_key=key, role=role,
                password_hash=passwords.hasher.hash(password), disabled=False,
                created_at=utcnow())
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AccountError(f"the username {username!r} is taken (or too like one that "
                           "is)") from None
    return user


def find_by_username(session: Session, username: str) -> User | None:
    """The account a typed name stands for: by its key, except that an account whose name
    shares its key with an older one (possible only before keys existed) is found by its
    exact name."""
    # A NUL cannot be in a username, and PostgreSQL refuses it in a query.
    if "\x00" in username or usernames.problem(username):
        return None
    user = session.scalar(select(User).where(User.username == username.strip(),
                                             User.username_key.is_(None)))
    if user is None:
        user = session.scalar(select(User).where(User.username_key
                                                 == usernames.username_key(username)))
    return user


def hash_password(password: str) -> str:
    """The stored form of a password (argon2id); slow on purpose, so call it outside any
    database transaction."""
    return passwords.hasher.hash(password)


def set_password(session: Session, username: str, password: str) -> User:
    user = find_by_username(session, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    wrong = passwords.problem(password, username=user.username or "")
    if wrong:
        raise AccountError(wrong, "password")
    user.password_hash = passwords.hasher.hash(password)
    return user


@dataclass(frozen=True, slots=True)
class LoginCandidate:
    """What sign-in needs to know of an account before checking its password."""

    user_id: int
    password_hash: str | None
    may_sign_in: bool


def login_candidate(session: Session, username: str) -> LoginCandidate | None:
    user = find_by_username(session, username)
    if user is None:
        return None
    return LoginCandidate(user.id, user.password_hash,
                          not user.disabled and user.role in LOGIN_ROLES)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active clinician or admin with this username and password, else ``None``. Hashes
    inside the caller's session: for the command line and tests; the service's sign-in
    hashes outside any transaction (:func:`spinecare.service.auth.login`)."""
    found = login_candidate(session, username)
    ok, _rehash = passwords.verify(found.password_hash if found else None, password)
    if not ok or found is None or not found.may_sign_in:
        return None
    return session.get(User, found.user_id)


def issue_token(session: Session, user_id: int, ttl: timedelta) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AccessToken(token_hash=hash_token(token), user_id=user_id, created_at=now,
                            expires_at=now + ttl, revoked_at=None))
    return token, now + ttl


# The one rule of a valid token, built once: every request runs it (through
# spinecare.store.lifecycle.check_token), and building the expression costs more than running it.
TOKEN_CHECK = (
    select(User.id, User.role, User.patient_id, AccessToken.expires_at, User.language)
    .join(AccessToken, AccessToken.user_id == User.id)
    .where(AccessToken.token_hash == bindparam("token_hash"),
           AccessToken.revoked_at.is_(None), AccessToken.expires_at > bindparam("now"),
           User.disabled.is_(False)))


def principal_from_row(row: Row[int, str, str | None, datetime, str | None] | None,
                       ) -> tuple[Principal, datetime] | None:
    """A :data:`TOKEN_CHECK` row as the caller and the token's expiry."""
    if row is None:
        return None
    user_id, role, patient_id, expires_at, language = row
    return Principal(user_id, cast(Role, role), patient_id, language), expires_at


def principal_for_token(session: Session, token_hash: str) -> tuple[Principal, datetime] | None:
    """The caller a token stands for and when it expires, if it is valid now."""
    return principal_from_row(session.execute(
        TOKEN_CHECK, {"token_hash": token_hash, "now": utcnow()}).first())


def revoke_token(session: Session, token_hash: str) -> bool:
    result = session.execute(
        update(AccessToken).where(AccessToken.token_hash == token_hash,
                                  AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()))
    return bool(getattr(result, "rowcount", 0))


def create_invitation(session: Session, secret_key: str, patient_id: str, created_by: int,
                      ttl: timedelta) -> tuple[str, Invitation]:
    now = utcnow()
    invitation = Invitation(id=new_id(), patient_id=patient_id, created_by=created_by,
                            created_at=now, expires_at=now + ttl, used_at=None)
    session.add(invitation)
    token = URLSafeTimedSerializer(secret_key, salt=_INVITATION_SALT).dumps(invitation.id)
    return token, invitation


def invitation_token(secret_key: str, invitation_id: str) -> str:
    """The link token of an invitation, signed again (for showing an open one once more)."""
    return URLSafeTimedSerializer(secret_key, salt=_INVITATION_SALT).dumps(invitation_id)


def redeem_invitation(session: Session, secret_key: str, token: str) -> User | None:
    """The patient's account for a valid, unused invitation (created on first use), marking
    the invitation used; ``None`` for a forged, expired or already used one."""
    try:
        invitation_id = URLSafeTimedSerializer(secret_key, salt=_INVITATION_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(invitation_id, str):
        return None
    now = utcnow()
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.used_at.is_(None),
               Invitation.cancelled_at.is_(None), Invitation.expires_at > now)
        .values(used_at=now)
        .returning(Invitation.patient_id)
    ).first()
    if claimed is None:
        return None
    patient_id: str = claimed[0]
    # A new invitation gives back the access a clinician ended.
    session.execute(update(Patient).where(Patient.id == patient_id).values(access_ended_at=None))
    user = session.scalar(select(User).where(User.patient_id == patient_id))
    if user is None:
        user = User(username=None, role="patient", password_hash=None, patient_id=patient_id,
                    disabled=False, created_at=now)
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            # Two invitations of one patient redeemed at once: both use the one account.
            user = session.scalar(select(User).where(User.patient_id == patient_id))
            if user is None:
                raise
    return user if not user.disabled else None


def set_language(session: Session, user_id: int, language: str | None) -> None:
    """Store (or, with ``None``, forget) the account's page language."""
    session.execute(update(User).where(User.id == user_id).values(language=language))
