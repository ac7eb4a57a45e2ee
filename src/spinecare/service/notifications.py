"""E-mailing alerts to the care team through the installation's SMTP server.

The alert is stored first, with the report that raised it; e-mail comes after the commit, from
a worker (``spinecare.http.mailer``), never inside a request. Each e-mail is a row with its
state, so an SMTP server that is down loses nothing: the e-mail is tried again after 1, 5, 15,
60 and 240 minutes, then marked ``failed`` and shown as not sent on the alert's page.

The e-mail carries as little as can still prompt action: the triage level and a link to the
alert, behind sign-in. No name, no red flag, no answers (e-mail is not a secure channel, and it
is read on lock screens).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from spinecare.store import alerts as store
from spinecare.store import outbox
from spinecare.store.db import Database
from spinecare.store.models import Alert, AlertEmail

#: Waits before each retry; after the last one the e-mail is given up as ``failed``.
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
               timedelta(hours=1), timedelta(hours=4))
#: How long a worker holds an e-mail it is sending before another may try it.
LEASE = timedelta(minutes=2)

LEVEL_WORDS = {"emergency": "EMERGENCY (same-day emergency department)",
               "urgent": "URGENT (specialist assessment within about two weeks)",
               "routine": "routine", "self_care": "self-care"}


def attempt(db: Database, smtp: SmtpSettings, model: type[outbox.Email], email_id: int,
            msg: EmailMessage, now: datetime) -> str:
    """Send one claimed e-mail of ``model`` and write down how it went: ``sent``,
    ``retrying`` or ``failed`` (the outbox's retry schedule)."""
    error: str | None = None
    try:
        _send(smtp, msg)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    with db.session() as session:
        email = session.get(model, email_id)
        assert email is not None
        return outbox.record_attempt(email, now, error, RETRY_AFTER)


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server alert e-mails go through (``SPINECARE_SMTP_*``)."""

    host: str
    from_address: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


def message(alert: Alert, to: str, sender: str, public_url: str) -> EmailMessage:
    level = LEVEL_WORDS.get(alert.level, alert.level)
    msg = EmailMessage()
    msg["Subject"] = f"spinecare: {alert.level.replace('_', ' ')} alert for a patient in " \
                     "your care"
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain="spinecare.invalid")
    link = f"{public_url.rstrip('/')}/alerts/{alert.id}"
    msg.set_content(
        f"A patient in your care has a new alert.\n\n"
        f"Level: {level}\n"
        f"Open the alert (sign-in needed): {link}\n\n"
        "This e-mail deliberately carries no patient details. Please open the alert, act on "
        "it, and acknowledge it with what was done so that the rest of the care team knows.\n")
    return msg


def _send(smtp: SmtpSettings, msg: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(msg)


@dataclass(frozen=True)
class Delivery:
    queued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(db: Database, smtp: SmtpSettings, public_url: str,
                now: datetime) -> Delivery:
    """Queue the e-mails of new open alerts, then send every e-mail that is due, one SMTP
    session each (a server that refuses one recipient must not hold up the others)."""
    with db.session() as session:
        queued = store.queue_emails(session, now)
    sent = retrying = failed = 0
    while True:
        with db.session() as session:
            row = store.claim_email(session, now, LEASE)
            if row is None:
                break
            alert = session.get(Alert, row.alert_id)
            assert alert is not None
            email_id, msg = row.id, message(alert, row.address, smtp.from_address, public_url)
        outcome = attempt(db, smtp, AlertEmail, email_id, msg, now)
        sent += outcome == "sent"
        retrying += outcome == "retrying"
        failed += outcome == "failed"
    return Delivery(queued, sent, retrying, failed)
