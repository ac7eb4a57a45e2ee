"""Repositories for patient records: patients and care teams, visits, questionnaire responses,
exercise logs, and the audit trail. Plain functions over a :class:`Session`; the caller owns
the transaction. Access control lives here too, as queries: a patient is *visible* to a caller
only through the care team (clinicians) or the caller's own account (patients).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spinecare.store.accounts import find_by_username
from spinecare.store.audit import audit, is_id, list_audit
from spinecare.store.models import (
    CareTeamMember,
    ExerciseLog,
    Patient,
    QuestionnaireResponse,
    User,
    Visit,
)
from spinecare.store.stamps import new_id, utcnow
from spinecare.store.worklist import add_entry, visit_added

if TYPE_CHECKING:
    from spinecare.store.accounts import Principal

# The audit trail lives in :mod:`spinecare.store.audit`; these names stay importable from here.
__all__ = ["audit", "is_id", "list_audit"]


# --- patients and care teams -----------------------------------------------------------------


def create_patient(session: Session, clinician_id: int, display_name: str,
                   birth_year: int) -> Patient:
    now = utcnow()
    patient = Patient(id=new_id(), display_name=display_name, birth_year=birth_year,
                      created_at=now, created_by=clinician_id)
    session.add(patient)
    session.flush()
    session.add(CareTeamMember(patient_id=patient.id, user_id=clinician_id, added_at=now))
    add_entry(session, clinician_id, patient.id, display_name)
    return patient


def visible_patient(session: Session, who: Principal, patient_id: str) -> Patient | None:
    """The patient if ``who`` may see it: a member of its care team, or the patient."""
    if not is_id(patient_id):
        return None
    if who.role == "patient":
        if who.patient_id != patient_id:
            return None
        return session.get(Patient, patient_id)
    if who.role != "clinician":
        return None
    return session.scalar(
        select(Patient).where(
            Patient.id == patient_id,
            exists().where(CareTeamMember.patient_id == Patient.id,
                           CareTeamMember.user_id == who.user_id)))


def care_team(session: Session, patient_id: str) -> list[str]:
    return list(session.scalars(
        select(User.username).join(CareTeamMember, CareTeamMember.user_id == User.id)
        .where(CareTeamMember.patient_id == patient_id).order_by(User.username)))


def add_to_care_team(session: Session, patient_id: str, username: str) -> bool:
    """Add the clinician ``username``; false when there is no such active clinician."""
    # By the name's key, as at sign-in: "Dr.Smith" and "dr.smith" are one clinician.
    user = find_by_username(session, username)
    if user is None or user.role != "clinician" or user.disabled:
        return False
    if session.get(CareTeamMember, (patient_id, user.id)) is None:
        session.add(CareTeamMember(patient_id=patient_id, user_id=user.id, added_at=utcnow()))
        patient = session.get(Patient, patient_id)
        assert patient is not None
        add_entry(session, user.id, patient_id, patient.display_name)
    return True


def list_patients(session: Session, who: Principal, *, limit: int,
                  offset: int) -> tuple[Sequence[Patient], int]:
    if who.role == "patient":
        where = [Patient.id == who.patient_id]
    elif who.role == "clinician":
        where = [exists().where(CareTeamMember.patient_id == Patient.id,
                                CareTeamMember.user_id == who.user_id)]
    else:
        return [], 0
    total = session.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    rows = session.scalars(select(Patient).where(*where)
                           .order_by(Patient.created_at, Patient.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


# --- visits ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewVisit:
    """A visit ready to store: the documents already serialised, as they will be re-read."""

    case_json: str
    assessment_json: str
    plan_json: str
    engine_version: str
    knowledge_version: str
    request_hash: str
    # For the worklist: the assessment's triage level, and how long after the visit the
    # plan's first review falls (none: no review planned).
    triage: str | None = None
    review_after: timedelta | None = None


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for this patient with a different case."""

    def __init__(self, visit: Visit):
        self.visit = visit


def add_visit(session: Session, patient_id: str, created_by: int, visit: NewVisit, *,
              idempotency_key: str | None = None,
              at: datetime | None = None) -> tuple[Visit, bool]:
    """Store a visit; ``(visit, created)``. With an ``idempotency_key`` already used for this
    patient, the first visit comes back instead (``created`` false), even when both requests
    race: the unique constraint decides, and the loser reads the winner's row."""
    if idempotency_key is not None:
        earlier = _visit_by_key(session, patient_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, visit)
    row = Visit(id=new_id(), patient_id=patient_id, created_at=at or utcnow(),
                created_by=created_by, idempotency_key=idempotency_key,
                request_hash=visit.request_hash, case_json=visit.case_json,
                assessment_json=visit.assessment_json, plan_json=visit.plan_json,
                engine_version=visit.engine_version, knowledge_version=visit.knowledge_version)
    if idempotency_key is None:
        session.add(row)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            earlier = _visit_by_key(session, patient_id, idempotency_key)
            if earlier is None:
                raise
            return _replay(earlier, visit)
    triage = visit.triage or orjson.loads(visit.assessment_json)["triage"]["level"]
    visit_added(session, patient_id, row.created_at, triage, visit.review_after)
    return row, True


def _visit_by_key(session: Session, patient_id: str, key: str) -> Visit | None:
    return session.scalar(select(Visit).where(Visit.patient_id == patient_id,
                                              Visit.idempotency_key == key))


def _replay(earlier: Visit, visit: NewVisit) -> tuple[Visit, bool]:
    if earlier.request_hash != visit.request_hash:
        raise IdempotencyConflict(earlier)
    return earlier, False


def list_visits(session: Session, patient_id: str, *, limit: int | None = None,
                offset: int = 0) -> tuple[Sequence[Visit], int]:
    """The patient's visits, oldest first (ties broken by id, so pages are stable)."""
    total = session.scalar(select(func.count()).select_from(Visit)
                           .where(Visit.patient_id == patient_id)) or 0
    query = (select(Visit).where(Visit.patient_id == patient_id)
             .order_by(Visit.created_at, Visit.id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all(), total


def get_visit(session: Session, patient_id: str, visit_id: str) -> Visit | None:
    if not is_id(visit_id):
        return None
    return session.scalar(select(Visit).where(Visit.patient_id == patient_id,
                                              Visit.id == visit_id))


# --- questionnaire responses and exercise logs -----------------------------------------------


def add_questionnaire_response(session: Session, patient_id: str, created_by: int,
                               instrument: str, answers_json: str,
                               score_json: str) -> QuestionnaireResponse:
    row = QuestionnaireResponse(id=new_id(), patient_id=patient_id, instrument=instrument,
                                answers_json=answers_json, score_json=score_json,
                                created_at=utcnow(), created_by=created_by)
    session.add(row)
    session.flush()
    return row


def list_questionnaire_responses(session: Session, patient_id: str, *, limit: int,
                                 offset: int) -> tuple[Sequence[QuestionnaireResponse], int]:
    where = QuestionnaireResponse.patient_id == patient_id
    total = session.scalar(select(func.count()).select_from(QuestionnaireResponse)
                           .where(where)) or 0
    rows = session.scalars(select(QuestionnaireResponse).where(where)
                           .order_by(QuestionnaireResponse.created_at, QuestionnaireResponse.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def add_exercise_log(session: Session, patient_id: str, created_by: int,
                     log_json: str) -> ExerciseLog:
    row = ExerciseLog(id=new_id(), patient_id=patient_id, log_json=log_json,
                      created_at=utcnow(), created_by=created_by)
    session.add(row)
    session.flush()
    return row


def list_exercise_logs(session: Session, patient_id: str, *, limit: int,
                       offset: int) -> tuple[Sequence[ExerciseLog], int]:
    where = ExerciseLog.patient_id == patient_id
    total = session.scalar(select(func.count()).select_from(ExerciseLog).where(where)) or 0
    rows = session.scalars(select(ExerciseLog).where(where)
                           .order_by(ExerciseLog.created_at, ExerciseLog.id)
                           .limit(limit).offset(offset)).all()
    return rows, total
