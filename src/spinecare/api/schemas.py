"""Request and response bodies: separate input and output models per resource.

Clinical documents (cases, assessments, plans) are not re-modelled here: a case is validated by
:func:`spinecare.case.parse_case` (so errors name the same JSON paths as the command line) and
stored documents are returned as they were stored. Their OpenAPI schemas come from
``spinecare/schemas/*.schema.json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from spinecare.case import PRINTABLE_PATTERN


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    pass


class ErrorOut(_Out):
    detail: str


class ProblemOut(_Out):
    path: str
    message: str


class ValidationErrorOut(_Out):
    detail: str
    problems: list[ProblemOut]


class TokenOut(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class InvitationRedeemIn(_In):
    token: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


# Printable text only: no control characters (PostgreSQL refuses NUL in text).
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=200, pattern=PRINTABLE_PATTERN)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=150, pattern=PRINTABLE_PATTERN)]


class PatientIn(_In):
    display_name: DisplayName
    birth_year: Annotated[int, Field(ge=1880, le=2200)]


class PatientOut(_Out):
    id: str
    display_name: str
    birth_year: int
    created_at: datetime
    care_team: list[str]


class PatientList(_Out):
    items: list[PatientOut]
    total: int


class CareTeamIn(_In):
    username: Username


class Versions(_Out):
    engine: str
    knowledge: str


class VisitOut(_Out):
    """A stored visit. ``case``, ``assessment`` and ``plan`` are the documents as stored."""

    id: str
    patient_id: str
    created_at: datetime
    versions: Versions
    case: dict[str, Any]
    assessment: dict[str, Any]
    plan: dict[str, Any]


class VisitList(_Out):
    items: list[VisitOut]
    total: int


class OutcomesOut(_Out):
    patient_id: str
    visits: int
    measures: dict[str, Any]


class InvitationOut(_Out):
    token: str
    link: str
    expires_at: datetime
    # The id to cancel it by (DELETE .../invitations/{id}); the token itself is never stored.
    id: str | None = None


class OpenInvitationOut(_Out):
    id: str
    created_at: datetime
    expires_at: datetime


class OpenInvitationList(_Out):
    items: list[OpenInvitationOut]
    total: int


class CancelledOut(_Out):
    cancelled: int


class AccessEndedOut(_Out):
    patient_id: str
    revoked_tokens: int
    cancelled_invitations: int


class QuestionnaireIn(_In):
    instrument: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    answers: dict[str, Any]


class QuestionnaireOut(_Out):
    id: str
    patient_id: str
    instrument: str
    created_at: datetime
    answers: dict[str, Any]
    score: dict[str, Any]


class QuestionnaireList(_Out):
    items: list[QuestionnaireOut]
    total: int


class ExerciseLogOut(_Out):
    id: str
    patient_id: str
    created_at: datetime
    log: dict[str, Any]


class ExerciseLogList(_Out):
    items: list[ExerciseLogOut]
    total: int


class AuditEventOut(_Out):
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str | None
    action: str
    patient_id: str | None
    target_id: str | None
    outcome: str
    address: str | None = Field(None, description="the request's source address")
    reason: str | None = Field(None, description="why a refusal was refused")
    username: str | None = Field(None, description="a failed sign-in's attempted username, "
                                                   "normalised")
    hash: str | None = Field(None, description="this event's link in the hash chain")


class AuditList(_Out):
    items: list[AuditEventOut]
    total: int


class UserIn(_In):
    username: Username
    role: Literal["clinician", "admin"]
    password: Annotated[str, StringConstraints(min_length=12, max_length=1000)]


class UserOut(_Out):
    id: int
    username: str
    role: str


class AccountOut(_Out):
    """An account as admins see it (a patient account has no username)."""

    id: int
    username: str | None
    role: str
    disabled: bool
    patient_id: str | None
    created_at: datetime


class AccountList(_Out):
    items: list[AccountOut]
    total: int


class AccountChangeOut(_Out):
    account: AccountOut
    revoked_tokens: int


class RevokedOut(_Out):
    revoked_tokens: int


class PasswordResetOut(_Out):
    """A one-time password reset: give the link (or the token) to the account's owner."""

    token: str
    link: str
    expires_at: datetime


class PasswordResetIn(_In):
    token: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
class AlertOut(_Out):
    id: str
    patient_id: str
    source: Literal["intake", "questionnaire", "exercise_log", "visit"]
    source_id: str | None
    level: Literal["emergency", "urgent", "routine", "self_care"]
    flags: list[str]
    reasons: list[str]
    created_at: datetime
    reports: int
    last_reported_at: datetime
    status: Literal["open", "acknowledged"]
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement: str | None


class AlertList(_Out):
    items: list[AlertOut]
    total: int


class AcknowledgeIn(_In):
    note: Annotated[str, Field(min_length=1, max_length=2000,
                               description="what was done (required)")]
