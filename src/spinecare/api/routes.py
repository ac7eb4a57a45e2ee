"""The routes of CONTRACT.md section 4 (and a few more: patient list, care team, invitations,
questionnaire responses, exercise logs, the audit trail, token revocation).

Each route parses its input, calls one use case of :mod:`spinecare.service` (which authorises
against the patient, 404 for a patient the caller may not see, never 403, and writes the audit
event) and renders the answer. A use case's refusal becomes its JSON error through the routes'
class (:func:`spinecare.api.errors.from_service`). Clinical documents are returned as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from spinecare.api.deps import DB, AppSettings, Caller
from spinecare.api.errors import JSONBytes, from_service
from spinecare.api.openapi import CASE_BODY, FHIR_BODY, json_responses
from spinecare.api.schemas import (
    AccessEndedOut,
    AccountChangeOut,
    AccountList,
    AccountOut,
    AuditEventOut,
    AuditList,
    CancelledOut,
    CareTeamIn,
    ExerciseLogList,
    ExerciseLogOut,
    InvitationOut,
    InvitationRedeemIn,
    OpenInvitationList,
    OpenInvitationOut,
    OutcomesOut,
    PasswordResetIn,
    PasswordResetOut,
    PatientIn,
    PatientList,
    PatientOut,
    QuestionnaireIn,
    QuestionnaireList,
    QuestionnaireOut,
    RevokedOut,
    TokenOut,
    UserIn,
    UserOut,
    VisitList,
    VisitOut,
)
from spinecare.http.audit import client_address
from spinecare.http.deps import forget_token, get_db
from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import (
    access,
    admin,
    auth,
    care_team,
    exercise_logs,
    interop,
    invitations,
    patients,
    questionnaires,
    visits,
)
from spinecare.service.patients import PatientWithTeam
from spinecare.store.models import ExerciseLog, QuestionnaireResponse, User, Visit

router = APIRouter(prefix="/api/v1", route_class=translating_route(from_service))

Limit = Annotated[int, Query(ge=1, le=500, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="skip this many items")]
PatientId = Annotated[str, "the patient's id"]
FHIR_JSON = "application/fhir+json"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat() + "Z"


# --- authentication ---------------------------------------------------------------------------


@router.post("/auth/token", response_model=TokenOut, tags=["auth"],
             responses=json_responses(401, 422, 429, 503))
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
                db: DB, settings: AppSettings) -> TokenOut:
    """OAuth2 password flow for clinicians and admins. Repeated failures for one account or
    from one address are refused for a while with 429 and ``Retry-After``."""
    issued = await auth.login(db, form.username, form.password, settings.token_ttl,
                              address=client_address(request),
                              policy=settings.login_throttle)
    return TokenOut(access_token=issued.token, expires_at=_aware(issued.expires_at))


@router.post("/auth/invitation", response_model=TokenOut, tags=["auth"],
             responses=json_responses(401, 422))
def redeem_invitation(body: InvitationRedeemIn, db: DB, settings: AppSettings) -> TokenOut:
    """Exchange a patient's one-time invitation for a patient token."""
    issued = invitations.redeem(db, body.token, secret_key=settings.secret_key,
                                ttl=settings.patient_token_ttl)
    return TokenOut(access_token=issued.token, expires_at=_aware(issued.expires_at))


@router.post("/auth/revoke", status_code=204, tags=["auth"], responses=json_responses(401))
async def revoke(request: Request, who: Caller) -> Response:
    """Revoke the token this request carries (log out)."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    token_hash = forget_token(request, token)
    await run_in_threadpool(auth.logout, get_db(request), who, token_hash)
    return Response(status_code=204)


# --- assessment without storage ---------------------------------------------------------------


@router.post("/assess", tags=["assess"], openapi_extra=CASE_BODY,
             responses=json_responses(401, 422, ok=(200, "the assessment "
                                                         "(spinecare.assessment/1)")))
async def assess(request: Request, who: Caller,
                 format: Annotated[Literal["json", "fhir"] | None, Query(
                     description="fhir: the assessment and plan as a FHIR R4 Bundle (as does "
                     "Accept: application/fhir+json); the body may then also be a FHIR "
                     "Bundle of the record")] = None) -> Response:
    """A case in, its assessment out. Stores nothing and reads no patient data."""
    if format == "fhir" or (format is None and FHIR_JSON in request.headers.get("accept", "")):
        bundle = await run_in_threadpool(interop.assess_fhir, await request.body())
        return Response(orjson.dumps(bundle), media_type=FHIR_JSON)
    return JSONBytes(orjson.dumps(visits.assess(await request.body())))


@router.post("/fhir/to-case", tags=["assess"], openapi_extra=FHIR_BODY,
             responses=json_responses(401, 422, ok=(200, "{case, sources, problems, "
                                                         "unverified}")))
async def fhir_to_case(request: Request, who: Caller,
                       patient: Annotated[str | None, Query(
                           max_length=64, pattern=r"^[A-Za-z0-9\-.]{1,64}$",
                           description="whose case, when the Bundle holds several patients")]
                       = None) -> Response:
    """A FHIR R4 Bundle (or a JSON array of resources) in, the case it holds out, with the
    resources each field came from and what was not used. Stores nothing."""
    result = await run_in_threadpool(interop.fhir_to_case, await request.body(),
                                     patient_id=patient)
    return JSONBytes(orjson.dumps(result))


# --- patients ---------------------------------------------------------------------------------


def _patient_out(found: PatientWithTeam) -> PatientOut:
    patient = found.patient
    return PatientOut(id=patient.id, display_name=patient.display_name,
                      birth_year=patient.birth_year, created_at=_aware(patient.created_at),
                      care_team=found.care_team)


@router.post("/patients", status_code=201, response_model=PatientOut, tags=["patients"],
             responses=json_responses(401, 403, 422))
def create_patient(body: PatientIn, who: Caller, db: DB) -> PatientOut:
    """Register a patient; the caller becomes its clinician."""
    return _patient_out(patients.create(db, who, body.display_name, body.birth_year))


@router.get("/patients", response_model=PatientList, tags=["patients"],
            responses=json_responses(401, 422))
def list_patients(who: Caller, db: DB, limit: Limit = 50, offset: Offset = 0) -> PatientList:
    """The patients the caller may see (a patient sees only themself)."""
    rows, total = patients.page(db, who, limit=limit, offset=offset)
    return PatientList(items=[_patient_out(p) for p in rows], total=total)


@router.get("/patients/{patient_id}", response_model=PatientOut, tags=["patients"],
            responses=json_responses(401, 404))
def get_patient(patient_id: PatientId, who: Caller, db: DB) -> PatientOut:
    return _patient_out(patients.get(db, who, patient_id))


@router.post("/patients/{patient_id}/care-team", response_model=PatientOut, tags=["patients"],
             responses=json_responses(401, 403, 404, 422))
def add_clinician(patient_id: PatientId, body: CareTeamIn, who: Caller, db: DB) -> PatientOut:
    """Add another clinician to the patient's care team."""
    return _patient_out(care_team.add(db, who, patient_id, body.username))


@router.post("/patients/{patient_id}/invitations", status_code=201, tags=["patients"],
             response_model=InvitationOut, responses=json_responses(401, 403, 404))
def invite_patient(patient_id: PatientId, who: Caller, db: DB,
                   settings: AppSettings) -> InvitationOut:
    """A signed one-time link for the patient to sign in (valid for a week). The patient's
    earlier open invitations stop working."""
    invitation = invitations.create(db, who, patient_id, secret_key=settings.secret_key,
                                    ttl=settings.invitation_ttl)
    token = invitation.token
    # The token travels in the fragment, which browsers never send to a server or its logs.
    return InvitationOut(token=token, link=f"{settings.public_url}/invite#{token}",
                         expires_at=_aware(invitation.expires_at), id=invitation.id)


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
    visit, created = await run_in_threadpool(visits.create, get_db(request), who, patient_id,
                                             body, idempotency_key)
    wake(request)
    headers = {"Location": f"/api/v1/patients/{patient_id}/visits/{visit.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONBytes(visit_json(visit), status_code=201 if created else 200, headers=headers)


@router.get("/patients/{patient_id}/visits", tags=["visits"],
            responses={**json_responses(401, 404, 422),
                       200: {"model": VisitList, "description": "the visits, oldest first"}})
def list_visits(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                offset: Offset = 0) -> Response:
    rows, total = visits.page(db, who, patient_id, limit=limit, offset=offset)
    return JSONBytes(_page([visit_json(v) for v in rows], total))


@router.get("/patients/{patient_id}/visits/{visit_id}", tags=["visits"],
            responses={**json_responses(401, 404),
                       200: {"model": VisitOut, "description": "the visit as stored"}})
def get_visit(patient_id: PatientId, visit_id: str, who: Caller, db: DB) -> Response:
    _, visit = visits.get(db, who, patient_id, visit_id)
    return JSONBytes(visit_json(visit))


@router.get("/patients/{patient_id}/outcomes", response_model=OutcomesOut, tags=["visits"],
            responses=json_responses(401, 404))
def outcomes(patient_id: PatientId, who: Caller, db: DB) -> Response:
    """Per measure: the series of scores over the visits, the change from baseline, and
    whether each change passes its minimal clinically important difference."""
    return JSONBytes(orjson.dumps(visits.outcomes(db, who, patient_id)))


# --- questionnaire responses and exercise logs ------------------------------------------------


def _questionnaire_out(row: QuestionnaireResponse) -> QuestionnaireOut:
    return QuestionnaireOut(id=row.id, patient_id=row.patient_id, instrument=row.instrument,
                            created_at=_aware(row.created_at),
                            answers=orjson.loads(row.answers_json),
                            score=orjson.loads(row.score_json))


@router.post("/patients/{patient_id}/questionnaires", status_code=201, tags=["records"],
             response_model=QuestionnaireOut, responses=json_responses(401, 404, 422))
def add_questionnaire(request: Request, patient_id: PatientId, body: QuestionnaireIn,
                      who: Caller, db: DB) -> QuestionnaireOut:
    """A questionnaire response (answers by linkId), scored and stored. Patients may add
    their own. A red flag or an urgent or emergency triage in it alerts the care team."""
    row = questionnaires.submit(db, who, patient_id, body.instrument, body.answers)
    wake(request)
    return _questionnaire_out(row)


@router.get("/patients/{patient_id}/questionnaires", response_model=QuestionnaireList,
            tags=["records"], responses=json_responses(401, 404, 422))
def list_questionnaires(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                        offset: Offset = 0) -> QuestionnaireList:
    rows, total = questionnaires.page(db, who, patient_id, limit=limit, offset=offset)
    return QuestionnaireList(items=[_questionnaire_out(r) for r in rows], total=total)


def _log_out(row: ExerciseLog) -> ExerciseLogOut:
    return ExerciseLogOut(id=row.id, patient_id=row.patient_id,
                          created_at=_aware(row.created_at), log=orjson.loads(row.log_json))


@router.post("/patients/{patient_id}/exercise-logs", status_code=201, tags=["records"],
             response_model=ExerciseLogOut, responses=json_responses(401, 404, 422))
def add_exercise_log(request: Request, patient_id: PatientId, body: dict[str, Any],
                     who: Caller, db: DB) -> ExerciseLogOut:
    """One home-exercise session as logged (``spinecare.plan`` ProgrammeLog). Patients may add
    their own. A stop symptom in it alerts the care team."""
    row = exercise_logs.add(db, who, patient_id, body)
    wake(request)
    return _log_out(row)


@router.get("/patients/{patient_id}/exercise-logs", response_model=ExerciseLogList,
            tags=["records"], responses=json_responses(401, 404, 422))
def list_exercise_logs(patient_id: PatientId, who: Caller, db: DB, limit: Limit = 50,
                       offset: Offset = 0) -> ExerciseLogList:
    rows, total = exercise_logs.page(db, who, patient_id, limit=limit, offset=offset)
    return ExerciseLogList(items=[_log_out(r) for r in rows], total=total)


# --- administration ---------------------------------------------------------------------------


@router.get("/audit", response_model=AuditList, tags=["admin"],
            responses=json_responses(401, 403, 422))
def list_audit(who: Caller, db: DB, limit: Limit = 50, offset: Offset = 0,
               patient_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
               ) -> AuditList:
    """The audit trail, oldest first (admins only)."""
    rows, total = admin.audit_trail(db, who, patient_id=patient_id, limit=limit,
                                    offset=offset)
    return AuditList(items=[AuditEventOut(
        id=r.id, at=_aware(r.at), actor_id=r.actor_id, actor_role=r.actor_role,
        action=r.action, patient_id=r.patient_id, target_id=r.target_id,
        outcome=r.outcome, address=r.address, reason=r.reason, username=r.username,
        hash=r.hash) for r in rows], total=total)


@router.post("/admin/users", status_code=201, response_model=UserOut, tags=["admin"],
             responses=json_responses(401, 403, 422))
def create_user(body: UserIn, who: Caller, db: DB) -> UserOut:
    """Create a clinician or admin account (admins only)."""
    user = admin.create_user(db, who, body.username, body.role, body.password)
    return UserOut(id=user.id, username=body.username, role=body.role)



# --- taking access away -----------------------------------------------------------------------

UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the account's id")]
# How long an admin's password reset link works.
PASSWORD_RESET_TTL = timedelta(hours=24)


def _account_out(user: User) -> AccountOut:
    return AccountOut(id=user.id, username=user.username, role=user.role,
                      disabled=user.disabled, patient_id=user.patient_id,
                      created_at=_aware(user.created_at))


@router.delete("/patients/{patient_id}/care-team/{username}", response_model=PatientOut,
               tags=["patients"], responses=json_responses(401, 403, 404, 409, 422))
def remove_clinician(patient_id: PatientId, username: str, who: Caller, db: DB) -> PatientOut:
    """Take a clinician off the patient's care team (the patient's clinicians and admins);
    the last clinician of a team stays (409)."""
    return _patient_out(access.remove_from_care_team(db, who, patient_id, username))


@router.get("/patients/{patient_id}/invitations", response_model=OpenInvitationList,
            tags=["patients"], responses=json_responses(401, 403, 404))
def list_invitations(patient_id: PatientId, who: Caller, db: DB) -> OpenInvitationList:
    """The patient's invitations that could still be redeemed (the links themselves are not
    stored, so they cannot be shown again)."""
    rows = access.open_invitations(db, who, patient_id)
    return OpenInvitationList(items=[OpenInvitationOut(
        id=r.id, created_at=_aware(r.created_at), expires_at=_aware(r.expires_at))
        for r in rows], total=len(rows))


@router.delete("/patients/{patient_id}/invitations", response_model=CancelledOut,
               tags=["patients"], responses=json_responses(401, 403, 404))
def cancel_invitations(patient_id: PatientId, who: Caller, db: DB) -> CancelledOut:
    """Cancel every open invitation of the patient."""
    return CancelledOut(cancelled=access.cancel_invitations(db, who, patient_id))


@router.delete("/patients/{patient_id}/invitations/{invitation_id}",
               response_model=CancelledOut, tags=["patients"],
               responses=json_responses(401, 403, 404))
def cancel_invitation(patient_id: PatientId, invitation_id: str, who: Caller,
                      db: DB) -> CancelledOut:
    """Cancel one open invitation (404 when it is used, expired, cancelled or unknown)."""
    return CancelledOut(cancelled=access.cancel_invitations(db, who, patient_id,
                                                            invitation_id))


@router.post("/patients/{patient_id}/end-access", response_model=AccessEndedOut,
             tags=["patients"], responses=json_responses(401, 403, 404))
def end_patient_access(patient_id: PatientId, who: Caller, db: DB) -> AccessEndedOut:
    """End the patient's own access at once: every token of their account is revoked and
    their open invitations cancelled. A new invitation gives access back."""
    ended = access.end_patient_access(db, who, patient_id)
    return AccessEndedOut(patient_id=ended.patient_id, revoked_tokens=ended.revoked_tokens,
                          cancelled_invitations=ended.cancelled_invitations)


@router.get("/admin/users", response_model=AccountList, tags=["admin"],
            responses=json_responses(401, 403, 422))
def list_users(who: Caller, db: DB, limit: Limit = 50, offset: Offset = 0) -> AccountList:
    """Every account, oldest first (admins only)."""
    rows, total = access.list_users(db, who, limit=limit, offset=offset)
    return AccountList(items=[_account_out(u) for u in rows], total=total)


@router.post("/admin/users/{user_id}/disable", response_model=AccountChangeOut,
             tags=["admin"], responses=json_responses(401, 403, 404, 409, 422))
def disable_user(user_id: UserId, who: Caller, db: DB) -> AccountChangeOut:
    """Disable an account (admins only): it cannot sign in, and its tokens are revoked, on
    every worker from the next request."""
    user, revoked = access.disable(db, who, user_id)
    return AccountChangeOut(account=_account_out(user), revoked_tokens=revoked)


@router.post("/admin/users/{user_id}/enable", response_model=AccountChangeOut,
             tags=["admin"], responses=json_responses(401, 403, 404, 422))
def enable_user(user_id: UserId, who: Caller, db: DB) -> AccountChangeOut:
    """Enable an account again (admins only); its old tokens stay revoked."""
    return AccountChangeOut(account=_account_out(access.enable(db, who, user_id)),
                            revoked_tokens=0)


@router.post("/admin/users/{user_id}/revoke-tokens", response_model=RevokedOut,
             tags=["admin"], responses=json_responses(401, 403, 404, 422))
def revoke_user_tokens(user_id: UserId, who: Caller, db: DB) -> RevokedOut:
    """Revoke every token of an account (admins only): all its sessions end."""
    return RevokedOut(revoked_tokens=access.revoke_tokens(db, who, user_id))


@router.post("/admin/users/{user_id}/password-reset", status_code=201,
             response_model=PasswordResetOut, tags=["admin"],
             responses=json_responses(401, 403, 404, 422))
def start_password_reset(user_id: UserId, who: Caller, db: DB,
                         settings: AppSettings) -> PasswordResetOut:
    """A one-time password reset link for a clinician or admin (admins only), valid for
    24 hours; only the newest link of an account works."""
    reset = access.start_password_reset(db, who, user_id, PASSWORD_RESET_TTL)
    return PasswordResetOut(token=reset.token,
                            link=f"{settings.public_url}/reset-password#{reset.token}",
                            expires_at=_aware(reset.expires_at))


@router.post("/auth/password-reset", status_code=204, tags=["auth"],
             responses=json_responses(401, 422))
def finish_password_reset(body: PasswordResetIn, db: DB) -> Response:
    """Set a new password with a one-time reset token; every session of the account ends."""
    access.finish_password_reset(db, body.token, body.password)
    return Response(status_code=204)
