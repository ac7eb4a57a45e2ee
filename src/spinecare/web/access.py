"""A patient's care team and access, from the clinician's pages: add a clinician to the team,
take one off, cancel an open invitation link, end the patient's own access.

Each change is two steps: a button opens a page saying what will happen (a GET, which changes
nothing), and only that page's form (POST, with the session's CSRF token) does it, through the
same use cases as the API (:mod:`spinecare.service.access`), which authorise and audit. The
answer is then a redirect to the care team page with a plain message, so reloading it repeats
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import access, care_team, passkeys, patients
from spinecare.service.errors import Conflict, Invalid, NotFound
from spinecare.service.patients import PatientWithTeam
from spinecare.store.accounts import Principal
from spinecare.store.models import Invitation
from spinecare.web.forms import without_control
from spinecare.web.pages import (
    WebError,
    check_csrf,
    clinician,
    db_of,
    from_service,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
Clinician = Annotated[Principal, Depends(clinician)]

# What was done, as the care team page says it after the redirect (a closed list: the text
# never comes from the address, which anyone could write).
DONE = {
    "added": "The clinician was added to the care team. They see this patient from now on.",
    "removed": "The clinician was taken off the care team. They no longer see this patient.",
    "cancelled": "The invitation link was cancelled. It no longer works.",
    "ended": "The patient's access has ended: they are signed out everywhere, their passkeys "
             "are removed and their open invitation links no longer work. A new invitation "
             "link gives access back.",
}


def _field(form: Any, name: str, limit: int = 200) -> str:
    return without_control(str(form.get(name) or "")).strip()[:limit]


def _team_page(request: Request, found: PatientWithTeam, invitations: Sequence[Invitation],
               *, done: str = "", error: str = "", status_code: int = 200,
               username: str = "") -> Response:
    return render(request, "care_team.html", status_code=status_code,
                  title=f"Care team and access: {found.patient.display_name}",
                  patient=found.patient, team=found.care_team, invitations=invitations,
                  done=DONE.get(done, ""), error=error, username=username,
                  passkeys=getattr(request.state, "passkey_count", None))


async def _current(request: Request, who: Principal,
                   patient_id: str) -> tuple[PatientWithTeam, Sequence[Invitation]]:
    db = db_of(request)

    def work() -> tuple[PatientWithTeam, Sequence[Invitation]]:
        found = patients.get(db, who, patient_id)
        # Kept beside the request rather than returned, so every page built from this
        # lookup can show it without each caller passing it on.
        request.state.passkey_count = passkeys.count_of_patient(db, who, patient_id)
        return found, access.open_invitations(db, who, patient_id)

    return await run_in_threadpool(work)


@router.get("/patients/{patient_id}/care-team")
async def team_page(request: Request, patient_id: str, who: Clinician,
                    done: str = "") -> Response:
    """Who is on the patient's care team, the open invitation links, and the buttons."""
    found, invitations = await _current(request, who, patient_id)
    return _team_page(request, found, invitations, done=done)


@router.post("/patients/{patient_id}/care-team")
async def add_clinician(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    username = _field(form, "username", 150)
    try:
        await run_in_threadpool(care_team.add, db_of(request), who, patient_id, username)
    except Invalid:
        found, invitations = await _current(request, who, patient_id)
        message = ("Give the username of the clinician to add." if not username else
                   f"There is no active clinician with the username \"{username}\".")
        return _team_page(request, found, invitations, error=message, status_code=422,
                          username=username)
    return redirect(f"/patients/{patient_id}/care-team?done=added")


def _confirm(request: Request, found: PatientWithTeam, *, heading: str, explain: str,
             action: str, button: str, hidden: dict[str, str] | None = None) -> Response:
    return render(request, "confirm.html", title=heading, heading=heading, explain=explain,
                  action=action, button=button, hidden=hidden or {},
                  back=f"/patients/{found.patient.id}/care-team",
                  back_text=f"No, back to the care team of {found.patient.display_name}")


@router.get("/patients/{patient_id}/care-team/remove")
async def confirm_remove(request: Request, patient_id: str, who: Clinician,
                         username: str = "") -> Response:
    found, _ = await _current(request, who, patient_id)
    if username not in found.care_team:
        raise WebError(404, "Not on the care team",
                       "This clinician is not on the patient's care team.")
    name = found.patient.display_name
    return _confirm(
        request, found, heading=f"Take {username} off the care team of {name}?",
        explain=f"{username} will no longer see {name}'s record, alerts or visits, from "
                "their next page. Their earlier work stays in the record. You can add them "
                "back later.",
        action=f"/patients/{patient_id}/care-team/remove",
        button=f"Yes, take {username} off the care team", hidden={"username": username})


@router.post("/patients/{patient_id}/care-team/remove")
async def remove(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    username = _field(form, "username", 150)
    try:
        await run_in_threadpool(access.remove_from_care_team, db_of(request), who,
                                patient_id, username)
    except Conflict:
        found, invitations = await _current(request, who, patient_id)
        return _team_page(request, found, invitations, status_code=409,
                          error="A patient's care team keeps at least one clinician. Add "
                                "another clinician first, then take this one off.")
    except Invalid:
        found, invitations = await _current(request, who, patient_id)
        return _team_page(request, found, invitations, status_code=422,
                          error=f"\"{username}\" is not on this patient's care team (someone "
                                "may have taken them off already).")
    try:
        await run_in_threadpool(patients.find, db_of(request), who, patient_id)
    except NotFound:
        # They took themself off: the patient is no longer theirs to see.
        return redirect("/patients")
    return redirect(f"/patients/{patient_id}/care-team?done=removed")


@router.get("/patients/{patient_id}/invitations/cancel")
async def confirm_cancel(request: Request, patient_id: str, who: Clinician,
                         id: str = "") -> Response:
    found, invitations = await _current(request, who, patient_id)
    if not any(i.id == id for i in invitations):
        raise WebError(404, "Invitation not found",
                       "There is no open invitation with this link.")
    name = found.patient.display_name
    return _confirm(
        request, found, heading=f"Cancel this invitation link for {name}?",
        explain="The link will stop working at once. If the patient has already used it, "
                "they stay signed in: to sign them out, end the patient's access instead.",
        action=f"/patients/{patient_id}/invitations/cancel",
        button="Yes, cancel the invitation link", hidden={"id": id})


@router.post("/patients/{patient_id}/invitations/cancel")
async def cancel(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    invitation_id = _field(form, "id", 64)
    # An invitation already used, expired or cancelled is the use case's NotFound: its page.
    await run_in_threadpool(access.cancel_invitations, db_of(request), who, patient_id,
                            invitation_id or "-")
    return redirect(f"/patients/{patient_id}/care-team?done=cancelled")


@router.get("/patients/{patient_id}/end-access")
async def confirm_end(request: Request, patient_id: str, who: Clinician) -> Response:
    found, _ = await _current(request, who, patient_id)
    name = found.patient.display_name
    return _confirm(
        request, found, heading=f"End {name}'s own access?",
        explain=f"{name} will be signed out everywhere at once, their passkeys will be "
                "removed and their open invitation links will stop working. Their record "
                "stays, and the care team still sees it. A new invitation link gives them "
                "access again.",
        action=f"/patients/{patient_id}/end-access", button="Yes, end the patient's access")


@router.post("/patients/{patient_id}/end-access")
async def end(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    await run_in_threadpool(access.end_patient_access, db_of(request), who, patient_id)
    return redirect(f"/patients/{patient_id}/care-team?done=ended")
