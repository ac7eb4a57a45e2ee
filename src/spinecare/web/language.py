"""The language switch's form: a signed-in account stores its choice (it then follows the
account to any browser); the cookie is set too, so the pages before the next sign-in match."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import preferences
from spinecare.service.errors import Invalid
from spinecare.vocabulary import LANGUAGES
from spinecare.web.i18n import N_
from spinecare.web.pages import (
    WebError,
    check_csrf,
    db_of,
    from_service,
    redirect,
    remember_language,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))


def _back_to(raw: object) -> str:
    """Where to go after saving: a path of this site only (never another host)."""
    path = raw if isinstance(raw, str) else ""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return "/"
    return path


@router.post("/language")
async def set_language(request: Request) -> Response:
    who = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    language = str(form.get("language") or "")
    if language not in LANGUAGES:
        raise WebError(422, N_("Please check your answers"),
                       N_("Please choose one of the languages in the list."))
    if who is not None:
        try:
            await run_in_threadpool(preferences.set_language, db_of(request), who, language)
        except Invalid as exc:  # pragma: no cover - the check above refuses first
            raise from_service(exc) from exc
    response = redirect(_back_to(form.get("next")))
    remember_language(response, request, language)
    return response
