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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import orjson
from sqlalchemy.orm import Session

from spinecare.education import DEFAULT_LANGUAGE, Article, EducationLibrary, Language, load_library
from spinecare.education.patient import PatientReading, for_patient
from spinecare.errors import Problem
from spinecare.service import patients
from spinecare.service.alerts import is_address
from spinecare.service.errors import Invalid, NotFound
from spinecare.service.notifications import (
    LEASE,
    Delivery,
    SmtpSettings,
    attempt,
)
from spinecare.store import education as store
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import EducationEmail, Patient
from spinecare.store.once import Claim
from spinecare.vocabulary import LANGUAGES

#: The most articles one printout or one sending may hold: a reading pack, not the library.
MAX_ARTICLES = 20


def library(language: Language = DEFAULT_LANGUAGE) -> EducationLibrary:
    """The library in ``language`` (an article not yet translated is in English)."""
    return load_library(language=language)


def article(article_id: str, language: Language = DEFAULT_LANGUAGE) -> Article:
    """One article of the library in ``language``, or :class:`NotFound`."""
    found = library(language).articles.get(article_id)
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
    #: The page language the patient's own account chose (their printouts and e-mails).
    language: str | None = None

    def article_ids(self) -> tuple[str, ...]:
        """Every article of the patient, each once: their reading's, then the ones sent."""
        seen = dict.fromkeys(self.reading.article_ids() if self.reading else ())
        for s in self.sent:
            seen.setdefault(s.article.id)
        return tuple(seen)


def _articles_of(session: Session, patient: Patient, language: Language) -> PatientArticles:
    lib = library(language)
    visits, _ = records.list_visits(session, patient.id)
    reading = None
    if visits:
        latest = visits[-1]
        assessment: dict[str, Any] = orjson.loads(latest.assessment_json)
        plan: dict[str, Any] = orjson.loads(latest.plan_json)
        reading = for_patient(assessment, plan, lib)
    known = lib.articles
    # An article withdrawn from the library since it was sent is no longer shown.
    sent = tuple(SentArticle(known[row.article_id], row.sent_at, sender)
                 for row, sender in store.shares_of(session, patient.id)
                 if row.article_id in known)
    return PatientArticles(patient, reading, sent, store.address_of(session, patient.id),
                           store.emails_of(session, patient.id),
                           store.language_of(session, patient.id))


def of_patient(db: Database, who: Principal, patient_id: str,
               language: Language = DEFAULT_LANGUAGE) -> PatientArticles:
    """The patient's articles, for the patient themself or a clinician of their care team,
    in ``language``: the articles' titles and the treatments' names from that library."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "education.list")
        found = _articles_of(session, patient, language)
        records.audit(session, who, "education.list", patient_id=patient_id)
    return found


def own(db: Database, who: Principal,
        language: Language = DEFAULT_LANGUAGE) -> PatientArticles:
    """The signed-in patient's own articles."""
    if who.patient_id is None:
        raise NotFound("patient")
    return of_patient(db, who, who.patient_id, language)


def _chosen(article_ids: Sequence[str], language: Language = DEFAULT_LANGUAGE) -> list[Article]:
    known = library(language).articles
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


def printout(db: Database, who: Principal, patient_id: str, article_ids: Sequence[str],
             language: Language = DEFAULT_LANGUAGE) -> tuple[Patient, list[Article]]:
    """The chosen articles for printing in ``language``, for a clinician of the patient's care
    team."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "education.print")
        patients.refuse_patient_writes(session, who, patient_id, "education.print",
                                       "print articles for a patient")
        try:
            chosen = _chosen(article_ids, language)
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
         email: str | None = None, *, email_on: bool = False,
         claim: Claim | None = None) -> Sent:
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
        if claim is not None:
            claim(session, str(len(chosen)))
    return Sent(patient, chosen, address, emailed)


# --- e-mail ------------------------------------------------------------------------------------


# The e-mail's words in every language of the pages. The e-mail is written by the mail worker,
# below the web pages and their catalogue, so its few sentences live here, one set per language;
# the urgent-care sentence says what the pages' urgent advice says.
_EMAIL_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "subject": "spinecare: your care team sent you something to read",
        "one": "an article",
        "many": "{count} articles",
        "body": "Your care team has sent you {what} to read about your care.\n\n"
                "You can read them on your spinecare home page: {home}\n\n"
                "If your sign-in has ended, ask your clinic for a new invitation link.\n\n"
                "If you have new trouble passing urine or controlling your bladder or bowels, "
                "numbness between your legs or around your bottom, or leg weakness that is "
                "quickly getting worse, do not wait: go to an emergency department or call your "
                "emergency number now.\n",
    },
    "es": {
        "subject": "spinecare: su equipo de atención le ha enviado algo para leer",
        "one": "un artículo",
        "many": "{count} artículos",
        "body": "Su equipo de atención le ha enviado {what} para leer sobre su atención.\n\n"
                "Puede leerlos en su página de inicio de spinecare: {home}\n\n"
                "Si ya no puede entrar, pida a su clínica un nuevo enlace de invitación.\n\n"
                "Si nota algo nuevo de esto, no espere: vaya ahora a urgencias de un hospital o "
                "llame a su número de emergencias. Le cuesta orinar o controlar la orina o las "
                "heces. Nota la piel dormida entre las piernas o alrededor del ano. Tiene las "
                "piernas débiles y van a peor deprisa.\n",
    },
}
assert set(_EMAIL_TEXT) == set(LANGUAGES)  # a new language needs its e-mail first


def message(row: EducationEmail, sender: str, public_url: str,
            language: str | None = None) -> EmailMessage:
    """The e-mail telling a patient there is something to read; it names no article and no
    condition (e-mail is not a secure channel, and it is read on lock screens). Written in
    ``language`` (the patient's account's page language), else English."""
    words = _EMAIL_TEXT.get(language or DEFAULT_LANGUAGE, _EMAIL_TEXT[DEFAULT_LANGUAGE])
    msg = EmailMessage()
    msg["Subject"] = words["subject"]
    msg["From"] = sender
    msg["To"] = row.address
    msg["Message-ID"] = make_msgid(domain="spinecare.invalid")
    what = words["one"] if row.articles == 1 else words["many"].format(count=row.articles)
    msg.set_content(words["body"].format(what=what, home=f"{public_url.rstrip('/')}/my"))
    if language in _EMAIL_TEXT:
        msg["Content-Language"] = language
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
            email_id = row.id
            msg = message(row, smtp.from_address, public_url,
                          store.language_of(session, row.patient_id))
        outcome = attempt(db, smtp, EducationEmail, email_id, msg, now)
        sent += outcome == "sent"
        retrying += outcome == "retrying"
        failed += outcome == "failed"
    return Delivery(0, sent, retrying, failed)
