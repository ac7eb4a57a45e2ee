"""Alerts to the care team: raised where a report is stored (the intake, a questionnaire, an
exercise log with a stop symptom, a visit), in the same transaction; read and acknowledged by
the clinicians of the patient's care team.

What raises an alert is the engine's own output, never a second list of rules: an assessment
with any red flag, or a triage of urgent or emergency; an exercise log naming any of the plan
knowledge's stop symptoms (``programme.stop_symptoms`` in ``plan_rules.toml``, each cited there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session

from spinecare.errors import Problem
from spinecare.plan.rules import load_plan_rules
from spinecare.service import patients
from spinecare.service.errors import Conflict, Forbidden, Invalid, NotFound
from spinecare.store import alerts as store
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.alerts import NewAlert, Status
from spinecare.store.db import Database
from spinecare.store.models import Alert, AlertEmail, Patient
from spinecare.store.once import Claim

#: Triage levels that alert the care team even without a red flag (CONTRACT.md section 2:
#: emergency is same-day emergency care, urgent a specialist within about two weeks).
ALERT_LEVELS = ("emergency", "urgent")

#: A stop symptom's urgency (plan knowledge) as the triage level an alert carries. The plan
#: knowledge pairs "immediately" with the emergency department (every stop symptom with it
#: says "go to the emergency department now") and "same_day" with same-day contact.
STOP_LEVEL = {"immediately": "emergency", "same_day": "urgent"}

NOTE_MAX = 2000
SOURCES = {"intake": "the patient's intake", "questionnaire": "a questionnaire",
           "exercise_log": "the exercise log", "visit": "a visit"}


def from_assessment(source: str, source_id: str | None,
                    assessment: Mapping[str, Any]) -> NewAlert | None:
    """The alert an assessment calls for, if any: any red flag, or an urgent or emergency
    triage."""
    level = assessment["triage"]["level"]
    flags = tuple(f["code"] for f in assessment.get("red_flags", []))
    if not flags and level not in ALERT_LEVELS:
        return None
    return NewAlert(source, source_id, level, flags,
                    tuple(str(r) for r in assessment["triage"].get("reasons", [])))


def from_stop_symptoms(log_id: str, symptom_ids: Sequence[str]) -> NewAlert | None:
    """The alert for stop symptoms logged with the exercises, at the most urgent symptom's
    level."""
    if not symptom_ids:
        return None
    known = {s.id: s for s in load_plan_rules().programme.stop_symptoms}
    symptoms = [known[s] for s in symptom_ids if s in known]
    if not symptoms:
        return None
    levels = [STOP_LEVEL.get(s.urgency, "urgent") for s in symptoms]
    level = "emergency" if "emergency" in levels else "urgent"
    return NewAlert("exercise_log", log_id, level, tuple(s.id for s in symptoms),
                    tuple(f"Stop symptom logged: {s.label}" for s in symptoms))


def raise_in(session: Session, who: Principal, patient_id: str,
             new: NewAlert | None) -> Alert | None:
    """Store ``new`` (if any) in the caller's transaction, audited."""
    if new is None:
        return None
    alert, created = store.raise_alert(session, patient_id, who.user_id, new)
    records.audit(session, who, "alert.create" if created else "alert.repeat",
                  patient_id=patient_id, target_id=alert.id)
    return alert


# --- reading and acknowledging -----------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    patient: Patient | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    patient: Patient
    acknowledged_by: str | None
    emails: Sequence[AlertEmail]
    team: list[tuple[int, str, str | None]]
    recipients: dict[int, str]


def _clinician(who: Principal) -> None:
    if who.role != "clinician":
        raise Forbidden("Only clinicians see alerts")


def inbox(db: Database, who: Principal, status: Status, *, limit: int,
          offset: int) -> tuple[list[AlertRow], int]:
    """The alerts on the caller's care teams (each patient shown audited)."""
    _clinician(who)
    with db.session() as session:
        rows, total = store.clinician_alerts(session, who.user_id, status, limit=limit,
                                             offset=offset)
        names = store.usernames(session, {a.acknowledged_by for a in rows
                                          if a.acknowledged_by is not None})
        out = []
        for alert in rows:
            out.append(AlertRow(alert, session.get(Patient, alert.patient_id),
                                names.get(alert.acknowledged_by or 0)))
            records.audit(session, who, "alert.list", patient_id=alert.patient_id,
                          target_id=alert.id)
    return out, total


def _visible(session: Session, who: Principal, alert_id: str, action: str) -> Alert:
    alert = store.visible_alert(session, who.user_id, alert_id) \
        if records.is_id(alert_id) and who.role == "clinician" else None
    if alert is None:
        records.audit(session, who, action, target_id=alert_id[:64], outcome="denied")
        raise NotFound("alert")
    return alert


def detail(db: Database, who: Principal, alert_id: str) -> AlertDetail:
    """One alert with its patient and e-mails, for a clinician of the patient's team."""
    with db.session() as session:
        alert = _visible(session, who, alert_id, "alert.read")
        records.audit(session, who, "alert.read", patient_id=alert.patient_id,
                      target_id=alert.id)
        return _detail(session, alert)


def _detail(session: Session, alert: Alert) -> AlertDetail:
    patient = session.get(Patient, alert.patient_id)
    assert patient is not None
    emails = store.emails_of(session, alert.id)
    names = store.usernames(session, {e.user_id for e in emails}
                            | ({alert.acknowledged_by} if alert.acknowledged_by else set()))
    return AlertDetail(alert, patient, names.get(alert.acknowledged_by or 0), emails,
                       store.team_addresses(session, alert.patient_id), names)


def acknowledge(db: Database, who: Principal, alert_id: str, note: str, *,
                claim: Claim | None = None) -> AlertDetail:
    """Acknowledge an open alert with what was done (required, audited). Acknowledging an
    acknowledged alert is a :class:`Conflict`: the first clinician's note stands."""
    note = note.strip()
    if not note:
        raise Invalid("Invalid request", [Problem("note", "say what was done (required)")])
    if len(note) > NOTE_MAX:
        raise Invalid("Invalid request", [Problem("note", f"at most {NOTE_MAX} characters")])
    if "\x00" in note:
        raise Invalid("Invalid request", [Problem("note", "must not contain NUL characters")])
    with db.session() as session:
        alert = _visible(session, who, alert_id, "alert.acknowledge")
        if not store.acknowledge(session, alert, who.user_id, note):
            records.audit(session, who, "alert.acknowledge", patient_id=alert.patient_id,
                          target_id=alert.id, outcome="conflict")
            raise Conflict("This alert was already acknowledged")
        records.audit(session, who, "alert.acknowledge", patient_id=alert.patient_id,
                      target_id=alert.id)
        if claim is not None:
            claim(session, alert.id)
        return _detail(session, alert)


def of_patient(db: Database, who: Principal, patient_id: str) -> list[AlertRow]:
    """Every alert of a patient in the caller's care, newest first (clinicians only: the
    acknowledgement notes are the care team's)."""
    _clinician(who)
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "alert.list")
        rows = store.patient_alerts(session, patient_id)
        names = store.usernames(session, {a.acknowledged_by for a in rows
                                          if a.acknowledged_by is not None})
        records.audit(session, who, "alert.list", patient_id=patient_id)
        return [AlertRow(a, patient, names.get(a.acknowledged_by or 0)) for a in rows]


def open_advice(db: Database, who: Principal) -> list[Alert]:
    """The patient's own open emergency or stop advice: alerts they reported themselves that
    no clinician has acknowledged yet, most severe first."""
    if who.patient_id is None:
        raise NotFound("patient")
    with db.session(read_only=True) as session:
        rows = store.patient_alerts(session, who.patient_id)
    mine = [a for a in rows if a.acknowledged_at is None and a.source != "visit"
            and (a.level == "emergency" or a.source == "exercise_log")]
    return sorted(mine, key=lambda a: (a.level != "emergency", a.created_at))


def my_address(db: Database, who: Principal) -> str | None:
    _clinician(who)
    with db.session(read_only=True) as session:
        return store.address_of(session, who.user_id)


def is_address(email: str) -> bool:
    """Whether ``email`` looks like one e-mail address (the SMTP server has the last word)."""
    return not (len(email) > 320 or email.count("@") != 1 or " " in email
                or not email.split("@")[0] or "." not in email.split("@")[1]
                or not email.isprintable())


def set_my_address(db: Database, who: Principal, email: str) -> str | None:
    """Set (or, with an empty string, clear) where the caller's alert e-mails go."""
    _clinician(who)
    email = email.strip()
    if email and not is_address(email):
        raise Invalid("Invalid request", [Problem("email", "is not an e-mail address")])
    with db.session() as session:
        store.set_address(session, who.user_id, email or None)
        records.audit(session, who, "alert.address", target_id=str(who.user_id))
    return email or None


def flags_of(alert: Alert) -> list[str]:
    flags: list[str] = orjson.loads(alert.flags_json)
    return flags


def reasons_of(alert: Alert) -> list[str]:
    reasons: list[str] = orjson.loads(alert.reasons_json)
    return reasons
