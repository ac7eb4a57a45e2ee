"""The database tables, as SQLAlchemy 2 typed mappings.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
Clinical documents (the case, its assessment and plan) are stored as the JSON text that was
produced, byte for byte, with the engine and knowledge versions that produced them: an old visit
is re-read exactly as it was, whatever the engine does today.

Identifiers of patients and visits are random (UUID 4 hex) so that they cannot be enumerated.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("clinician", "admin", "patient")


class Base(DeclarativeBase):
    pass


class User(Base):
    """An account. Clinicians and admins log in with a password; a patient account belongs to
    one patient and has no password (it signs in through an invitation)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str | None] = mapped_column(String(150), unique=True)
    # The name as compared (``spinecare.store.usernames.username_key``): NFKC, case-folded,
    # confusable characters folded, so that lookalike names cannot sit side by side.
    username_key: Mapped[str | None] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    patient_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("patients.id"), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The language the account chose for its pages (``vocabulary.Language``); none: the
    # browser's choice.
    language: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (Index("ux_users_username_key", "username_key", unique=True),)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # No foreign key: users point at patients (patient accounts), and one direction suffices.
    created_by: Mapped[int] = mapped_column(Integer)
    # Identity the clinic records (all optional: a patient added before had none).
    mrn: Mapped[str | None] = mapped_column(String(64))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    # When a clinician ended the patient's own access; until a new invitation is redeemed no
    # e-mailed sign-in link is sent or honoured (otherwise the patient could simply ask for one).
    access_ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class CareTeamMember(Base):
    """A clinician responsible for a patient: the only clinicians who may see the patient."""

    __tablename__ = "care_team"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_care_team_user", "user_id"),)


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # sha256 of the case as submitted: a repeated Idempotency-Key must repeat the same case.
    request_hash: Mapped[str] = mapped_column(String(64))
    case_json: Mapped[str] = mapped_column(Text)
    assessment_json: Mapped[str] = mapped_column(Text)
    plan_json: Mapped[str] = mapped_column(Text)
    engine_version: Mapped[str] = mapped_column(String(32))
    knowledge_version: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("patient_id", "idempotency_key", name="uq_visits_patient_idempotency"),
        Index("ix_visits_patient_created", "patient_id", "created_at"),
    )


class QuestionnaireResponse(Base):
    __tablename__ = "questionnaire_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(64))
    answers_json: Mapped[str] = mapped_column(Text)
    score_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ExerciseLog(Base):
    __tablename__ = "exercise_logs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    log_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class AccessToken(Base):
    """An opaque bearer token; only its sha256 is stored, so a database copy grants nothing."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Invitation(Base):
    """A one-time patient invitation; the signed link carries only ``id``."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set when a clinician or admin takes the link back (or a newer invitation replaces it).
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)


class PasswordReset(Base):
    """A one-time password reset an admin issued; like a token, only its sha256 is kept."""

    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # No foreign key: the command line issues resets as nobody in particular.
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted under one key (an account, a source address, or the pair), and
    until when the key is refused (``spinecare.store.throttle``)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[datetime] = mapped_column(DateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    """Who did what to which patient, when, from where, and why a refusal was refused.
    Append-only (database triggers refuse UPDATE, DELETE and, on SQLite, an INSERT replacing a
    row) and hash-chained (``spinecare.store.chain``). Holds ids only, never clinical content;
    ``username`` is the attempted name of a failed sign-in. ``patient_id`` has no foreign key: a
    refused attempt on an id that does not exist is recorded too."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(150))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class Alert(Base):
    """Something the care team must see: a red flag the patient reported (intake,
    questionnaire, a stop symptom logged with the exercises) or a visit assessed as urgent or
    emergency. Open until a clinician acknowledges it with a note; nothing closes it by itself
    (a later report without the flag does not mean the flag went away). ``reasons_json`` holds
    the engine's or the knowledge's own sentences, ``flags_json`` the red-flag codes or stop
    symptom ids. A repeat of the same open alert (same source, level and flags) is counted on
    it instead of being stored again."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    flags_json: Mapped[str] = mapped_column(Text)
    reasons_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reports: Mapped[int] = mapped_column(Integer, default=1)
    last_reported_at: Mapped[datetime] = mapped_column(DateTime)
    # When the e-mails to the care team were queued (null: not yet, or e-mail is off).
    queued_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_alerts_patient_open", "patient_id", "acknowledged_at"),
        Index("ix_alerts_queue", "acknowledged_at", "queued_at"),
    )


class AlertEmail(Base):
    """One e-mail of an alert to one clinician, with its delivery state: ``pending`` (to try at
    ``next_attempt_at``), ``sent``, or ``failed`` (given up; shown as not sent)."""

    __tablename__ = "alert_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("alert_id", "user_id", name="uq_alert_emails_alert_user"),
        Index("ix_alert_emails_due", "status", "next_attempt_at"),
    )


class AlertAddress(Base):
    """Where a clinician wants alert e-mails (set by the clinician on the alerts page)."""

    __tablename__ = "alert_addresses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WorklistEntry(Base):
    """One patient on one clinician's worklist, with what the list sorts and filters on, kept
    up to date as visits and alerts are stored (in the same transaction). One row per care-team
    member, so that a clinician's list of 10,000 patients is a range of one index, in the order
    shown, instead of a join and a sort. The ``*_order`` columns sort ascending, most urgent
    first: ``4 - (LEVEL_RANK + 1)`` for a level, 4 for none; ``review_order`` is the review
    date, or the end of time when there is none."""

    __tablename__ = "worklist_entries"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(200))
    visit_count: Mapped[int] = mapped_column(Integer)
    last_visit_at: Mapped[datetime | None] = mapped_column(DateTime)
    triage: Mapped[str | None] = mapped_column(String(16))
    triage_order: Mapped[int] = mapped_column(Integer)
    review_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    review_order: Mapped[datetime] = mapped_column(DateTime)
    open_alerts: Mapped[int] = mapped_column(Integer)
    alert_level: Mapped[str | None] = mapped_column(String(16))
    alert_order: Mapped[int] = mapped_column(Integer)
    oldest_open_alert_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_worklist_priority", "user_id", "alert_order", "triage_order", "review_order",
              "name_key", "patient_id"),
        Index("ix_worklist_name", "user_id", "name_key", "patient_id"),
        Index("ix_worklist_triage", "user_id", "triage_order", "name_key", "patient_id"),
        Index("ix_worklist_review", "user_id", "review_order", "name_key", "patient_id"),
        Index("ix_worklist_patient", "patient_id"),
    )


class EducationShare(Base):
    """An education article a clinician sent to a patient; shown on the patient's home as
    "from your care team". The article is named by its library id: the text is the library's,
    read when shown, so a corrected article reaches every patient it was sent to."""

    __tablename__ = "education_shares"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    article_id: Mapped[str] = mapped_column(String(64))
    sent_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_education_shares_patient", "patient_id", "sent_at"),)


class PatientAddress(Base):
    """Where a patient wants to hear that their care team sent them something to read (set by
    a clinician of the team, with the patient's consent)."""

    __tablename__ = "patient_addresses"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class EducationEmail(Base):
    """One e-mail telling a patient that articles were sent, with its delivery state (as
    :class:`AlertEmail`): ``pending``, ``sent`` or ``failed``. It names no article: e-mail is
    not a secure channel."""

    __tablename__ = "education_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    address: Mapped[str] = mapped_column(String(320))
    articles: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_education_emails_due", "status", "next_attempt_at"),)
class CdsClient(Base):
    """An EHR allowed to call the CDS Hooks services: the ``iss`` its JWTs carry, and where its
    public keys are (a JWKS URL, or the key set itself, copied from a file when registered)."""

    __tablename__ = "cds_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    iss: Mapped[str] = mapped_column(String(500), unique=True)
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
    jwks_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class CdsJti(Base):
    """A JWT id already accepted, kept until the token expires: a second use is a replay."""

    __tablename__ = "cds_jtis"

    iss: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_cds_jtis_expires", "expires_at"),)


class CdsCard(Base):
    """A card handed to an EHR: its type, so that feedback on it can be counted per type."""

    __tablename__ = "cds_cards"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    card_type: Mapped[str] = mapped_column(String(64))
    iss: Mapped[str] = mapped_column(String(500))
    hook_instance: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(DateTime)


class CdsFeedback(Base):
    """What the clinician did with a card: accepted (which suggestions) or overridden (why)."""

    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(ForeignKey("cds_cards.uuid"))
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_json: Mapped[str | None] = mapped_column(Text)
    override_system: Mapped[str | None] = mapped_column(String(500))
    override_code: Mapped[str | None] = mapped_column(String(200))
    user_comment: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    iss: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_cds_feedback_card", "card_uuid"),)


class InstrumentText(Base):
    """A clinic's licensed wording of an instrument, loaded for this installation only (never
    shipped): with it, patients may answer the instrument at home."""

    __tablename__ = "instrument_texts"

    instrument: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    licence: Mapped[str] = mapped_column(String(500))
    text_json: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime)
    loaded_by: Mapped[str] = mapped_column(String(200))


class FormToken(Base):
    """A one-time form token (``spinecare.store.once``): issued with a form, bound to who it
    was issued to and the form's purpose, spent in the transaction of the form's write. Only
    its sha256 is kept. ``location`` is where the write's result is shown, so a replay of the
    form leads there."""

    __tablename__ = "form_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    purpose: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    location: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_form_tokens_expires", "expires_at"),)


class IntakeDraft(Base):
    """A patient's intake answered so far (one open intake per patient): it survives signing
    out and another device, and goes when the intake is finished."""

    __tablename__ = "intake_drafts"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    answers_json: Mapped[str] = mapped_column(Text)
    skipped_json: Mapped[str] = mapped_column(Text)
    order_json: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class SigninLink(Base):
    """A one-time patient sign-in link sent by e-mail; the link carries ``id`` signed with the
    service's secret. Only the newest of a patient's links works."""

    __tablename__ = "signin_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    # The clinician who resent it; none when the patient asked for it.
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_signin_links_patient", "patient_id"),)


class SigninEmail(Base):
    """The e-mail carrying a sign-in link, with its delivery state (as :class:`AlertEmail`)."""

    __tablename__ = "signin_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("signin_links.id"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_signin_emails_due", "status", "next_attempt_at"),)


class Passkey(Base):
    """A passkey (a WebAuthn public-key credential) an account signs in with. The private key
    never leaves the person's device; only its public key and counter are kept here."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # base64url, as the browser names it; unique across accounts, so one credential can
    # never stand for two people.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(Text)  # COSE key, base64url
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    # The relying party it was made for: it signs in only there.
    rp_id: Mapped[str] = mapped_column(String(253))
    # The random WebAuthn user handle of the account (base64url; never the patient's id).
    user_handle: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    transports: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class PasskeyChallenge(Base):
    """A WebAuthn challenge handed to one browser (its session or pre-session cookie, as
    ``owner``) for one purpose; spent by the first response that comes back with it. Only its
    sha256 is stored."""

    __tablename__ = "passkey_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    purpose: Mapped[str] = mapped_column(String(16))
    # The user handle given with a challenge to add a passkey (the account's first passkey
    # gets a new random one here).
    user_handle: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_passkey_challenges_expires", "expires_at"),)
