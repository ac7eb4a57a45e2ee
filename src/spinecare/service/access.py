"""Taking access away, and giving it back: disable and enable an account, revoke its tokens,
reset its password with a one-time link, take a clinician off a care team, cancel a
patient's invitations, end a patient's access.

Each takes effect on the next request on every worker, because every token check reads the
token's and the user's rows (:mod:`spinecare.store.lifecycle`). Each is audited, refusals too.

``who`` is the admin (or, for a patient's care team and invitations, a clinician of the team)
asking; ``None`` is the command line, run by whoever holds the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from spinecare.errors import Problem
from spinecare.service import patients
from spinecare.service.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from spinecare.service.patients import PatientWithTeam
from spinecare.store import lifecycle, passwords, records
from spinecare.store import passkeys as passkey_store
from spinecare.store.accounts import Principal, hash_password, principal_of
from spinecare.store.db import Database
from spinecare.store.models import Invitation, Patient, User
from spinecare.store.once import Claim
from spinecare.store.stamps import utcnow


@dataclass(frozen=True)
class PasswordResetLink:
    user: User
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class AccessEnded:
    patient_id: str
    revoked_tokens: int
    cancelled_invitations: int


def _admin_only(session: Session, who: Principal | None, action: str,
                target_id: str | None = None) -> None:
    if who is not None and who.role != "admin":
        records.audit(session, who, action, target_id=target_id, outcome="denied")
        raise Forbidden("Only admins can do this")


def _user(session: Session, who: Principal | None, user_id: int, action: str) -> User:
    _admin_only(session, who, action, str(user_id))
    user = lifecycle.get_user(session, user_id)
    if user is None:
        records.audit(session, who, action, target_id=str(user_id), outcome="not_found")
        raise NotFound("user")
    return user


def user_id_of(db: Database, username: str) -> int:
    """The id of the account ``username`` (for the command line, which names accounts)."""
    with db.session(read_only=True) as session:
        user = lifecycle.user_by_username(session, username)
    if user is None:
        raise NotFound("user")
    return user.id


def list_users(db: Database, who: Principal | None, *, limit: int,
               offset: int) -> tuple[Sequence[User], int]:
    """Every account, oldest first (admins only)."""
    with db.session() as session:
        _admin_only(session, who, "user.list")
        rows, total = lifecycle.list_users(session, limit=limit, offset=offset)
        records.audit(session, who, "user.list")
    return rows, total


def account(db: Database, who: Principal | None, user_id: int) -> User:
    """One account (admins only), as an admin's confirmation page shows it."""
    with db.session() as session:
        user = _user(session, who, user_id, "user.read")
        records.audit(session, who, "user.read", target_id=str(user_id),
                      patient_id=user.patient_id)
    return user


def disable(db: Database, who: Principal | None, user_id: int) -> tuple[User, int]:
    """Disable the account and revoke its tokens: the account and the number revoked."""
    with db.session() as session:
        user = _user(session, who, user_id, "user.disable")
        if who is not None and who.user_id == user_id:
            records.audit(session, who, "user.disable", target_id=str(user_id),
                          outcome="denied")
            raise Conflict("Admins cannot disable their own account")
        revoked = lifecycle.set_disabled(session, user, True)
        records.audit(session, who, "user.disable", target_id=str(user_id),
                      patient_id=user.patient_id)
    return user, revoked


def enable(db: Database, who: Principal | None, user_id: int) -> User:
    """Enable the account again; the tokens revoked when it was disabled stay revoked."""
    with db.session() as session:
        user = _user(session, who, user_id, "user.enable")
        lifecycle.set_disabled(session, user, False)
        records.audit(session, who, "user.enable", target_id=str(user_id),
                      patient_id=user.patient_id)
    return user


def revoke_tokens(db: Database, who: Principal | None, user_id: int) -> int:
    """Revoke every live token of the account (every signed-in session); how many."""
    with db.session() as session:
        user = _user(session, who, user_id, "user.revoke_tokens")
        revoked = lifecycle.revoke_user_tokens(session, user.id)
        records.audit(session, who, "user.revoke_tokens", target_id=str(user_id),
                      patient_id=user.patient_id)
    return revoked


def start_password_reset(db: Database, who: Principal | None, user_id: int,
                         ttl: timedelta) -> PasswordResetLink:
    """A one-time password reset for a clinician or admin, valid for ``ttl``; any earlier
    unused reset of the account stops working."""
    with db.session() as session:
        user = _user(session, who, user_id, "user.password_reset")
        if user.role == "patient":
            records.audit(session, who, "user.password_reset", target_id=str(user_id),
                          outcome="invalid")
            raise Invalid("Invalid request", [Problem(
                "user_id", "is a patient account: patients sign in with an invitation")])
        token, expires = lifecycle.create_password_reset(
            session, user.id, who.user_id if who else None, ttl)
        records.audit(session, who, "user.password_reset", target_id=str(user_id))
    return PasswordResetLink(user, token, expires)


def finish_password_reset(db: Database, token: str, password: str, *,
                          claim: Claim | None = None) -> None:
    """Set a new password with a reset token; every token of the account is revoked, so
    whoever had its sessions is signed out."""
    # the same policy as a new account's (length, not only spaces, not guessable)
    problem = passwords.problem(password)
    if problem is not None:
        raise Invalid("Invalid request", [Problem("password", problem)])
    # argon2 is slow on purpose: hash before the transaction, not while holding it.
    password_hash = hash_password(password)
    with db.session() as session:
        user = lifecycle.redeem_password_reset(session, token, password_hash)
        if user is None:
            records.audit(session, None, "auth.password_reset", outcome="denied")
            raise NotAuthenticated("Invalid, expired or already used password reset link")
        records.audit(session, principal_of(user), "auth.password_reset",
                      target_id=str(user.id))
        if claim is not None:
            claim(session, str(user.id))


# --- a patient's care team, invitations and access --------------------------------------------


def _managed_patient(session: Session, who: Principal | None, patient_id: str, action: str,
                     what: str) -> Patient:
    """The patient, for an admin (any patient) or a clinician of its care team; patients are
    :class:`Forbidden` to ``what``, anyone else gets :class:`NotFound`."""
    if who is not None and who.role != "admin":
        patient = patients.visible(session, who, patient_id, action)
        patients.refuse_patient_writes(session, who, patient_id, action, what)
        return patient
    found = session.get(Patient, patient_id) if records.is_id(patient_id) else None
    if found is None:
        records.audit(session, who, action, patient_id=patient_id, outcome="denied")
        raise NotFound("patient")
    return found


def remove_from_care_team(db: Database, who: Principal | None, patient_id: str,
                          username: str) -> PatientWithTeam:
    """Take the clinician ``username`` off the patient's care team; they no longer see the
    patient from their next request. The last clinician of a team stays."""
    action = "care_team.remove"
    with db.session() as session:
        patient = _managed_patient(session, who, patient_id, action, "change their care team")
        member = lifecycle.user_by_username(session, username)
        team = records.care_team(session, patient_id)
        if member is None or member.username not in team:
            records.audit(session, who, action, patient_id=patient_id, outcome="invalid")
            raise Invalid("Invalid request", [Problem(
                "username", "is not on this patient's care team")])
        if len(team) == 1:
            records.audit(session, who, action, patient_id=patient_id,
                          target_id=str(member.id), outcome="denied")
            raise Conflict("A patient's care team keeps at least one clinician: add another "
                           "clinician first")
        lifecycle.remove_from_care_team(session, patient_id, member.id)
        records.audit(session, who, action, patient_id=patient_id, target_id=str(member.id))
        return PatientWithTeam(patient, records.care_team(session, patient_id))


def open_invitations(db: Database, who: Principal | None,
                     patient_id: str) -> Sequence[Invitation]:
    """The patient's invitations that could still be redeemed."""
    with db.session() as session:
        _managed_patient(session, who, patient_id, "invitation.list", "see invitations")
        rows = lifecycle.open_invitations(session, patient_id)
        records.audit(session, who, "invitation.list", patient_id=patient_id)
    return rows


def cancel_invitations(db: Database, who: Principal | None, patient_id: str,
                       invitation_id: str | None = None) -> int:
    """Cancel the patient's open invitations, or only ``invitation_id`` (:class:`NotFound`
    when that one is not open); how many were cancelled."""
    action = "invitation.cancel"
    with db.session() as session:
        _managed_patient(session, who, patient_id, action, "cancel invitations")
        if invitation_id is not None and not records.is_id(invitation_id):
            cancelled = 0
        else:
            cancelled = lifecycle.cancel_invitations(session, patient_id, invitation_id)
        if invitation_id is not None and cancelled == 0:
            records.audit(session, who, action, patient_id=patient_id,
                          target_id=invitation_id, outcome="not_found")
            raise NotFound("invitation")
        records.audit(session, who, action, patient_id=patient_id, target_id=invitation_id)
    return cancelled


def end_patient_access(db: Database, who: Principal | None, patient_id: str) -> AccessEnded:
    """End the patient's own access now: revoke every token of their account (the 30-day
    sign-ins), remove their passkeys and cancel their open invitations. A new invitation
    gives it back (and the patient adds a passkey again)."""
    action = "patient.end_access"
    with db.session() as session:
        patient = _managed_patient(session, who, patient_id, action, "end patient access")
        patient.access_ended_at = utcnow()
        account = lifecycle.patient_account(session, patient_id)
        revoked = lifecycle.revoke_user_tokens(session, account.id) if account else 0
        if account is not None:
            passkey_store.remove_all(session, account.id)
        cancelled = lifecycle.cancel_invitations(session, patient_id)
        records.audit(session, who, action, patient_id=patient_id,
                      target_id=str(account.id) if account else None)
    return AccessEnded(patient_id, revoked, cancelled)
