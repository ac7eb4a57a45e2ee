"""Lasting patient sign-in with a passkey (WebAuthn), beside the e-mailed sign-in link.

A signed-in patient adds a passkey on their device; later the sign-in page asks the browser
for any passkey of this site (a discoverable credential: no user name is typed) and the
signed answer signs them in, with the same session and lifetime as an e-mailed link.

- Every challenge is made here, signed with the service's secret (:class:`Challenges`, so
  handing one out writes nothing), good for :data:`store.CHALLENGE_TTL`, bound to the browser
  that asked (its session or pre-session cookie, ``owner``) and to its purpose, and spent by
  the first answer: a replayed answer is refused.
- A passkey signs in only for the relying party (host name) it was made for, with its
  counter checked and moved on; a credential id belongs to one account only; the WebAuthn
  user handle is random, never the patient's id.
- The rules of the e-mailed link hold: a disabled account or a patient whose access a
  clinician ended is refused (and ending access removes the patient's passkeys), and every
  sign-in, refusal, addition and removal is audited.

Verification is py_webauthn's (duo-labs), the well-kept implementation of the W3C
WebAuthn Level 2 checks; attestation is not asked for (``none``): any authenticator may hold
a patient's passkey.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.orm import Session
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from spinecare.service import patients
from spinecare.service.auth import Token
from spinecare.service.errors import Forbidden, NotAuthenticated
from spinecare.service.signin import refusal
from spinecare.store import accounts, records
from spinecare.store import passkeys as store
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Passkey, Patient, User
from spinecare.store.once import Claim
from spinecare.store.passkeys import Challenges
from spinecare.store.stamps import utcnow

#: How long the browser's own prompt waits (a hint to it, in milliseconds): longer than a
#: hurried tap, shorter than the challenge's life on the server.
PROMPT_MS = 180_000
_REGISTER, _SIGNIN = "register", "signin"
#: Longest credential JSON accepted: real ones are a few kilobytes.
MAX_CREDENTIAL = 64_000

#: Why a passkey did not sign in or was not added, for the door to say it in plain words.
Why = Literal["expired", "unknown", "ended", "invalid", "duplicate", "unavailable"]


class PasskeyRefused(NotAuthenticated):
    """A passkey that did not sign in, or was not added; ``why`` says which case it was."""

    def __init__(self, why: Why, detail: str):
        super().__init__(detail)
        self.why: Why = why


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser signs for: ``id`` is a host name (never an IP address: browsers refuse
    those), ``origins`` the addresses its pages may be served from."""

    id: str
    name: str
    origins: tuple[str, ...]

    @property
    def usable(self) -> bool:
        if not self.id:
            return False
        try:
            ipaddress.ip_address(self.id.strip("[]"))
        except ValueError:
            return True
        return False


def _check_usable(rp: RelyingParty) -> None:
    if not rp.usable:
        raise PasskeyRefused("unavailable", "Passkeys need the service reached by a host name")


def _challenge_of(client_data_json: bytes) -> bytes:
    return parse_client_data_json(client_data_json).challenge


# --- adding, listing and removing one's passkeys -----------------------------------------------


def _patient_account(session: Session, who: Principal, action: str) -> User:
    user = session.get(User, who.user_id)
    if user is None or who.role != "patient" or user.disabled:
        records.audit(session, who, action, outcome="denied",
                      reason="only a patient's own account adds passkeys")
        raise Forbidden("Only patients can add passkeys to their account")
    return user


def registration_options(db: Database, who: Principal, rp: RelyingParty, owner: str, *,
                         challenges: Challenges) -> str:
    """The options (JSON) for the browser's ``navigator.credentials.create()``, with a new
    challenge for this browser."""
    _check_usable(rp)
    with db.session() as session:
        user = _patient_account(session, who, "passkey.options")
        patient = session.get(Patient, user.patient_id) if user.patient_id else None
        # One random handle per account: a device then keeps one passkey per account. The
        # first one is chosen here and kept with the challenge until the passkey is added.
        handle = store.handle_of(session, user.id) or bytes_to_base64url(
            secrets.token_bytes(32))
        mine = [p for p in store.of_user(session, user.id) if p.rp_id == rp.id]
        challenge = challenges.issue(owner, _REGISTER, utcnow(), handle=handle)
        name = patient.display_name if patient else "spinecare"
        options = generate_registration_options(
            rp_id=rp.id, rp_name=rp.name, user_name=name, user_display_name=name,
            user_id=base64url_bytes(handle),
            challenge=challenge, timeout=PROMPT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            # the browser then says this device has one already, instead of a second one
            exclude_credentials=[PublicKeyCredentialDescriptor(
                id=base64url_bytes(p.credential_id), transports=_transports(p.transports))
                for p in mine])
    return options_to_json(options)


def base64url_bytes(text: str) -> bytes:
    return base64url_to_bytes(text)


def _transports(text: str | None) -> list[AuthenticatorTransport] | None:
    known = {t.value: t for t in AuthenticatorTransport}
    found = [known[t] for t in (text or "").split(",") if t in known]
    return found or None


def add(db: Database, who: Principal, rp: RelyingParty, owner: str, credential: str,
        name: str, *, challenges: Challenges) -> Passkey:
    """Verify the browser's new credential against the challenge this browser was given and
    keep it as one of the account's passkeys, named ``name``."""
    _check_usable(rp)
    action = "passkey.add"
    now = utcnow()
    with db.session() as session:
        user = _patient_account(session, who, action)

        def refuse(why: Why, reason: str, detail: str) -> PasskeyRefused:
            records.audit(session, who, action, patient_id=who.patient_id, outcome="invalid",
                          reason=reason)
            return PasskeyRefused(why, detail)

        if user.patient_id is not None and refusal(session, user.patient_id, user):
            raise refuse("ended", "the patient's access was ended", "Access ended")
        try:
            parsed = parse_registration_credential_json(credential[:MAX_CREDENTIAL])
            challenge = _challenge_of(parsed.response.client_data_json)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise refuse("invalid", f"malformed credential: {type(exc).__name__}",
                         "The passkey's answer could not be read") from None
        spent = store.spend_challenge(session, challenges, challenge, owner, _REGISTER, now)
        if spent is None or not spent.handle:
            raise refuse("expired", "challenge unknown, expired or already used",
                         "The passkey request ran out of time")
        try:
            verified = verify_registration_response(
                credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id,
                expected_origin=list(rp.origins))
        except WebAuthnException as exc:
            raise refuse("invalid", f"registration not verified: {exc}"[:300],
                         "The passkey could not be checked") from None
        credential_id = bytes_to_base64url(verified.credential_id)
        if store.by_credential(session, credential_id) is not None:
            raise refuse("duplicate", "credential id already registered",
                         "This passkey is already in use")
        transports = ",".join(t.value for t in (parsed.response.transports or []))
        row = store.add(session, Passkey(
            user_id=user.id, credential_id=credential_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count, rp_id=rp.id,
            user_handle=spent.handle,
            name=" ".join(name.split())[:100] or "Passkey", transports=transports[:200] or None,
            created_at=now, last_used_at=None))
        records.audit(session, who, action, patient_id=who.patient_id, target_id=str(row.id))
        session.expunge(row)
    return row


def mine(db: Database, who: Principal) -> Sequence[Passkey]:
    """The account's passkeys, oldest first."""
    with db.session() as session:
        rows = store.of_user(session, who.user_id)
        records.audit(session, who, "passkey.list", patient_id=who.patient_id)
        session.expunge_all()
    return rows


def remove(db: Database, who: Principal, passkey_id: int, *,
           claim: Claim | None = None) -> bool:
    """Remove one of the account's own passkeys; ``False`` when it has no such passkey (one
    removed already, or another account's: the two are not told apart)."""
    action = "passkey.remove"
    with db.session() as session:
        removed = store.remove(session, who.user_id, passkey_id)
        records.audit(session, who, action, patient_id=who.patient_id,
                      target_id=str(passkey_id), outcome="ok" if removed else "not_found")
        if claim is not None:
            claim(session, str(passkey_id))
    return removed


def count_of_patient(db: Database, who: Principal, patient_id: str) -> int:
    """How many passkeys the patient's account has (for a clinician of their care team)."""
    action = "passkey.count"
    with db.session() as session:
        patients.visible(session, who, patient_id, action)
        count = store.count_of_patient(session, patient_id)
        records.audit(session, who, action, patient_id=patient_id)
    return count


# --- signing in ---------------------------------------------------------------------------------


def signin_options(rp: RelyingParty, owner: str, *, challenges: Challenges) -> str:
    """The options (JSON) for ``navigator.credentials.get()``: no list of credentials, so the
    browser offers whichever passkey of this site the person has."""
    _check_usable(rp)
    challenge = challenges.issue(owner, _SIGNIN, utcnow())
    return options_to_json(generate_authentication_options(
        rp_id=rp.id, challenge=challenge, timeout=PROMPT_MS,
        user_verification=UserVerificationRequirement.PREFERRED))


def sign_in(db: Database, rp: RelyingParty, owner: str, credential: str, *,
            ttl: timedelta, challenges: Challenges) -> Token:
    """A session token, valid for ``ttl``, for a passkey's signed answer to the challenge this
    browser was given; :class:`PasskeyRefused` (audited, saying why) otherwise."""
    _check_usable(rp)
    action = "auth.passkey"
    now = utcnow()
    with db.session() as session:

        def refuse(why: Why, reason: str, detail: str, row: Passkey | None = None,
                   patient_id: str | None = None) -> PasskeyRefused:
            records.audit(session, None, action, outcome="denied", reason=reason,
                          patient_id=patient_id,
                          target_id=str(row.id) if row is not None else None)
            return PasskeyRefused(why, detail)

        try:
            parsed = parse_authentication_credential_json(credential[:MAX_CREDENTIAL])
            challenge = _challenge_of(parsed.response.client_data_json)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise refuse("invalid", f"malformed assertion: {type(exc).__name__}",
                         "The passkey's answer could not be read") from None
        if store.spend_challenge(session, challenges, challenge, owner, _SIGNIN, now) is None:
            raise refuse("expired", "challenge unknown, expired or already used (a replay?)",
                         "The passkey request ran out of time")
        row = store.by_credential(session, bytes_to_base64url(parsed.raw_id))
        if row is None or row.rp_id != rp.id:
            raise refuse("unknown", "no such passkey for this site",
                         "This passkey is not known here")
        user = session.get(User, row.user_id)
        assert user is not None  # a foreign key
        handle = parsed.response.user_handle
        if handle is not None and bytes_to_base64url(handle) != row.user_handle:
            raise refuse("invalid", "user handle does not match the passkey's account",
                         "The passkey could not be checked", row, user.patient_id)
        try:
            verified = verify_authentication_response(
                credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id,
                expected_origin=list(rp.origins),
                credential_public_key=base64url_bytes(row.public_key),
                credential_current_sign_count=row.sign_count)
        except WebAuthnException as exc:
            raise refuse("invalid", f"assertion not verified: {exc}"[:300],
                         "The passkey could not be checked", row, user.patient_id) from None
        why = refusal(session, user.patient_id, user) if user.patient_id else None
        if user.disabled or why is not None:
            raise refuse("ended", why or "the account is disabled", "Access ended", row,
                         user.patient_id)
        if not store.used(session, row.id, row.sign_count, verified.new_sign_count, now):
            raise refuse("invalid", "the passkey's counter moved meanwhile (used twice?)",
                         "The passkey could not be checked", row, user.patient_id)
        token, expires = accounts.issue_token(session, user.id, ttl)
        records.audit(session, accounts.principal_of(user), action,
                      patient_id=user.patient_id, target_id=str(row.id))
    return Token(token, expires)
