"""Inviting a patient to their own pages: a signed one-time token, exchanged once for a
patient token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from spinecare.service import patients
from spinecare.service.auth import Token
from spinecare.service.errors import NotAuthenticated, NotFound
from spinecare.store import accounts, lifecycle, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Invitation as InvitationRow
from spinecare.store.models import Patient
from spinecare.store.once import Claim
from spinecare.store.stamps import utcnow


@dataclass(frozen=True)
class Invitation:
    patient: Patient
    token: str
    expires_at: datetime
    id: str = ""


def create(db: Database, who: Principal, patient_id: str, *, secret_key: str,
           ttl: timedelta, claim: Claim | None = None) -> Invitation:
    """A one-time invitation for a patient in the caller's care (patients cannot invite);
    the patient's earlier open invitations are cancelled."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "invitation.create")
        patients.refuse_patient_writes(session, who, patient_id, "invitation.create", "invite")
        # Only the newest link works: one sent to a wrong address is taken back by sending
        # the right one.
        if lifecycle.cancel_invitations(session, patient_id):
            records.audit(session, who, "invitation.cancel", patient_id=patient_id)
        token, invitation = accounts.create_invitation(session, secret_key, patient_id,
                                                       who.user_id, ttl)
        records.audit(session, who, "invitation.create", patient_id=patient_id,
                      target_id=invitation.id)
        if claim is not None:
            claim(session, invitation.id)
    return Invitation(patient, token, invitation.expires_at, invitation.id)


def show(db: Database, who: Principal, patient_id: str, invitation_id: str, *,
         secret_key: str) -> Invitation:
    """An open invitation of a patient in the caller's care, with its link token (the page
    a clinician is led to after creating it, and back to when the form is sent again)."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "invitation.read")
        patients.refuse_patient_writes(session, who, patient_id, "invitation.read", "invite")
        row = session.get(InvitationRow, invitation_id[:32])
        now = utcnow()
        open_ = row is not None and row.patient_id == patient_id and row.used_at is None \
            and row.cancelled_at is None and row.expires_at > now
        records.audit(session, who, "invitation.read", patient_id=patient_id,
                      target_id=invitation_id[:64], outcome="ok" if open_ else "not_found")
        if not open_ or row is None:
            raise NotFound("invitation")
    return Invitation(patient, accounts.invitation_token(secret_key, row.id), row.expires_at,
                      row.id)


def redeem(db: Database, code: str, *, secret_key: str, ttl: timedelta) -> Token:
    """A patient token, valid for ``ttl``, for an unused and unexpired invitation."""
    with db.session() as session:
        user = accounts.redeem_invitation(session, secret_key, code)
        if user is None:
            records.audit(session, None, "auth.invitation", outcome="denied",
                          reason="invitation forged, expired or already used")
            raise NotAuthenticated("Invalid, expired or already used invitation")
        token, expires = accounts.issue_token(session, user.id, ttl)
        records.audit(session, accounts.principal_of(user), "auth.invitation",
                      patient_id=user.patient_id)
    return Token(token, expires)
