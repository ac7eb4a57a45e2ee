"""The routes of CONTRACT.md section 4 (and a few more: patient list, care team, invitations,
questionnaire responses, exercise logs, the audit trail, token revocation).

Each route authenticates, authorises against the patient (404 for a patient the caller may not
see, never 403), calls the store or a service, and writes the audit event in the same
transaction as the read or write it records. Clinical documents are returned as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from spinecare.api.deps import (
    DB,
    PATIENT_NOT_FOUND,
    AppSettings,
    Caller,
    unauthorized,
)
from spinecare.api.errors import ApiError, Invalid, JSONBytes
from spinecare.api.openapi import CASE_BODY, json_responses
from spinecare.api.schemas import (
    AuditEventOut,
    AuditList,
    CareTeamIn,
    ExerciseLogList,
    ExerciseLogOut,
    InvitationOut,
    InvitationRedeemIn,
    OutcomesOut,
    PatientIn,
    PatientList,
    PatientOut,
    QuestionnaireIn,
    QuestionnaireList,
    QuestionnaireOut,
    TokenOut,
    UserIn,
    UserOut,
    VisitList,
    VisitOut,
)
from spinecare.errors import CaseError, Problem, SpinecareError
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import ExerciseLog, Patient, QuestionnaireResponse, Visit

router = APIRouter(prefix="/api/v1")

Limit = Annotated[int, Query(ge=1, le=500, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="skip this many items")]
PatientId = Annotated[str, "the patient's id"]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat() + "Z"


def _not_found(detail: str = PATIENT_NOT_FOUND) -> ApiError:
    return ApiError(404, detail)


def _forbidden(detail: str) -> ApiError:
    return ApiError(403, detail)


def _visible(session: Session, who: Principal, patient_id: str, action: str) -> Patient:
    """The patient, or a 404 whose refusal is audited (the session still commits)."""
    patient = records.visible_patient(session, who, patient_id)
    if patient is None:
        records.audit(session, who, action, patient_id=patient_id, outcome="denied")
        raise _not_found()
    return patient


def _no_patient_writes(session: Session, who: Principal, patient_id: str, action: str,
                       what: str) -> None:
    if who.role == "patient":
        records.audit(session, who, action, patient_id=patient_id, outcome="denied")
        raise _forbidden(f"Patients cannot {what}")


# --- authentication ---------------------------------------------------------------------------


@router.post("/auth/token", response_model=TokenOut, tags=["auth"],
             responses=json_responses(401, 422))
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DB,
          settings: AppSettings) -> TokenOut:
    """OAuth2 password flow for clinicians and admins."""
    with db.session() as session:
        user = accounts.authenticate(session, form.username, form.password)
        if user is None:
            records.audit(session, None, "auth.login", outcome="denied")
        else:
            token, expires = accounts.issue_token(session, user.id, settings.token_ttl)
            records.audit(session, accounts.principal_of(user), "auth.login")
    if user is None:
        raise unauthorized("Incorrect username or password")
    return TokenOut(access_token=token, expires_at=_aware(expires))


@router.post("/auth/invitation", response_model=TokenOut, tags=["auth"],
             responses=json_responses(401, 422))
def redeem_invitation(body: InvitationRedeemIn, db: DB, settings: AppSettings) -> TokenOut:
    """Exchange a patient's one-time invitation for a patient token."""
    with db.session() as session:
        user = accounts.redeem_invitation(session, settings.secret_key, body.token)
        if user is None:
            records.audit(session, None, "auth.invitation", outcome="denied")
        else:
            token, expires = accounts.issue_token(session, user.id, settings.patient_token_ttl)
            records.audit(session, accounts.principal_of(user), "auth.invitation",
                          patient_id=user.patient_id)
    if user is None:
        raise unauthorized("Invalid, expired or already used invitation")
    return TokenOut(access_token=token, expires_at=_aware(expires))


@router.post("/auth/revoke", status_code=204, tags=["auth"], responses=json_responses(401))
async def revoke(request: Request, who: Caller) -> Response:
    """Revoke the token this request carries (log out)."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    token_hash = accounts.hash_token(token)
    request.app.state.token_cache.drop(token_hash)
    db: Database = request.app.state.db

    def work() -> None:
        with db.session() as session:
            accounts.revoke_token(session, token_hash)
            records.audit(session, who, "auth.revoke")

    await run_in_threadpool(work)
    return Response(status_code=204)


# --- assessment without storage ---------------------------------------------------------------


@router.post("/assess", tags=["assess"], openapi_extra=CASE_BODY,
             responses=json_responses(401, 422, ok=(200, "the assessment "
                                                         "(spinecare.assessment/1)")))
async def assess(request: Request, who: Caller) -> Response:
    """A case in, its assessment out. Stores nothing and reads no patient data."""
    from spinecare.case import parse_case
    from spinecare.reasoning.engine import default_engine

    body = await request.body()
    try:
        case = parse_case(body)
    except CaseError as exc:
        raise Invalid("Invalid case", exc.problems) from None
    return JSONBytes(orjson.dumps(default_engine().assess(case)))


# --- patients ---------------------------------------------------------------------------------


def _patient_out(session: Session, patient: Patient) -> PatientOut:
    return PatientOut(id=patient.id, display_name=patient.display_name,
                      birth_year=patient.birth_year, created_at=_aware(patient.created_at),
                      care_team=records.care_team(session, patient.id))


@router.post("/patients", status_code=201, response_model=PatientOut, tags=["patients"],
             responses=json_responses(401, 403, 422))
def create_patient(body: PatientIn, who: Caller, db: DB) -> PatientOut:
    """Register a patient; the caller becomes its clinician."""
    if who.role != "clinician":
        raise _forbidden("Only clinicians can register patients")
    with db.session() as session:
        patient = records.create_patient(session, who.user_id, body.display_name,
                                         body.birth_year)
        records.audit(session, who, "patient.create", patient_id=patient.id)
        return _patient_out(session, patient)


@router.get("/patients", response_model=PatientList, tags=["patients"],
            responses=json_responses(401, 422))
def list_patients(who: Caller, db: DB, limit: Limit = 50, offset: Offset = 0) -> PatientList:
    """The patients the caller may see (a patient sees only themself)."""
    with db.session() as session:
        rows, total = records.list_patients(session, who, limit=limit, offset=offset)
        for patient in rows:
            records.audit(session, who, "patient.list", patient_id=patient.id)
        return PatientList(items=[_patient_out(session, p) for p in rows], total=total)


@router.get("/patients/{patient_id}", response_model=PatientOut, tags=["patients"],
            responses=json_responses(401, 404))
def get_patient(patient_id: PatientId, who: Caller, db: DB) -> PatientOut:
    with db.session() as session:
        patient = _visible(session, who, patient_id, "patient.read")
        records.audit(session, who, "patient.read", patient_id=patient_id)
        return _patient_out(session, patient)


@router.post("/patients/{patient_id}/care-team", response_model=PatientOut, tags=["patients"],
             responses=json_responses(401, 403, 404, 422))
def add_clinician(patient_id: PatientId, body: CareTeamIn, who: Caller, db: DB) -> PatientOut:
    """Add another clinician to the patient's care team."""
    with db.session() as session:
        patient = _visible(session, who, patient_id, "care_team.add")
        _no_patient_writes(session, who, patient_id, "care_team.add", "change their care team")
        if not records.add_to_care_team(session, patient_id, body.username):
            raise Invalid("Invalid request", [Problem("username", "is not an active clinician")])
        records.audit(session, who, "care_team.add", patient_id=patient_id)
        return _patient_out(session, patient)


@router.post("/patients/{patient_id}/invitations", status_code=201, tags=["patients"],
             response_model=InvitationOut, responses=json_responses(401, 403, 404))
def invite_patient(patient_id: PatientId, who: Caller, db: DB,
                   settings: AppSettings) -> InvitationOut:
    """A signed one-time link for the patient to sign in (valid for a week)."""
    with db.session() as session:
        _visible(session, who, patient_id, "invitation.create")
        _no_patient_writes(session, who, patient_id, "invitation.create", "invite")
        token, invitation = accounts.create_invitation(
            session, settings.secret_key, patient_id, who.user_id, settings.invitation_ttl)
        records.audit(session, who, "invitation.create", patient_id=patient_id,
                      target_id=invitation.id)
    # The token travels in the fragment, which browsers never send to a server or its logs.
    return InvitationOut(token=token, link=f"{settings.public_url}/invite#{token}",
                         expires_at=_aware(invitation.expires_at))


# --- visits -----------------------------------------------------------------------------------


def visit_json(visit: Visit) -> bytes:
    """The visit as JSON, its documents spliced in exactly as stored."""
    head = orjson.dumps({"id": visit.id, "patient_id": visit.patient_id,
                         "created_at": _iso(visit.created_at),
                         "versions": {"engine": visit.engine_version,
                                      "knowledge": visit.knowledge_version}})
    return b"".join((head[:-1], b',"case":', visit.case_json.encode(), b',"assessment":',
                     visit.assessment_json.encode(), b',"plan":', visit.plan_json.encode(),
                     b"}"))


def _page(items: Sequence[bytes], total: int) -> bytes:
    return b'{"items":[' + b",".join(items) + b'],"total":' + str(total).encode() + b"}"


@router.post("/patients/{patient_id}/visits", tags=["visits"], status_code=201,
             openapi_extra=CASE_BODY,
             responses={**json_responses(401, 403, 404, 409, 422),
                        200: {"model": VisitOut,
                              "description": "a repeated Idempotency-Key: the first visit"},
                        201: {"model": VisitOut, "description": "the stored visit"}})
async def create_visit(request: Request, patient_id: PatientId, who: Caller,
                       idempotency_key: Annotated[str | None, Header(
                           alias="Idempotency-Key", min_length=1, max_length=255,
                           pattern=r"^[\x21-\x7e]+$")] = None) -> Response:
    """Assess a case, plan care, and store both as a visit. A repeated ``Idempotency-Key``
    (per patient) returns the first visit with 200 instead of storing another."""
    body = await request.body()
    db: Database = request.app.state.db
    return await run_in_threadpool(create_visit_impl, db, who, patient_id, body,
                                   idempotency_key)


def create_visit_impl(db: Database, who: Principal, patient_id: str, body: bytes,
                      idempotency_key: str | None) -> Response:
    from spinecare.service.clinical import prepare_visit

    with db.session(read_only=True) as session:
        visible = records.visible_patient(session, who, patient_id) is not None
    if not visible or who.role == "patient":
        with db.session() as session:
            _visible(session, who, patient_id, "visit.create")
            _no_patient_writes(session, who, patient_id, "visit.create", "add visits")
    try:
        new = prepare_visit(body)
    except CaseError as exc:
        with db.session() as session:
            records.audit(session, who, "visit.create", patient_id=patient_id,
                          outcome="invalid")
        raise Invalid("Invalid case", exc.problems) from None
    try:
        with db.session() as session:
            visit, created = records.add_visit(session, patient_id, who.user_id, new,
                                               idempotency_key=idempotency_key)
            records.audit(session, who, "visit.create" if created else "visit.replay",
                          patient_id=patient_id, target_id=visit.id)
    except records.IdempotencyConflict:
        raise ApiError(409, "Idempotency-Key was already used for a different case") from None
    headers = {"Location": f"/api/v1/patients/{patient_id}/visits/{visit.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONBytes(visit_json(visit), status_code=201 if created else 200, headers=headers)


@router.get("/patients/{patient_id}/visits", tags=["visits"],
            responses={**json_responses(401, 404, 422),
                       200: {"model": VisitList, "description": "the visits, oldest first"}})
def list_visits(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                offset: Offset = 0) -> Response:
    with db.session() as session:
        _visible(session, who, patient_id, "visit.list")
        rows, total = records.list_visits(session, patient_id, limit=limit, offset=offset)
        records.audit(session, who, "visit.list", patient_id=patient_id)
    return JSONBytes(_page([visit_json(v) for v in rows], total))


@router.get("/patients/{patient_id}/visits/{visit_id}", tags=["visits"],
            responses={**json_responses(401, 404),
                       200: {"model": VisitOut, "description": "the visit as stored"}})
def get_visit(patient_id: PatientId, visit_id: str, who: Caller, db: DB) -> Response:
    with db.session() as session:
        _visible(session, who, patient_id, "visit.read")
        visit = records.get_visit(session, patient_id, visit_id)
        records.audit(session, who, "visit.read", patient_id=patient_id, target_id=visit_id[:64],
                      outcome="ok" if visit else "not_found")
    if visit is None:
        raise _not_found("Visit not found")
    return JSONBytes(visit_json(visit))


@router.get("/patients/{patient_id}/outcomes", response_model=OutcomesOut, tags=["visits"],
            responses=json_responses(401, 404))
def outcomes(patient_id: PatientId, who: Caller, db: DB) -> Response:
    """Per measure: the series of scores over the visits, the change from baseline, and
    whether each change passes its minimal clinically important difference."""
    from spinecare.service.clinical import outcomes as compute

    with db.session() as session:
        _visible(session, who, patient_id, "outcomes.read")
        rows, _ = records.list_visits(session, patient_id)
        records.audit(session, who, "outcomes.read", patient_id=patient_id)
    return JSONBytes(orjson.dumps({"patient_id": patient_id, **compute(rows)}))


# --- questionnaire responses and exercise logs ------------------------------------------------


def _questionnaire_out(row: QuestionnaireResponse) -> QuestionnaireOut:
    return QuestionnaireOut(id=row.id, patient_id=row.patient_id, instrument=row.instrument,
                            created_at=_aware(row.created_at),
                            answers=orjson.loads(row.answers_json),
                            score=orjson.loads(row.score_json))


@router.post("/patients/{patient_id}/questionnaires", status_code=201, tags=["records"],
             response_model=QuestionnaireOut, responses=json_responses(401, 404, 422))
def add_questionnaire(patient_id: PatientId, body: QuestionnaireIn, who: Caller,
                      db: DB) -> QuestionnaireOut:
    """A questionnaire response (answers by linkId), scored and stored. Patients may add
    their own."""
    from spinecare.instruments.errors import AnswerError
    from spinecare.instruments.registry import instruments
    from spinecare.instruments.scoring import score_answers

    with db.session() as session:
        _visible(session, who, patient_id, "questionnaire.create")
    if body.instrument not in instruments():
        raise Invalid("Invalid request", [Problem(
            "instrument", f"must be one of {', '.join(sorted(instruments()))}")])
    try:
        score = score_answers(body.instrument, body.answers)
    except AnswerError as exc:
        raise Invalid("Invalid request", [Problem(f"answers.{p.path}", p.message)
                                          for p in exc.problems]) from None
    with db.session() as session:
        row = records.add_questionnaire_response(
            session, patient_id, who.user_id, body.instrument,
            orjson.dumps(body.answers).decode(), orjson.dumps(score).decode())
        records.audit(session, who, "questionnaire.create", patient_id=patient_id,
                      target_id=row.id)
        return _questionnaire_out(row)


@router.get("/patients/{patient_id}/questionnaires", response_model=QuestionnaireList,
            tags=["records"], responses=json_responses(401, 404, 422))
def list_questionnaires(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                        offset: Offset = 0) -> QuestionnaireList:
    with db.session() as session:
        _visible(session, who, patient_id, "questionnaire.list")
        rows, total = records.list_questionnaire_responses(session, patient_id, limit=limit,
                                                           offset=offset)
        records.audit(session, who, "questionnaire.list", patient_id=patient_id)
        return QuestionnaireList(items=[_questionnaire_out(r) for r in rows], total=total)


def _log_out(row: ExerciseLog) -> ExerciseLogOut:
    return ExerciseLogOut(id=row.id, patient_id=row.patient_id,
                          created_at=_aware(row.created_at), log=orjson.loads(row.log_json))


@router.post("/patients/{patient_id}/exercise-logs", status_code=201, tags=["records"],
             response_model=ExerciseLogOut, responses=json_responses(401, 404, 422))
def add_exercise_log(patient_id: PatientId, body: dict[str, Any], who: Caller,
                     db: DB) -> ExerciseLogOut:
    """One home-exercise session as logged (``spinecare.plan`` ProgrammeLog). Patients may add
    their own."""
    from spinecare.plan.programme import LogError, parse_logs

    with db.session() as session:
        _visible(session, who, patient_id, "exercise_log.create")
    try:
        (log,) = parse_logs([body])
    except LogError as exc:
        raise Invalid("Invalid request", [Problem(p.path.removeprefix("logs[0]").lstrip(".")
                                                  or "(document)", p.message)
                                          for p in exc.problems]) from None
    with db.session() as session:
        row = records.add_exercise_log(session, patient_id, who.user_id,
                                       orjson.dumps(log.model_dump(mode="json")).decode())
        records.audit(session, who, "exercise_log.create", patient_id=patient_id,
                      target_id=row.id)
        return _log_out(row)


@router.get("/patients/{patient_id}/exercise-logs", response_model=ExerciseLogList,
            tags=["records"], responses=json_responses(401, 404, 422))
def list_exercise_logs(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                       offset: Offset = 0) -> ExerciseLogList:
    with db.session() as session:
        _visible(session, who, patient_id, "exercise_log.list")
        rows, total = records.list_exercise_logs(session, patient_id, limit=limit,
                                                 offset=offset)
        records.audit(session, who, "exercise_log.list", patient_id=patient_id)
        return ExerciseLogList(items=[_log_out(r) for r in rows], total=total)


# --- administration ---------------------------------------------------------------------------


def _admin_only(who: Principal) -> None:
    if who.role != "admin":
        raise _forbidden("Only admins can do this")


@router.get("/audit", response_model=AuditList, tags=["admin"],
            responses=json_responses(401, 403, 422))
def list_audit(who: Caller, db: DB, limit: Limit = 50, offset: Offset = 0,
               patient_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
               ) -> AuditList:
    """The audit trail, oldest first (admins only)."""
    _admin_only(who)
    with db.session() as session:
        rows, total = records.list_audit(session, patient_id=patient_id, limit=limit,
                                         offset=offset)
        records.audit(session, who, "audit.list", patient_id=patient_id)
        return AuditList(items=[AuditEventOut(
            id=r.id, at=_aware(r.at), actor_id=r.actor_id, actor_role=r.actor_role,
            action=r.action, patient_id=r.patient_id, target_id=r.target_id,
            outcome=r.outcome) for r in rows], total=total)


@router.post("/admin/users", status_code=201, response_model=UserOut, tags=["admin"],
             responses=json_responses(401, 403, 422))
def create_user(body: UserIn, who: Caller, db: DB) -> UserOut:
    """Create a clinician or admin account (admins only)."""
    _admin_only(who)
    try:
        with db.session() as session:
            user = accounts.create_user(session, body.username, body.role, body.password)
            records.audit(session, who, "user.create", target_id=str(user.id))
            return UserOut(id=user.id, username=body.username, role=body.role)
    except SpinecareError as exc:
        raise Invalid("Invalid request", [Problem("username", str(exc))]) from None

