"""The clinician's alerts: the inbox of open (and acknowledged) alerts on their care teams, one
alert with its e-mail state and the acknowledgement form, and where their alert e-mails go.
Authorisation and audit are the use cases' (:mod:`spinecare.service.alerts`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import alerts
from spinecare.service.alerts import AlertDetail, AlertRow
from spinecare.service.errors import Conflict, Invalid
from spinecare.store.accounts import Principal
from spinecare.web import once
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.pages import (
    check_csrf,
    clinician,
    db_of,
    from_service,
    redirect,
    render,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
Clinician = Annotated[Principal, Depends(clinician)]
PAGE = 50

SOURCE_TEXT = {"intake": N_("Reported by the patient in the intake"),
               "questionnaire": N_("Reported by the patient in a questionnaire"),
               "exercise_log": N_("Logged by the patient with the home exercises (stop symptom)"),
               "visit": N_("Visit assessment")}


def row_view(row: AlertRow) -> dict[str, Any]:
    a = row.alert
    return {"id": a.id, "patient": row.patient, "level": a.level,
            "source": SOURCE_TEXT.get(a.source, a.source), "created_at": a.created_at,
            "reports": a.reports, "last_reported_at": a.last_reported_at,
            "reasons": alerts.reasons_of(a), "acknowledged_at": a.acknowledged_at,
            "acknowledged_by": row.acknowledged_by, "note": a.acknowledgement}


def _mail_state(request: Request) -> dict[str, Any]:
    smtp = settings_of(request).smtp
    return {"mail_on": smtp is not None}


@router.get("/alerts")
async def inbox(request: Request, who: Clinician, status: str = "open",
                page: int = 1) -> Response:
    shown = status if status in ("open", "acknowledged") else "open"
    number = max(1, min(page, 10_000))
    db = db_of(request)

    def work() -> tuple[list[AlertRow], int, str | None]:
        rows, total = alerts.inbox(db, who, "open" if shown == "open" else "acknowledged",
                                   limit=PAGE, offset=(number - 1) * PAGE)
        return rows, total, alerts.my_address(db, who)

    rows, total, address = await run_in_threadpool(work)
    return render(request, "alerts.html", title=gettext_of(request)("Alerts"),
                  rows=[row_view(r) for r in rows],
                  total=total, status=shown, page=number, pages=max(1, -(-total // PAGE)),
                  address=address, errors={}, **_mail_state(request))


@router.post("/alerts/address")
async def set_address(request: Request, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    email = str(form.get("email") or "")
    try:
        await run_in_threadpool(alerts.set_my_address, db_of(request), who, email)
    except Invalid:
        rows, total = await run_in_threadpool(
            lambda: alerts.inbox(db_of(request), who, "open", limit=PAGE, offset=0))
        return render(request, "alerts.html", status_code=422,
                      title=gettext_of(request)("Alerts"),
                      rows=[row_view(r) for r in rows], total=total, status="open", page=1,
                      pages=max(1, -(-total // PAGE)), address=email,
                      errors={"email": "Give an e-mail address such as name@clinic.example, "
                                       "or leave it empty to get no e-mail."},
                      **_mail_state(request))
    return redirect("/alerts?saved=address")


def _detail_page(request: Request, found: AlertDetail, status_code: int = 200,
                 **extra: Any) -> Response:
    a = found.alert
    emails = [{"to": found.recipients.get(e.user_id, ""), "status": e.status,
               "attempts": e.attempts, "sent_at": e.sent_at, "next": e.next_attempt_at,
               "error": e.last_error} for e in found.emails]
    emailed = {e.user_id for e in found.emails}
    team = [{"name": name, "address": bool(address), "emailed": uid in emailed}
            for uid, name, address in found.team]
    view = row_view(AlertRow(a, found.patient, found.acknowledged_by))
    return render(request, "alert.html", status_code=status_code,
                  title=f"Alert: {found.patient.display_name}", alert=view,
                  flags=alerts.flags_of(a), emails=emails, team=team, queued=a.queued_at,
                  **_mail_state(request), **extra)


@router.get("/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: str, who: Clinician) -> Response:
    found = await run_in_threadpool(alerts.detail, db_of(request), who, alert_id)
    token = await once.issue(request, f"alert.acknowledge:{alert_id}")
    return _detail_page(request, found, note="", error=None, form_token=token)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, alert_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    note = str(form.get("note") or "")
    db = db_of(request)
    purpose = f"alert.acknowledge:{alert_id}"
    ticket = await once.posted(request, form, purpose,
                               lambda a: f"/alerts/{alert_id}?acknowledged=1")
    if ticket is None:
        found = await run_in_threadpool(alerts.detail, db, who, alert_id)
        return _detail_page(request, found, 409, note=note, error=None,
                            stale=gettext_of(request)(once.STALE),
                            form_token=await once.issue(request, purpose))
    try:
        await run_in_threadpool(lambda: alerts.acknowledge(db, who, alert_id, note,
                                                           claim=ticket.claim))
    except Invalid as exc:
        found = await run_in_threadpool(alerts.detail, db, who, alert_id)
        message = ("Say what was done (for example: \u201cphoned the patient, sent to the "
                   "emergency department\u201d).") if not note.strip() else \
            exc.problems[0].message.capitalize() + "."
        return _detail_page(request, found, 422, note=note, error=message,
                            form_token=ticket.token)
    except Conflict:
        # Someone else was quicker: their note stands, and the page shows it.
        return redirect(f"/alerts/{alert_id}?already=1")
    wake(request)
    return redirect(f"/alerts/{alert_id}?acknowledged=1")
