"""Post/Redirect/Get with one-time form tokens, for every form that writes.

- A form page gets a token (:func:`issue`, or :func:`page` for a page that *is* its form,
  whose token then stands in the page's address as ``?form=``); the form sends it back in
  :data:`FIELD`, beside the CSRF token, which stays as it was.
- The POST route asks :func:`posted` for its :class:`Ticket` and hands ``ticket.claim`` to the
  use case, which spends the token in its own write transaction
  (:func:`spinecare.store.once.spend`). A successful POST answers 303 to a page.
- A second send of a spent token (a double click, a resent form, Back then send again) writes
  nothing and is redirected to where the first send's result is shown; so is a page whose
  ``?form=`` token was spent (Back to a form that was saved shows what it saved).
- A token that is unknown, expired, or missing gives ``None``: the route shows the form
  again, with what was entered and :data:`STALE`, under a new token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.store import once as store
from spinecare.store.once import Spent
from spinecare.store.stamps import utcnow
from spinecare.web.i18n import N_
from spinecare.web.pages import (
    PRE_COOKIE,
    WebRedirect,
    csrf_token,
    db_of,
    redirect,
    settings_of,
)

FIELD = "form_token"
QUERY = "form"

STALE = N_("This form was open for too long, or was sent from another window. Nothing was "
           "saved yet. Please check your answers and send the form again.")


def owner_of(request: Request) -> str:
    """Whom a token is bound to: the signed-in account, else this browser's pre-session
    cookie (hashed: the cookie itself is a secret)."""
    who = getattr(request.state, "web_principal", None)
    if who is not None:
        return f"user:{who.user_id}"
    csrf_token(request)  # gives a browser without one its pre-session cookie
    pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "new_pre_cookie", "")
    return "pre:" + hashlib.sha256(str(pre).encode()).hexdigest()


async def issue(request: Request, purpose: str) -> str:
    """A new token for a form of ``purpose`` on the page being built (signed, not stored:
    showing a form writes nothing)."""
    return store.issue(settings_of(request).secret_key, owner_of(request), purpose, utcnow())


def _look(request: Request, token: str, purpose: str) -> store.Found:
    owner, db, secret = owner_of(request), db_of(request), settings_of(request).secret_key
    with db.session(read_only=True) as session:
        return store.look(session, secret, token, owner, purpose, utcnow())


def _with_token(request: Request, token: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != QUERY]
    return request.url.path + "?" + urlencode([*params, (QUERY, token)])


async def page(request: Request, purpose: str, fallback: str = "/") -> str:
    """The token of a page that is one form: the one in its address while it is open; a page
    whose token was spent leads to the result (Back after saving); any other gets a new token
    in its address (a 303 to itself)."""
    given = request.query_params.get(QUERY)
    if given:
        found = await run_in_threadpool(_look, request, given, purpose)
        if found.state == "open":
            return given
        if found.state == "spent":
            raise WebRedirect(found.location or fallback)
    raise WebRedirect(_with_token(request, await issue(request, purpose)))


@dataclass(frozen=True)
class Ticket:
    """An open token sent with a form, ready to be spent by the write it asks for."""

    token: str
    owner: str
    purpose: str
    location: Callable[[str], str]
    secret: str = field(repr=False)

    def claim(self, session: Session, target: str) -> None:
        store.spend(session, self.secret, self.token, self.owner, self.purpose,
                    self.location(target), utcnow())



async def posted(request: Request, form: Any, purpose: str,
                 location: Callable[[str], str]) -> Ticket | None:
    """The sent form's ticket; ``None`` for a missing, unknown or expired token; a spent
    one redirects (303) to its result. ``location(target)`` says where the result of a
    write is shown, from the id of what it wrote."""
    given = form.get(FIELD)
    if not isinstance(given, str) or not given or len(given) > 100:
        return None
    found = await run_in_threadpool(_look, request, given, purpose)
    if found.state == "spent":
        raise WebRedirect(found.location or location(""))
    if found.state == "unknown":
        return None
    return Ticket(given, owner_of(request), purpose, location,
                  settings_of(request).secret_key)


async def replayed(_request: Request, exc: Exception) -> Response:
    """A form spent by another send between its check and its write (two sends at once):
    the loser's write was rolled back; it is led to the winner's result."""
    assert isinstance(exc, Spent)
    return redirect(exc.location or "/")
