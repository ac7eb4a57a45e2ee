"""The alert routes: the caller's alerts, one patient's alerts, acknowledging one. Clinicians
only; a patient or alert outside the caller's care teams is 404, as everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from spinecare.api.deps import DB, Caller
from spinecare.api.errors import from_service
from spinecare.api.openapi import json_responses
from spinecare.api.schemas import AcknowledgeIn, AlertList, AlertOut
from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import alerts
from spinecare.service.alerts import AlertRow

router = APIRouter(prefix="/api/v1", route_class=translating_route(from_service),
                   tags=["alerts"])

Limit = Annotated[int, Query(ge=1, le=500, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="skip this many items")]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def alert_out(row: AlertRow) -> AlertOut:
    a = row.alert
    return AlertOut.model_validate({
        "id": a.id, "patient_id": a.patient_id, "source": a.source, "source_id": a.source_id,
        "level": a.level, "flags": alerts.flags_of(a), "reasons": alerts.reasons_of(a),
        "created_at": _aware(a.created_at), "reports": a.reports,
        "last_reported_at": _aware(a.last_reported_at),
        "status": "open" if a.acknowledged_at is None else "acknowledged",
        "acknowledged_at": _aware(a.acknowledged_at), "acknowledged_by": row.acknowledged_by,
        "acknowledgement": a.acknowledgement})


@router.get("/alerts", response_model=AlertList, responses=json_responses(401, 403, 422))
def list_alerts(who: Caller, db: DB, status: Literal["open", "acknowledged", "all"] = "open",
                limit: Limit = 50, offset: Offset = 0) -> AlertList:
    """Alerts on the caller's care teams: open ones most severe and oldest first, the others
    newest first."""
    rows, total = alerts.inbox(db, who, status, limit=limit, offset=offset)
    return AlertList(items=[alert_out(r) for r in rows], total=total)


@router.get("/patients/{patient_id}/alerts", response_model=AlertList,
            responses=json_responses(401, 403, 404))
def patient_alerts(patient_id: str, who: Caller, db: DB) -> AlertList:
    """Every alert of the patient, newest first."""
    rows = alerts.of_patient(db, who, patient_id)
    return AlertList(items=[alert_out(r) for r in rows], total=len(rows))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut,
             responses=json_responses(401, 404, 409, 422))
def acknowledge(request: Request, alert_id: str, body: AcknowledgeIn, who: Caller,
                db: DB) -> AlertOut:
    """Acknowledge an open alert with what was done; 409 when it was already acknowledged
    (the first note stands)."""
    found = alerts.acknowledge(db, who, alert_id, body.note)
    wake(request)
    return alert_out(AlertRow(found.alert, found.patient, found.acknowledged_by))
