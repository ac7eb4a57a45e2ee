"""Seeing and registering patients. A clinician sees the patients of their care teams, a
patient only themself; any other patient is "not found" (never "forbidden"), and the refusal
is audited like the read it refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from spinecare.service.errors import Forbidden, NotFound
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import ExerciseLog, Patient, QuestionnaireResponse, Visit
from spinecare.store.once import Claim

# The web's pages show at most this many records of each kind at once.
PAGE_MAX = 500


@dataclass(frozen=True)
class PatientWithTeam:
    patient: Patient
    care_team: list[str]


@dataclass(frozen=True)
class CaseloadRow:
    patient: Patient
    visit_count: int
    latest: Visit | None


@dataclass(frozen=True)
class Chart:
    """What a clinician's page of one patient shows."""

    patient: Patient
    visits: Sequence[Visit]
    responses: Sequence[QuestionnaireResponse]
    care_team: list[str]


@dataclass(frozen=True)
class OwnRecords:
    """What a patient's own pages show."""

    patient: Patient
    visits: Sequence[Visit]
    responses: Sequence[QuestionnaireResponse]
    exercise_logs: Sequence[ExerciseLog]


def visible(session: Session, who: Principal, patient_id: str, action: str) -> Patient:
    """The patient, or :class:`NotFound` after auditing ``action`` as denied."""
    patient = records.visible_patient(session, who, patient_id)
    if patient is None:
        records.audit(session, who, action, patient_id=patient_id, outcome="denied",
                      reason="no such patient among the caller's")
        raise NotFound("patient")
    return patient


def refuse_patient_writes(session: Session, who: Principal, patient_id: str, action: str,
                          what: str) -> None:
    """:class:`Forbidden` (audited) when a patient tries to ``what`` ("add visits")."""
    if who.role == "patient":
        records.audit(session, who, action, patient_id=patient_id, outcome="denied",
                      reason=f"patients cannot {what}")
        raise Forbidden(f"Patients cannot {what}")


def require(db: Database, who: Principal, patient_id: str, action: str) -> Patient:
    """The patient, for a use case about to do ``action``; only a refusal is audited here."""
    with db.session() as session:
        return visible(session, who, patient_id, action)


def find(db: Database, who: Principal, patient_id: str) -> Patient:
    """The patient, read without writing anything (not even a refusal)."""
    with db.session(read_only=True) as session:
        patient = records.visible_patient(session, who, patient_id)
    if patient is None:
        raise NotFound("patient")
    return patient


def read(db: Database, who: Principal, patient_id: str, action: str) -> Patient:
    """The patient, auditing ``action`` as done or denied."""
    with db.session() as session:
        patient = visible(session, who, patient_id, action)
        records.audit(session, who, action, patient_id=patient_id)
        return patient


def create(db: Database, who: Principal, display_name: str, birth_year: int, *,
           claim: Claim | None = None) -> PatientWithTeam:
    """Register a patient; the caller, who must be a clinician, becomes its clinician."""
    if who.role != "clinician":
        raise Forbidden("Only clinicians can register patients")
    with db.session() as session:
        patient = records.create_patient(session, who.user_id, display_name, birth_year)
        records.audit(session, who, "patient.create", patient_id=patient.id)
        if claim is not None:
            claim(session, patient.id)
        return PatientWithTeam(patient, records.care_team(session, patient.id))


def page(db: Database, who: Principal, *, limit: int,
         offset: int) -> tuple[list[PatientWithTeam], int]:
    """The patients the caller may see (a patient sees only themself), each read audited."""
    with db.session() as session:
        rows, total = records.list_patients(session, who, limit=limit, offset=offset)
        for patient in rows:
            records.audit(session, who, "patient.list", patient_id=patient.id)
        return [PatientWithTeam(p, records.care_team(session, p.id)) for p in rows], total


def get(db: Database, who: Principal, patient_id: str) -> PatientWithTeam:
    with db.session() as session:
        patient = visible(session, who, patient_id, "patient.read")
        records.audit(session, who, "patient.read", patient_id=patient_id)
        return PatientWithTeam(patient, records.care_team(session, patient_id))


def caseload(db: Database, who: Principal, query: str = "") -> list[CaseloadRow]:
    """The caller's patients whose name contains ``query`` (lower case), with their visits;
    only the patients shown are audited as read."""
    rows = []
    with db.session() as session:
        patients, _ = records.list_patients(session, who, limit=PAGE_MAX, offset=0)
        for patient in patients:
            if query and query not in patient.display_name.lower():
                continue
            visits, total = records.list_visits(session, patient.id)
            records.audit(session, who, "patient.list", patient_id=patient.id)
            rows.append(CaseloadRow(patient, total, visits[-1] if visits else None))
    return rows


def responses(session: Session, patient_id: str) -> Sequence[QuestionnaireResponse]:
    rows, _ = records.list_questionnaire_responses(session, patient_id, limit=PAGE_MAX,
                                                   offset=0)
    return rows


def chart(db: Database, who: Principal, patient_id: str) -> Chart:
    """One patient for their clinician: visits, questionnaires and care team, each read
    audited."""
    with db.session() as session:
        patient = visible(session, who, patient_id, "patient.read")
        visits, _ = records.list_visits(session, patient_id)
        answered = responses(session, patient_id)
        team = records.care_team(session, patient_id)
        for action in ("patient.read", "visit.list", "outcomes.read", "questionnaire.list"):
            records.audit(session, who, action, patient_id=patient_id)
    return Chart(patient, visits, answered, team)


def own_records(db: Database, who: Principal, action: str) -> OwnRecords:
    """A patient's own records, audited as ``action`` (the page that shows them)."""
    if who.patient_id is None:
        raise NotFound("patient")
    with db.session() as session:
        patient = visible(session, who, who.patient_id, action)
        visits, _ = records.list_visits(session, who.patient_id)
        answered = responses(session, who.patient_id)
        logs, _ = records.list_exercise_logs(session, who.patient_id, limit=PAGE_MAX, offset=0)
        records.audit(session, who, action, patient_id=who.patient_id)
    return OwnRecords(patient, visits, answered, logs)
