"""Signing in and out, and a patient's invitation link: the pages shown before a session."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import suppress

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.audit import client_address
from spinecare.http.deps import forget_token
from spinecare.http.devices import DEVICE_COOKIE, DEVICE_MAX_AGE, device_cookie, known_device
from spinecare.http.routing import translating_route
from spinecare.service import auth, invitations
from spinecare.service.auth import Token
from spinecare.service.errors import NotAuthenticated, Throttled, Unavailable
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.pages import (
    SESSION_COOKIE,
    check_csrf,
    db_of,
    from_service,
    redirect,
    render,
    set_cookie,
    set_session,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))


@router.get("/")
async def home(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return redirect("/login")
    return redirect("/my" if who.role == "patient" else "/patients")


@router.get("/login")
async def login_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "login.html", title=gettext_of(request)("Sign in"))


@router.post("/login")
async def login(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    db, settings = db_of(request), settings_of(request)
    _ = gettext_of(request)
    try:
        issued = await auth.login(db, username, password, settings.token_ttl,
                                  address=client_address(request),
                                  policy=settings.login_throttle,
                                  device=known_device(settings.secret_key,
                                                      request.cookies.get(DEVICE_COOKIE),
                                                      username))
    except NotAuthenticated:
        return render(request, "login.html", status_code=401, title=_("Sign in"),
                      error=_("The username or password is not right."), username=username)
    except (Throttled, Unavailable) as exc:
        wait = max(1, math.ceil(exc.retry_after))
        message = (_("Too many sign-in attempts. Please wait %(wait)s and try again.")
                   % {"wait": _wait_text(wait, _)}
                   if isinstance(exc, Throttled)
                   else _("Too many people are signing in right now. Please try again in a "
                          "moment."))
        refused = render(request, "login.html", title=_("Sign in"), username=username,
                         status_code=429 if isinstance(exc, Throttled) else 503,
                         error=message)
        refused.headers["Retry-After"] = str(wait)
        return refused
    response = redirect("/patients")
    set_session(response, request, issued.token, int(settings.token_ttl.total_seconds()))
    # From now on this browser is a known device of the account (a new device id each time).
    set_cookie(response, request, DEVICE_COOKIE, device_cookie(settings.secret_key, username),
               int(DEVICE_MAX_AGE.total_seconds()))
    return response


def _wait_text(seconds: int, _: Callable[[str], str]) -> str:
    if seconds < 90:
        return (_("%(count)s second") if seconds == 1 else _("%(count)s seconds")) % {
            "count": seconds}
    return _("%(count)s minutes") % {"count": math.ceil(seconds / 60)}


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    token = request.cookies.get(SESSION_COOKIE)
    if token and who is not None:
        token_hash = forget_token(request, token)
        await run_in_threadpool(auth.logout, db_of(request), who, token_hash)
    request.state.web_principal = None
    was_patient = who is not None and who.role == "patient"
    response = redirect("/signed-out?patient=1" if was_patient else "/signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/signed-out")
async def signed_out(request: Request, patient: str = "") -> Response:
    await signed_in(request)
    # A patient signs in again by e-mail link; anyone else with a password.
    return render(request, "signed_out.html", title=gettext_of(request)("Signed out"),
                  was_patient=patient == "1", patient_page=patient == "1")


@router.get("/invite")
async def invite_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "invite.html", title=gettext_of(request)("Welcome"),
                  patient_page=True)


@router.post("/invite")
async def redeem(request: Request) -> Response:
    return await open_link(
        request, invitations.redeem, "invite.html", N_("Welcome"),
        N_("This link does not work. It may be used already or too old. Please ask your "
           "clinic for a new one."))


async def open_link(request: Request, redeem_code: Callable[..., Token], template: str,
                    title: str, error: str) -> Response:
    """A patient's one-time link (an invitation, an e-mailed sign-in link) sent from its
    page: a session and the patient's home, or the page again with ``error`` (``title`` and
    ``error`` are msgids)."""
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    code = str(form.get("code") or "").strip().lstrip("#")
    db, settings = db_of(request), settings_of(request)
    issued: Token | None = None
    if code:
        with suppress(NotAuthenticated):
            issued = await run_in_threadpool(
                lambda: redeem_code(db, code, secret_key=settings.secret_key,
                                    ttl=settings.patient_token_ttl))
    if issued is None:
        _ = gettext_of(request)
        return render(request, template, status_code=401, title=_(title), patient_page=True,
                      error=_(error))
    response = redirect("/my")
    set_session(response, request, issued.token,
                int(settings.patient_token_ttl.total_seconds()))
    return response
