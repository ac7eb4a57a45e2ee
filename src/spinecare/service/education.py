"""Patient education use cases: the library's articles, the articles for one patient (from
their latest assessment and plan, and those their care team sent), printing and sending them.

Who may see which patient is :func:`spinecare.service.patients.visible`'s rule: a patient sees
only themself, a clinician the patients of their care teams, anyone else "not found", and the
refusal is audited. The library itself is no one's record: reading an article needs a
signed-in caller but writes no audit event.

Sending stores the articles on the patient (shown on their home as "from your care team") and,
when e-mail is on and the patient has an address, queues one e-mail that the mail worker sends
after the commit. Like the alert e-mails (:mod:`spinecare.service.notifications`) it carries as
little as can still prompt action: that there is something to read, and where, behind sign-in.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import orjson
from sqlalchemy.orm import Session

from spinecare.education import Article, EducationLibrary, load_library
from spinecare.education.patient import PatientReading, for_patient
from spinecare.errors import Problem
from spinecare.service import patients
from spinecare.service.alerts import is_address
from spinecare.service.errors import Invalid, NotFound
from spinecare.service.notifications import LEASE, RETRY_AFTER, Delivery, SmtpSettings, _send
from spinecare.store import education as store
from spinecare.store import outbox, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import EducationEmail, Patient

#: The most articles one printout or one sending may hold: a reading pack, not the library.
MAX_ARTICLES = 20


def library() -> EducationLibrary:
    return load_library()


def article(article_id: str) -> Article:
    """One article of the library, or :class:`NotFound`."""
    found = library().articles.get(article_id)
    if found is None:
        raise NotFound("article")
    return found


@dataclass(frozen=True)
class SentArticle:
    article: Article
    sent_at: datetime
    sent_by: str


@dataclass(frozen=True)
class PatientArticles:
    """What a patient reads: the articles for their latest visit and what was sent to them."""

    patient: Patient
    reading: PatientReading | None
    sent: tuple[SentArticle, ...]
    address: str | None
    emails: Sequence[EducationEmail]

    def article_ids(self) -> tuple[str, ...]:
        """Every article of the patient, each once: their reading's, then the ones sent."""
        seen = dict.fromkeys(self.reading.article_ids() if self.reading else ())
        for s in self.sent:
            seen.setdefault(s.article.id)
        return tuple(seen)


def _articles_of(session: Session, patient: Patient) -> PatientArticles:
    visits, _ = records.list_visits(session, patient.id)
    reading = None
    if visits:
        latest = visits[-1]
        assessment: dict[str, Any] = orjson.loads(latest.assessment_json)
        plan: dict[str, Any] = orjson.loads(latest.plan_json)
        reading = for_patient(assessment, plan, library())
    known = library().articles
    # An article withdrawn from the library since it was sent is no longer shown.
    sent = tuple(SentArticle(known[row.article_id], row.sent_at, sender)
                 for row, sender in store.shares_of(session, patient.id)
                 if row.article_id in known)
    return PatientArticles(patient, reading, sent, store.address_of(session, patient.id),
                           store.emails_of(session, patient.id))


def of_patient(db: Database, who: Principal, patient_id: str) -> PatientArticles:
    """The patient's articles, for the patient themself or a clinician of their care team."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "education.list")
        found = _articles_of(session, patient)
        records.audit(session, who, "education.list", patient_id=patient_id)
    return found


def own(db: Database, who: Principal) -> PatientArticles:
    """The signed-in patient's own articles."""
    if who.patient_id is None:
        raise NotFound("patient")
    return of_patient(db, who, who.patient_id)


def _chosen(article_ids: Sequence[str]) -> list[Article]:
    known = library().articles
    # Problems point at the list as given; a repeated id is then sent once.
    problems = [Problem(f"articles[{i}]", f"unknown article {a[:64]!r}")
                for i, a in enumerate(article_ids) if a not in known]
    ids = list(dict.fromkeys(article_ids))
    if not ids:
        problems.append(Problem("articles", "choose at least one article"))
    elif len(ids) > MAX_ARTICLES:
        problems.append(Problem("articles", f"at most {MAX_ARTICLES} articles at once"))
    if problems:
        raise Invalid("Invalid request", problems)
    return [known[a] for a in ids]


def printout(db: Database, who: Principal, patient_id: str,
             article_ids: Sequence[str]) -> tuple[Patient, list[Article]]:
    """The chosen articles for printing, for a clinician of the patient's care team."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "education.print")
        patients.refuse_patient_writes(session, who, patient_id, "education.print",
                                       "print articles for a patient")
        try:
            chosen = _chosen(article_ids)
        except Invalid:
            records.audit(session, who, "education.print", patient_id=patient_id,
                          outcome="invalid")
            raise
        records.audit(session, who, "education.print", patient_id=patient_id)
    return patient, chosen


@dataclass(frozen=True)
class Sent:
    patient: Patient
    articles: list[Article]
    address: str | None
    emailed: bool


def send(db: Database, who: Principal, patient_id: str, article_ids: Sequence[str],
         email: str | None = None, *, email_on: bool = False) -> Sent:
    """Send the chosen articles to the patient (a clinician of their care team only).

    ``email``: ``None`` keeps the patient's stored address, ``""`` removes it, anything else
    replaces it. When ``email_on`` (the installation sends e-mail) and the patient has an
    address, one e-mail is queued to tell them.
    """
    action = "education.send"
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, action)
        patients.refuse_patient_writes(session, who, patient_id, action,
                                       "send articles to a patient")
        problems: list[Problem] = []
        try:
            chosen = _chosen(article_ids)
        except Invalid as exc:
            problems, chosen = list(exc.problems), []
        if email is not None:
            email = email.strip()
            if email and not is_address(email):
                problems.append(Problem("email", "is not an e-mail address"))
        if problems:
            records.audit(session, who, action, patient_id=patient_id, outcome="invalid")
            raise Invalid("Invalid request", problems)
        if email is not None:
            store.set_address(session, patient_id, email or None)
        address = store.address_of(session, patient_id) if email is None else (email or None)
        store.add_shares(session, patient_id, who.user_id, [a.id for a in chosen])
        emailed = email_on and address is not None
        if emailed:
            assert address is not None
            store.queue_email(session, patient_id, address, len(chosen))
        records.audit(session, who, action, patient_id=patient_id)
    return Sent(patient, chosen, address, emailed)


# --- e-mail ------------------------------------------------------------------------------------


def message(row: EducationEmail, sender: str, public_url: str) -> EmailMessage:
    """The e-mail telling a patient there is something to read; it names no article and no
    condition (e-mail is not a secure channel, and it is read on lock screens)."""
    msg = EmailMessage()
    msg["Subject"] = "spinecare: your care team sent you something to read"
    msg["From"] = sender
    msg["To"] = row.address
    msg["Message-ID"] = make_msgid(domain="spinecare.invalid")
    what = "an article" if row.articles == 1 else f"{row.articles} articles"
    msg.set_content(
        f"Your care team has sent you {what} to read about your care.\n\n"
        f"You can read them on your spinecare home page: {public_url.rstrip('/')}/my\n\n"
        "If your sign-in has ended, ask your clinic for a new invitation link.\n\n"
        "If you have new trouble passing urine or controlling your bladder or bowels, "
        "numbness between your legs or around your bottom, or leg weakness that is quickly "
        "getting worse, do not wait: go to an emergency department or call your emergency "
        "number now.\n")
    return msg


def deliver_due(db: Database, smtp: SmtpSettings, public_url: str, now: datetime) -> Delivery:
    """Send every education e-mail that is due, one SMTP session each, retried on the alert
    e-mails' schedule."""
    sent = retrying = failed = 0
    while True:
        with db.session() as session:
            row = store.claim_email(session, now, LEASE)
            if row is None:
                break
            email_id, msg = row.id, message(row, smtp.from_address, public_url)
        error: str | None = None
        try:
            _send(smtp, msg)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        with db.session() as session:
            email = session.get(EducationEmail, email_id)
            assert email is not None
            outcome = outbox.record_attempt(email, now, error, RETRY_AFTER)
        sent += outcome == "sent"
        retrying += outcome == "retrying"
        failed += outcome == "failed"
    return Delivery(0, sent, retrying, failed)
