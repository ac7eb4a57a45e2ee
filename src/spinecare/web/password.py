"""The page of an admin's one-time password reset link: the token arrives in the link's
fragment (never sent to a server or its logs), the new password is typed twice."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import access
from spinecare.service.errors import Invalid, NotAuthenticated
from spinecare.web import once
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.pages import check_csrf, db_of, from_service, redirect, render, signed_in

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))

_TITLE = N_("Choose a new password")
_PURPOSE = "password.reset"


@router.get("/reset-password")
async def reset_page(request: Request) -> Response:
    await signed_in(request)
    # Not in the address: the reset code is in its fragment, which a redirect could lose.
    return render(request, "reset_password.html", title=gettext_of(request)(_TITLE),
                  form_token=await once.issue(request, _PURPOSE))


@router.get("/reset-password/done")
async def reset_done(request: Request) -> Response:
    await signed_in(request)
    return render(request, "password_changed.html",
                  title=gettext_of(request)("Password changed"))


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    token = str(form.get("token") or "").strip().lstrip("#")
    password, again = str(form.get("password") or ""), str(form.get("again") or "")
    ticket = await once.posted(request, form, _PURPOSE, lambda _: "/reset-password/done")
    if ticket is None:
        return render(request, "reset_password.html", status_code=409, title=_TITLE,
                      error=gettext_of(request)(once.STALE), token=token,
                      form_token=await once.issue(request, _PURPOSE))
    if password != again:
        return render(request, "reset_password.html", status_code=422, title=_TITLE,
                      error="The two passwords are not the same.", token=token,
                      form_token=ticket.token)
    try:
        await run_in_threadpool(lambda: access.finish_password_reset(
            db_of(request), token, password, claim=ticket.claim))
    except Invalid as exc:
        return render(request, "reset_password.html", status_code=422, title=_TITLE,
                      error="The new password " + "; ".join(p.message for p in exc.problems)
                      + ".", token=token, form_token=ticket.token)
    except NotAuthenticated:
        return render(request, "reset_password.html", status_code=401, title=_TITLE,
                      error="This link does not work. It may be used already or too old. "
                            "Please ask an administrator for a new one.",
                      form_token=ticket.token)
    return redirect("/reset-password/done")
