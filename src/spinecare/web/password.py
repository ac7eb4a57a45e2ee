"""The page of an admin's one-time password reset link: the token arrives in the link's
fragment (never sent to a server or its logs), the new password is typed twice."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import access
from spinecare.service.errors import Invalid, NotAuthenticated
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.pages import check_csrf, db_of, from_service, render, signed_in

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))

_TITLE = N_("Choose a new password")


@router.get("/reset-password")
async def reset_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "reset_password.html", title=gettext_of(request)(_TITLE))


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    token = str(form.get("token") or "").strip().lstrip("#")
    password, again = str(form.get("password") or ""), str(form.get("again") or "")
    if password != again:
        return render(request, "reset_password.html", status_code=422, title=_TITLE,
                      error="The two passwords are not the same.", token=token)
    try:
        await run_in_threadpool(access.finish_password_reset, db_of(request), token, password)
    except Invalid as exc:
        return render(request, "reset_password.html", status_code=422, title=_TITLE,
                      error="The new password " + "; ".join(p.message for p in exc.problems)
                      + ".", token=token)
    except NotAuthenticated:
        return render(request, "reset_password.html", status_code=401, title=_TITLE,
                      error="This link does not work. It may be used already or too old. "
                            "Please ask an administrator for a new one.")
    return render(request, "password_changed.html",
                  title=gettext_of(request)("Password changed"))
