"""The administrator's pages: every account, and taking access away (disable, enable, sign
out everywhere, a one-time password reset link).

As on the care team pages, a button opens a page saying what will happen and only its form
(POST, with the session's CSRF token) does it, through :mod:`spinecare.service.access`, which
checks the admin role and audits. Accounts have no e-mail address, so a reset link is shown
once to the admin to pass on (as the API and the command line give it), never stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import access
from spinecare.service.errors import Conflict
from spinecare.store.accounts import Principal
from spinecare.store.models import User
from spinecare.web.forms import ascii_int
from spinecare.web.pages import (
    WebError,
    WebRedirect,
    check_csrf,
    db_of,
    from_service,
    redirect,
    render,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))

PER_PAGE = 50
# As the API's reset link: a day, then the admin makes a new one.
PASSWORD_RESET_TTL = timedelta(hours=24)

DONE = {
    "disabled": "The account was disabled: it is signed out everywhere and cannot sign in.",
    "enabled": "The account was enabled: it can sign in again (its old sessions stay ended).",
    "revoked": "The account was signed out everywhere. It can sign in again.",
}


async def administrator(request: Request) -> Principal:
    who = await signed_in(request)
    if who is None:
        raise WebRedirect("/login")
    if who.role == "patient":
        raise WebRedirect("/my")
    if who.role != "admin":
        raise WebError(403, "Administrators only", "These pages are for administrators.")
    return who


Admin = Annotated[Principal, Depends(administrator)]


def _name(user: User) -> str:
    return user.username or "patient account"


def _users_page(request: Request, who: Principal, page: int, *, done: str = "",
                error: str = "", status_code: int = 200) -> Response:
    number = max(1, min(page, 100_000))
    rows, total = access.list_users(db_of(request), who, limit=PER_PAGE,
                                    offset=(number - 1) * PER_PAGE)
    return render(request, "users.html", status_code=status_code, title="Accounts",
                  users=rows, total=total, page=number, pages=max(1, -(-total // PER_PAGE)),
                  done=DONE.get(done, ""), error=error, me=who.user_id)


@router.get("/admin/users")
async def users(request: Request, who: Admin, page: str = "1", done: str = "") -> Response:
    """Every account, oldest first, with what an admin can do to each."""
    number = ascii_int(page) or 1
    return await run_in_threadpool(lambda: _users_page(request, who, number, done=done))


# action in the address -> (question, what it does, button)
ACTIONS = {
    "disable": ("Disable {name}?",
                "{name} will be signed out everywhere at once and cannot sign in until the "
                "account is enabled again. Nothing they recorded is removed.",
                "Yes, disable {name}"),
    "enable": ("Enable {name}?",
               "{name} will be able to sign in again. Sessions ended before stay ended.",
               "Yes, enable {name}"),
    "revoke-tokens": ("Sign {name} out everywhere?",
                      "Every session of {name} ends at once, in every browser and program. "
                      "They can sign in again with their password.",
                      "Yes, sign {name} out everywhere"),
    "password-reset": ("Make a password reset link for {name}?",
                       "You will see a one-time link to give to {name}, working for 24 "
                       "hours. Any earlier reset link of the account stops working. Their "
                       "password stays as it is until they use the link.",
                       "Yes, make a reset link"),
}


def _target(user_id: str, action: str) -> tuple[int, tuple[str, str, str]]:
    """The account's id and the action's texts; an address naming neither is not found."""
    number, found = ascii_int(user_id), ACTIONS.get(action)
    # Beyond the id column's range PostgreSQL would fail the query rather than find nothing.
    if number is None or not 1 <= number < 2**31 or found is None:
        raise WebError(404, "Page not found", "There is no such page.")
    return number, found


@router.get("/admin/users/{user_id}/{action}")
async def confirm(request: Request, user_id: str, action: str, who: Admin) -> Response:
    number, (question, explain, button) = _target(user_id, action)
    user = await run_in_threadpool(access.account, db_of(request), who, number)
    name = _name(user)
    return render(request, "confirm.html", title=question.format(name=name),
                  heading=question.format(name=name), explain=explain.format(name=name),
                  action=f"/admin/users/{number}/{action}",
                  button=button.format(name=name), hidden={}, back="/admin/users",
                  back_text="No, back to the accounts")


@router.post("/admin/users/{user_id}/{action}")
async def act(request: Request, user_id: str, action: str, who: Admin) -> Response:
    number, _ = _target(user_id, action)
    form = await request.form()
    check_csrf(request, form)
    db = db_of(request)
    if action == "password-reset":
        reset = await run_in_threadpool(access.start_password_reset, db, who, number,
                                        PASSWORD_RESET_TTL)
        # The token travels in the fragment, which browsers never send to a server or its logs.
        return render(request, "reset_link.html", title="Password reset link",
                      account=_name(reset.user), expires_at=reset.expires_at,
                      link=f"{settings_of(request).public_url}/reset-password#{reset.token}")
    try:
        if action == "disable":
            await run_in_threadpool(access.disable, db, who, number)
        elif action == "enable":
            await run_in_threadpool(access.enable, db, who, number)
        else:
            await run_in_threadpool(access.revoke_tokens, db, who, number)
    except Conflict:
        return await run_in_threadpool(lambda: _users_page(
            request, who, 1, status_code=409,
            error="You cannot disable your own account: ask another administrator."))
    done = {"disable": "disabled", "enable": "enabled"}.get(action, "revoked")
    return redirect(f"/admin/users?done={done}#user-{number}")
