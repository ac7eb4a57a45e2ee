"""Inviting a patient to their own pages: a signed one-time token, exchanged once for a
patient token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from spinecare.service import patients
from spinecare.service.auth import Token
from spinecare.service.errors import NotAuthenticated
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Patient


@dataclass(frozen=True)
class Invitation:
    patient: Patient
    token: str
    expires_at: datetime


def create(db: Database, who: Principal, patient_id: str, *, secret_key: str,
           ttl: timedelta) -> Invitation:
    """A one-time invitation for a patient in the caller's care (patients cannot invite)."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "invitation.create")
        patients.refuse_patient_writes(session, who, patient_id, "invitation.create", "invite")
        token, invitation = accounts.create_invitation(session, secret_key, patient_id,
                                                       who.user_id, ttl)
        records.audit(session, who, "invitation.create", patient_id=patient_id,
                      target_id=invitation.id)
    return Invitation(patient, token, invitation.expires_at)


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
