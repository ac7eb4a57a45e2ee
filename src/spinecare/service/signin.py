"""Lasting patient sign-in: one-time sign-in links by e-mail.

A signed-out patient (or one whose 30-day sign-in ended) asks for a link with the e-mail
address on record; a clinician of their care team can send one from the patient's page.
- The answer to a request is the same whether the address is known or not (no account
  enumeration), and requests are throttled like sign-ins (``spinecare.store.throttle``),
  under the address asked for and the requester's network address.
- A link works once, for :data:`LINK_TTL`, and only the newest of a patient's links works.
- Every request, resend and use is audited; an audit event never holds the address typed.
- The e-mail goes through the outbox like the other e-mails (after the commit, from the mail
  worker), and carries the link and nothing about the patient's care.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy.orm import Session

from spinecare.errors import Problem
from spinecare.service import patients
from spinecare.service.alerts import is_address
from spinecare.service.auth import Token
from spinecare.service.errors import Forbidden, Invalid, NotAuthenticated, Throttled
from spinecare.service.notifications import LEASE, Delivery, SmtpSettings, attempt
from spinecare.store import accounts, records, throttle
from spinecare.store import signin as store
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.education import language_of
from spinecare.store.models import Patient, SigninEmail, User
from spinecare.store.once import Claim
from spinecare.store.stamps import utcnow
from spinecare.store.throttle import ThrottlePolicy
from spinecare.vocabulary import LANGUAGES

#: How long an e-mailed sign-in link works: long enough for a slow mailbox, short enough that
#: a forwarded or leaked e-mail soon signs nobody in.
LINK_TTL = timedelta(minutes=20)

_REQUEST = "auth.signin_link.request"


def request_link(db: Database, email: str, *, address: str | None,
                 policy: ThrottlePolicy | None = None, email_on: bool = True,
                 claim: Claim | None = None) -> None:
    """Send a sign-in link to each patient whose address on record is ``email``. Returns
    the same (nothing) whether or not the address is known; :class:`Throttled` when too many
    links were asked for from this network address or for this e-mail address."""
    rules = policy or ThrottlePolicy()
    typed = email.strip()[:320]
    now = utcnow()
    with db.session() as session:
        # Every request counts, not only failures: each one may send an e-mail.
        wait = throttle.charge(session, rules, "signin-link:" + typed.lower(), address, now)
        if wait is not None:
            records.audit(session, None, _REQUEST, outcome="throttled",
                          reason=f"too many sign-in links asked for; retry after {wait:.0f} s")
            raise Throttled("Too many sign-in links asked for; try again later", wait)
        found = store.patients_at(session, typed) if is_address(typed) else []
        for patient_id in found:
            user = store.account_of(session, patient_id)
            refused = refusal(session, patient_id, user)
            if refused is not None:
                records.audit(session, None, _REQUEST, patient_id=patient_id,
                              outcome="denied", reason=refused)
                continue
            if not email_on:
                records.audit(session, None, _REQUEST, patient_id=patient_id,
                              outcome="unavailable", reason="e-mail is not set up")
                continue
            # To the address on record, as it was recorded, not as it was typed.
            on_record = store.address_of(session, patient_id) or typed
            link = store.create_link(session, patient_id, None, on_record, LINK_TTL, now)
            records.audit(session, None, _REQUEST, patient_id=patient_id, target_id=link.id)
        if not found:
            records.audit(session, None, _REQUEST, outcome="not_found",
                          reason="no patient has this address on record")
        if claim is not None:
            claim(session, "")


_DISABLED = "the patient's account is disabled"
_ENDED = "the patient's access was ended by a clinician"
# What a clinician who asks to resend is told.
_REFUSALS = {_DISABLED: "The patient's account is disabled",
             _ENDED: "The patient's access was ended: a new invitation gives it back"}


def refusal(session: Session, patient_id: str, user: User | None) -> str | None:
    """Why no sign-in link may be sent to or used by this patient, nor a passkey (for the
    audit), if one may not."""
    if user is not None and user.disabled:
        return _DISABLED
    patient = session.get(Patient, patient_id)
    if patient is not None and patient.access_ended_at is not None:
        return _ENDED
    return None


def resend(db: Database, who: Principal, patient_id: str, *, email_on: bool,
           claim: Claim | None = None) -> str:
    """A clinician of the care team sends the patient a new sign-in link, to the address on
    record (returned)."""
    action = "signin_link.resend"
    with db.session() as session:
        patients.visible(session, who, patient_id, action)
        patients.refuse_patient_writes(session, who, patient_id, action,
                                       "send sign-in links")
        address = store.address_of(session, patient_id)
        problem = None if address else "the patient has no e-mail address on record"
        if problem is None and not email_on:
            problem = "this installation does not send e-mail"
        if problem is not None or address is None:
            records.audit(session, who, action, patient_id=patient_id, outcome="invalid",
                          reason=problem)
            raise Invalid("Invalid request", [Problem("email", problem or "")])
        refused = refusal(session, patient_id, store.account_of(session, patient_id))
        if refused is not None:
            records.audit(session, who, action, patient_id=patient_id, outcome="denied",
                          reason=refused)
            raise Forbidden(_REFUSALS[refused])
        link = store.create_link(session, patient_id, who.user_id, address, LINK_TTL,
                                 utcnow())
        records.audit(session, who, action, patient_id=patient_id, target_id=link.id)
        if claim is not None:
            claim(session, link.id)
    return address


def redeem(db: Database, code: str, *, secret_key: str, ttl: timedelta) -> Token:
    """A patient token, valid for ``ttl``, for the newest, unused, unexpired link."""
    with db.session() as session:
        user = store.redeem(session, secret_key, code[:500], LINK_TTL, utcnow())
        if user is not None and user.patient_id is not None \
                and refusal(session, user.patient_id, user) is not None:
            user = None
        if user is None:
            records.audit(session, None, "auth.signin_link", outcome="denied",
                          reason="sign-in link forged, expired, replaced or already used")
            raise NotAuthenticated("Invalid, expired or already used sign-in link")
        token, expires = accounts.issue_token(session, user.id, ttl)
        records.audit(session, accounts.principal_of(user), "auth.signin_link",
                      patient_id=user.patient_id)
    return Token(token, expires)


# The e-mail's words in every language of the pages (the mail worker is below the pages'
# catalogue, as for the education e-mail).
_EMAIL_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "subject": "spinecare: your sign-in link",
        "body": "Here is your link to sign in to your spinecare pages:\n\n{link}\n\n"
                "It works once, within {minutes} minutes. If it has run out, ask for a new "
                "one on the sign-in page: {signin}\n\n"
                "If you did not ask for this, you can ignore this e-mail.\n\n"
                "If you have new trouble passing urine or controlling your bladder or bowels, "
                "numbness between your legs or around your bottom, or leg weakness that is "
                "quickly getting worse, do not wait: go to an emergency department or call your "
                "emergency number now.\n",
    },
    "es": {
        "subject": "spinecare: su enlace para entrar",
        "body": "Este es su enlace para entrar en sus páginas de spinecare:\n\n{link}\n\n"
                "Funciona una sola vez, durante {minutes} minutos. Si ya no funciona, pida "
                "otro en la página para entrar: {signin}\n\n"
                "Si usted no lo pidió, puede ignorar este correo.\n\n"
                "Si nota algo nuevo de esto, no espere: vaya ahora a urgencias de un hospital o "
                "llame a su número de emergencias. Le cuesta orinar o controlar la orina o las "
                "heces. Nota la piel dormida entre las piernas o alrededor del ano. Tiene las "
                "piernas débiles y van a peor deprisa.\n",
    },
}
assert set(_EMAIL_TEXT) == set(LANGUAGES)  # a new language needs its e-mail first


def message(row: SigninEmail, token: str, sender: str, public_url: str,
            language: str | None = None) -> EmailMessage:
    """The e-mail with the link (in its fragment: never sent to a server or its logs)."""
    words = _EMAIL_TEXT.get(language or "en", _EMAIL_TEXT["en"])
    base = public_url.rstrip("/")
    msg = EmailMessage()
    msg["Subject"] = words["subject"]
    msg["From"] = sender
    msg["To"] = row.address
    msg["Message-ID"] = make_msgid(domain="spinecare.invalid")
    msg.set_content(words["body"].format(link=f"{base}/signin/link#{token}",
                                         minutes=int(LINK_TTL.total_seconds() // 60),
                                         signin=f"{base}/signin"))
    if language in _EMAIL_TEXT:
        msg["Content-Language"] = language
    return msg


def deliver_due(db: Database, smtp: SmtpSettings, public_url: str, secret_key: str,
                now: datetime) -> Delivery:
    """Send every sign-in e-mail that is due; one whose link no longer works (used, replaced
    or expired while the mail server was down) is given up unsent."""
    sent = retrying = failed = 0
    while True:
        with db.session() as session:
            row = store.claim_email(session, now, LEASE)
            if row is None:
                break
            if not store.link_open(session, row.link_id, now):
                row.status, row.next_attempt_at = "failed", None
                row.last_error = "the link stopped working before it could be sent"
                failed += 1
                continue
            email_id = row.id
            msg = message(row, store.token_of(secret_key, row.link_id), smtp.from_address,
                          public_url, language_of(session, row.patient_id))
        outcome = attempt(db, smtp, SigninEmail, email_id, msg, now)
        sent += outcome == "sent"
        retrying += outcome == "retrying"
        failed += outcome == "failed"
    return Delivery(0, sent, retrying, failed)
