"""Alerts to the care team: raised by the engine's own red flags and triage wherever a report is
stored, kept until a clinician acknowledges them with a note, and e-mailed through a real SMTP
server on loopback (aiosmtpd) without losing anything when that server is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from spinecare.instruments.intake import case_from_intake
from spinecare.reasoning.engine import default_engine
from spinecare.service import (
    alerts,
    care_team,
    exercise_logs,
    invitations,
    patients,
    questionnaires,
    visits,
)
from spinecare.service.errors import Conflict, Invalid, NotFound
from spinecare.service.notifications import SmtpSettings, deliver_due
from spinecare.store import accounts
from spinecare.store import alerts as store
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Alert, AlertEmail, AuditEvent, WorklistEntry
from spinecare.store.stamps import utcnow
from tests.alerts.smtp import free_port, smtp_server
from tests.api.fixtures import PASSWORD, case_bytes

SECRET = "alerts-test-secret-" + "a" * 40
WEEK = timedelta(weeks=1)
SADDLE = {"bladder": "normal", "bowel_incontinence": False, "saddle_anesthesia": True}
CALM = {"bladder": "normal", "bowel_incontinence": False, "saddle_anesthesia": False}


@pytest.fixture(scope="module")
def people(db: Database) -> dict[str, Principal]:
    with db.session() as session:
        return {name: accounts.principal_of(accounts.create_user(session, name, "clinician",
                                                                 PASSWORD))
                for name in ("al-doc", "al-nurse", "al-stranger")}


@pytest.fixture
def patient(db: Database, people: dict[str, Principal]) -> tuple[str, Principal]:
    pid = patients.create(db, people["al-doc"], "Alert Patient", 1950).patient.id
    care_team.add(db, people["al-doc"], pid, "al-nurse")
    code = invitations.create(db, people["al-doc"], pid, secret_key=SECRET, ttl=WEEK).token
    token = invitations.redeem(db, code, secret_key=SECRET, ttl=WEEK).token
    with db.session(read_only=True) as session:
        found = accounts.principal_for_token(session, accounts.hash_token(token))
    assert found is not None
    return pid, found[0]


def intake(db: Database, who: Principal, answers: dict[str, Any]) -> None:
    case = case_from_intake(answers, case_id="intake", patient={"age": 75})
    questionnaires.save_intake(db, who, answers, default_engine().assess(case), False)


def open_alerts(db: Database, patient_id: str) -> list[Alert]:
    with db.session(read_only=True) as session:
        return [a for a in store.patient_alerts(session, patient_id) if a.acknowledged_at is None]


def test_saddle_numbness_in_the_intake_alerts_the_care_team_with_the_engines_flags(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, me = patient
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    assert (alert.source, alert.level) == ("intake", "emergency")
    assert "cauda_equina_syndrome" in alerts.flags_of(alert)
    assert alerts.reasons_of(alert)
    for clinician in ("al-doc", "al-nurse"):
        rows, _ = alerts.inbox(db, people[clinician], "open", limit=50, offset=0)
        assert alert.id in [r.alert.id for r in rows]
    rows, _ = alerts.inbox(db, people["al-stranger"], "open", limit=50, offset=0)
    assert alert.id not in [r.alert.id for r in rows]
    with pytest.raises(NotFound):
        alerts.detail(db, people["al-stranger"], alert.id)
    with db.session(read_only=True) as session:
        for clinician in ("al-doc", "al-nurse"):
            entry = session.get(WorklistEntry, (people[clinician].user_id, pid))
            assert entry is not None
            assert (entry.open_alerts, entry.alert_level, entry.alert_order) == (
                1, "emergency", 0)


def test_a_calm_intake_raises_nothing_and_a_later_one_does_not_close_the_alert(
        db: Database, patient: tuple[str, Principal]) -> None:
    pid, me = patient
    intake(db, me, CALM)
    assert open_alerts(db, pid) == []
    intake(db, me, SADDLE)
    intake(db, me, CALM)
    assert len(open_alerts(db, pid)) == 1


def test_the_same_report_twice_is_counted_on_the_open_alert(
        db: Database, patient: tuple[str, Principal]) -> None:
    pid, me = patient
    intake(db, me, SADDLE)
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    assert alert.reports == 2


def test_acknowledging_needs_a_note_is_audited_and_happens_once(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, me = patient
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    with pytest.raises(Invalid) as refused:
        alerts.acknowledge(db, people["al-nurse"], alert.id, "   ")
    assert refused.value.problems[0].path == "note"
    done = alerts.acknowledge(db, people["al-nurse"], alert.id, "Phoned; sent to A&E.")
    assert done.acknowledged_by == "al-nurse" and done.alert.acknowledged_at is not None
    assert done.alert.acknowledgement == "Phoned; sent to A&E."
    with pytest.raises(Conflict):
        alerts.acknowledge(db, people["al-doc"], alert.id, "me too")
    assert open_alerts(db, pid) == []
    with db.session(read_only=True) as session:
        actions = session.execute(select(AuditEvent.actor_id, AuditEvent.outcome).where(
            AuditEvent.action == "alert.acknowledge", AuditEvent.target_id == alert.id)).all()
        entry = session.get(WorklistEntry, (people["al-nurse"].user_id, pid))
    assert (people["al-nurse"].user_id, "ok") in actions
    assert (people["al-doc"].user_id, "conflict") in actions
    assert entry is not None and (entry.open_alerts, entry.alert_level) == (0, None)
    # A new report after the acknowledgement is a new alert, not the old one reopened.
    intake(db, me, SADDLE)
    (again,) = open_alerts(db, pid)
    assert again.id != alert.id


def test_a_stop_symptom_logged_with_the_exercises_alerts_at_its_knowledge_urgency(
        db: Database, patient: tuple[str, Principal]) -> None:
    pid, me = patient
    exercise_logs.add(db, me, pid, {"day": 3, "done": False, "symptoms": ["saddle_numbness"]})
    exercise_logs.add(db, me, pid, {"day": 4, "done": True, "symptoms": []})
    (alert,) = open_alerts(db, pid)
    assert (alert.source, alert.level) == ("exercise_log", "emergency")
    assert alerts.flags_of(alert) == ["saddle_numbness"]
    assert [a.source for a in alerts.open_advice(db, me)] == ["exercise_log"]


def test_a_visit_assessed_urgent_or_emergency_alerts_and_a_routine_one_does_not(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, _ = patient
    visits.create(db, people["al-doc"], pid, case_bytes("lss-classic"))
    assert open_alerts(db, pid) == []
    visits.create(db, people["al-doc"], pid, case_bytes("ces-retention"))
    (alert,) = open_alerts(db, pid)
    assert (alert.source, alert.level) == ("visit", "emergency")


def test_a_questionnaire_alerts_when_the_engine_finds_a_red_flag_in_it() -> None:
    # Straight from an assessment: the rule is the engine's output, nothing else.
    assessment = {"triage": {"level": "routine", "reasons": ["r"]},
                  "red_flags": [{"code": "malignancy"}]}
    new = alerts.from_assessment("questionnaire", None, assessment)
    assert new is not None and new.flags == ("malignancy",)
    assert alerts.from_assessment("questionnaire", None, {
        "triage": {"level": "routine", "reasons": []}, "red_flags": []}) is None


def test_patient_questionnaires_without_red_flags_raise_nothing(
        db: Database, patient: tuple[str, Principal]) -> None:
    pid, me = patient
    questionnaires.submit(db, me, pid, "pain_nrs", {"back": 3, "leg": 2})
    assert open_alerts(db, pid) == []


# --- e-mail -------------------------------------------------------------------------------------


def smtp(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, from_address="alerts@clinic.example",
                        starttls=False, timeout=5)


def address(db: Database, who: Principal, email: str) -> None:
    alerts.set_my_address(db, who, email)


def test_an_alert_is_emailed_to_each_clinician_of_the_team_with_no_patient_details(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, me = patient
    address(db, people["al-doc"], "doc@clinic.example")
    address(db, people["al-nurse"], "nurse@clinic.example")
    address(db, people["al-stranger"], "stranger@clinic.example")
    deliver_due(db, smtp(free_port()), "http://x", utcnow())  # flush older tests' alerts
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    with smtp_server() as (inbox, port):
        done = deliver_due(db, smtp(port), "https://care.example", utcnow() + timedelta(days=1))
    mine = [(m, r) for m, r in zip(inbox.messages, inbox.recipients, strict=True)
            if alert.id in m.get_content()]
    assert sorted(r[0] for _, r in mine) == ["doc@clinic.example", "nurse@clinic.example"]
    assert done.sent >= 2
    message = mine[0][0]
    body = message.get_content()
    assert f"https://care.example/alerts/{alert.id}" in body
    assert "EMERGENCY" in body and "emergency" in message["Subject"]
    for private in ("Alert Patient", "saddle", "cauda", "1950"):
        assert private.lower() not in (body + message["Subject"]).lower()
    with db.session(read_only=True) as session:
        states = {e.address: e.status for e in store.emails_of(session, alert.id)}
    assert states == {"doc@clinic.example": "sent", "nurse@clinic.example": "sent"}


def test_an_smtp_server_that_is_down_loses_nothing_and_is_tried_again(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, me = patient
    address(db, people["al-doc"], "doc@clinic.example")
    port = free_port()
    now = utcnow() + timedelta(days=2)
    deliver_due(db, smtp(port), "http://x", now)  # nothing listens: older e-mails wait too
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    first = deliver_due(db, smtp(port), "http://x", now)
    assert first.retrying >= 1 and first.sent == 0
    with db.session(read_only=True) as session:
        (email,) = [e for e in store.emails_of(session, alert.id)
                    if e.address == "doc@clinic.example"]
    assert (email.status, email.attempts) == ("pending", 1)
    assert email.last_error and email.next_attempt_at is not None
    assert email.next_attempt_at > now
    assert open_alerts(db, pid)[0].id == alert.id  # the alert itself is untouched
    # Not before its time; then the server is back and the e-mail goes.
    with smtp_server(port) as (inbox, _):
        assert deliver_due(db, smtp(port), "http://x", now).sent == 0
        later = deliver_due(db, smtp(port), "http://x", now + timedelta(hours=6))
    assert later.sent >= 1
    assert any(alert.id in m.get_content() for m in inbox.messages)


def test_an_email_is_given_up_as_not_sent_after_its_retries(
        db: Database, people: dict[str, Principal], patient: tuple[str, Principal]) -> None:
    pid, me = patient
    address(db, people["al-doc"], "doc@clinic.example")
    port = free_port()
    now = utcnow() + timedelta(days=3)
    deliver_due(db, smtp(port), "http://x", now)
    intake(db, me, SADDLE)
    (alert,) = open_alerts(db, pid)
    for hours in range(0, 60, 5):
        deliver_due(db, smtp(port), "http://x", now + timedelta(hours=hours))
    with db.session(read_only=True) as session:
        rows = session.scalars(select(AlertEmail).where(AlertEmail.alert_id == alert.id)).all()
    assert {r.status for r in rows} == {"failed"}
    assert all(r.last_error for r in rows)


def test_an_alert_address_must_look_like_one(db: Database,
                                             people: dict[str, Principal]) -> None:
    with pytest.raises(Invalid) as refused:
        alerts.set_my_address(db, people["al-doc"], "not an address")
    assert refused.value.problems[0].path == "email"
    assert alerts.set_my_address(db, people["al-doc"], "") is None


def test_stored_reports_and_their_alerts_commit_together(
        db: Database, patient: tuple[str, Principal]) -> None:
    pid, me = patient
    intake(db, me, SADDLE)
    with db.session(read_only=True) as session:
        alert = session.scalars(select(Alert).where(Alert.patient_id == pid)).one()
        response_ids = session.execute(select(AuditEvent.target_id).where(
            AuditEvent.patient_id == pid, AuditEvent.action == "questionnaire.create")).all()
    assert alert.source_id in [r[0] for r in response_ids]
    assert orjson.loads(alert.flags_json)
