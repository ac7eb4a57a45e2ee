"""Lasting patient sign-in: asking for a one-time sign-in link by e-mail, opening it, and a
clinician sending one from the patient's page. The rules (no enumeration, throttling, single
use, newest only, audit) are the use cases' (:mod:`spinecare.service.signin`)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.audit import client_address
from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import passkeys as service_passkeys
from spinecare.service import signin
from spinecare.service.alerts import is_address
from spinecare.service.errors import Invalid, Throttled
from spinecare.service.passkeys import PasskeyRefused
from spinecare.store.accounts import Principal
from spinecare.web import once, passkeys
from spinecare.web.auth import open_link
from spinecare.web.forms import without_control
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.pages import (
    check_csrf,
    clinician,
    db_of,
    from_service,
    redirect,
    render,
    set_session,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
Clinician = Annotated[Principal, Depends(clinician)]

_TITLE = N_("Sign in to your pages")
_REQUEST = "signin.request"
MINUTES = int(signin.LINK_TTL.total_seconds() // 60)


async def _page(request: Request, token: str, status_code: int = 200, email: str = "",
                error: str | None = None, passkey_error: str | None = None) -> Response:
    _ = gettext_of(request)
    # Beside the e-mail link: a passkey, where the site is reached by a name browsers accept.
    options = await passkeys.signin_options(request)
    return render(request, "signin.html", status_code=status_code,
                  title=_(_TITLE), patient_page=True, form_token=token,
                  email=email, error=error, minutes=MINUTES, passkey_options=options,
                  passkey_error=passkey_error, messages=passkeys.browser_messages(_))


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    await signed_in(request)
    return await _page(request, await once.page(request, _REQUEST, "/signin/sent"))


@router.post("/signin/passkey")
async def passkey_signin(request: Request) -> Response:
    """Sign in with a passkey's answer: the same session, for the same time, as a link."""
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    credential = str(form.get("credential") or "")
    db, settings = db_of(request), settings_of(request)
    rp, owner = passkeys.relying_party(request), once.owner_of(request)
    _ = gettext_of(request)
    try:
        issued = await run_in_threadpool(lambda: service_passkeys.sign_in(
            db, rp, owner, credential, ttl=settings.patient_token_ttl,
            challenges=passkeys.challenges_of(request)))
    except PasskeyRefused as exc:
        return await _page(request, await once.issue(request, _REQUEST), 401,
                           passkey_error=passkeys.refusal_text(_, exc.why))
    response = redirect("/my")
    set_session(response, request, issued.token,
                int(settings.patient_token_ttl.total_seconds()))
    return response


@router.post("/signin")
async def ask_for_link(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    email = without_control(str(form.get("email") or "")).strip()[:320]
    _ = gettext_of(request)
    ticket = await once.posted(request, form, _REQUEST, lambda _: "/signin/sent")
    if ticket is None:
        return await _page(request, await once.issue(request, _REQUEST), 409, email, _(once.STALE))
    if not is_address(email):
        return await _page(request, ticket.token, 422, email,
                     _("Please write your e-mail address, for example name@example.com."))
    settings = settings_of(request)
    try:
        await run_in_threadpool(lambda: signin.request_link(
            db_of(request), email, address=client_address(request),
            policy=settings.login_throttle, email_on=settings.smtp is not None,
            claim=ticket.claim))
    except Throttled as exc:
        wait = max(1, math.ceil(exc.retry_after))
        minutes = max(1, math.ceil(wait / 60))
        refused = await _page(request, ticket.token, 429, email,
                        _("You asked for many links in a short time. Please wait %(count)s "
                          "minutes and try again, or call your clinic.") % {"count": minutes})
        refused.headers["Retry-After"] = str(wait)
        return refused
    wake(request)
    return redirect("/signin/sent")


@router.get("/signin/sent")
async def link_sent(request: Request) -> Response:
    await signed_in(request)
    return render(request, "signin_sent.html", title=gettext_of(request)("Check your e-mail"),
                  patient_page=True, minutes=MINUTES)


@router.get("/signin/link")
async def link_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "signin_link.html", title=gettext_of(request)(_TITLE),
                  patient_page=True)


@router.post("/signin/link")
async def open_signin_link(request: Request) -> Response:
    return await open_link(
        request, signin.redeem, "signin_link.html", _TITLE,
        N_("This link does not work. It may be used already, too old, or replaced by a newer "
           "one. You can ask for a new link."))


@router.post("/patients/{patient_id}/signin-link")
async def resend(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    after = f"/patients/{patient_id}?signin=%s#access"
    ticket = await once.posted(request, form, f"signin.resend:{patient_id}",
                               lambda _: after % "sent")
    if ticket is None:
        return redirect(after % "stale")
    settings = settings_of(request)
    try:
        await run_in_threadpool(lambda: signin.resend(
            db_of(request), who, patient_id, email_on=settings.smtp is not None,
            claim=ticket.claim))
    except Invalid as exc:
        missing = "no e-mail address" in exc.problems[0].message
        return redirect(after % ("noaddress" if missing else "nomail"))
    wake(request)
    return redirect(after % "sent")
