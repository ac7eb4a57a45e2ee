"""What every page needs: the templates, the browser session, CSRF tokens, and error pages.

The browser session is the API's own opaque bearer token, kept in an HttpOnly, SameSite=Strict
cookie, so a page and an API call are authorised by the same rows. A form's CSRF token is an HMAC
of that token under the service's secret: it is per session, needs no storage, and a page of one
session cannot post for another. Forms shown before signing in (sign-in, invitations) use a
random pre-session cookie in its place.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from functools import cache
from typing import Any

from babel.numbers import format_decimal
from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from spinecare.http.deps import get_db, get_settings, principal_of_token
from spinecare.instruments.registry import instruments
from spinecare.report import NOTHING_LIKELY
from spinecare.service import errors as service
from spinecare.store.accounts import Principal
from spinecare.store.db import KeepChanges
from spinecare.web.i18n import (
    LANG_COOKIE,
    LANGUAGE_NAMES,
    N_,
    asked_language,
    date_text,
    datetime_text,
    knowledge_lang,
    knowledge_text,
    language_of,
    number_text,
    percent_text,
    translations,
)

SESSION_COOKIE = "spinecare_session"
PRE_COOKIE = "spinecare_pre"
CSRF_FIELD = "csrf_token"

# Every page: nothing from elsewhere, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

# msgids: the templates show them through ``_()``.
LEVEL_TEXT = {
    "emergency": N_("Emergency: same-day emergency department"),
    "urgent": N_("Urgent: specialist assessment within about two weeks"),
    "routine": N_("Routine: primary care, physiotherapy or routine referral"),
    "self_care": N_("Self-care: advice and self-management, review if not better"),
}

# A triage level's name alone (the worklist's filters and badges).
LEVEL_NAME = {"emergency": N_("Emergency"), "urgent": N_("Urgent"), "routine": N_("Routine"),
              "self_care": N_("Self care")}


# A red flag's name (the codes are the contract's closed list, ``vocabulary.RedFlagCode``).
RED_FLAG_NAME = {
    "cauda_equina_syndrome": N_("Possible cauda equina syndrome"),
    "spinal_infection": N_("Possible spinal infection"),
    "malignancy": N_("Possible cancer in the spine"),
    "fracture": N_("Possible vertebral fracture"),
    "progressive_neurological_deficit": N_("Worsening nerve weakness or loss"),
    "myelopathy": N_("Possible spinal cord compression (myelopathy)"),
}


def score_name(key: str | None) -> str:
    """A score's name from the instrument registry (its report name or short name), so a
    reader sees "mJOA", not "mjoa"; a key no instrument has keeps its words."""
    if key is None:
        return ""
    inst = instruments().get(key)
    if inst is None:
        return key.replace("_", " ")
    return inst.report_name or inst.short_name


def amount_text(value: Any, language: str) -> str:
    """A score or measure as people read it: at most one decimal ("34.8", not "34.7857")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return format_decimal(round(value, 1), format="#,##0.#", locale=language)


class WebError(KeepChanges):
    """An error page. Raised inside a database session, the session still commits, so the
    audit event of a refusal is kept."""

    def __init__(self, status_code: int, title: str, message: str = ""):
        super().__init__(title)
        self.status_code = status_code
        self.title = title
        self.message = message


# A refused use case's page, by what was refused.
# (The titles and messages of error pages are msgids, translated when the page is shown.)
NOT_FOUND = {
    "patient": (N_("Patient not found"), N_("There is no patient with this link in your care.")),
    "visit": (N_("Visit not found"), N_("There is no such visit for this patient.")),
    "invitation": (N_("Invitation not found"), N_("There is no open invitation with this link.")),
    "user": (N_("Account not found"), N_("There is no such account.")),
    "alert": (N_("Alert not found"),
              N_("There is no such alert for the patients in your care.")),
    "article": (N_("Article not found"), N_("There is no such article in the library.")),
}


def from_service(exc: service.ServiceError) -> Exception:
    """The error page for a use case's refusal the route did not answer itself."""
    if isinstance(exc, service.NotFound):
        return WebError(404, *NOT_FOUND[exc.what])
    if isinstance(exc, service.Forbidden):
        return WebError(403, N_("Not allowed"), str(exc) + ".")
    if isinstance(exc, service.NotAuthenticated):
        return WebError(401, N_("Please sign in again"), str(exc) + ".")
    if isinstance(exc, service.Conflict):
        return WebError(409, N_("Already saved"), str(exc) + ".")
    if isinstance(exc, service.Throttled):
        return WebError(429, N_("Please wait"), str(exc) + ".")
    if isinstance(exc, service.Unavailable):
        return WebError(503, N_("Please try again"), str(exc) + ".")
    return WebError(422, N_("Please check your answers"), str(exc) + ".")


class WebRedirect(Exception):  # control flow, not an error
    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


# The states of an education e-mail (``store.education``), as the clinician reads them.
EMAIL_STATUS = {"pending": N_("waiting to be sent"), "sent": N_("sent"),
                "failed": N_("could not be sent")}


def _lang_attribute(page: str, text: str) -> Markup:
    return Markup(f' lang="{text}"') if text != page else Markup("")


@cache
def environment(language: str = "en") -> Environment:
    """The templates in one language: its catalogue behind ``{% trans %}`` and ``_()``
    (new-style gettext: placeholders are named and autoescaped), its dates and numbers."""
    env = Environment(loader=PackageLoader("spinecare.web", "templates"),
                      autoescape=select_autoescape(["html", "svg"]), trim_blocks=True,
                      lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(language),  # type: ignore[attr-defined]
                                     newstyle=True)
    env.filters["date"] = lambda value: date_text(value, language)
    env.filters["number"] = lambda value: number_text(value, language)
    env.filters["datetime"] = lambda value: datetime_text(value, language)
    # as the text report says it: a model's estimate is never shown as certain
    env.filters["percent"] = lambda p: percent_text(p, language)
    # A probability floor raised by a red flag alone has no findings to name (the engine's
    # label then starts with ": "); show its probability without the empty list.
    env.filters["evidence"] = lambda label: str(label).removeprefix(": ")
    env.filters["words"] = lambda v: str(v).replace("_", " ")
    env.globals["LEVEL_TEXT"] = LEVEL_TEXT
    env.globals["LEVEL_NAME"] = LEVEL_NAME
    env.globals["RED_FLAG_NAME"] = RED_FLAG_NAME
    env.globals["score_name"] = score_name
    env.filters["amount"] = lambda value: amount_text(value, language)
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    env.globals["NOTHING_LIKELY"] = NOTHING_LIKELY
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    env.globals["EMAIL_STATUS"] = EMAIL_STATUS
    # ``lang`` on a text in another language than the page's (an article not yet translated).
    env.filters["lang_attr"] = lambda text_language: _lang_attribute(language,
                                                                     str(text_language))
    # An exercise of a stored plan in this language, by the exercise's id, and a ``lang``
    # attribute for a text still in English (a screen reader then reads it as English).
    env.globals["exercise_text"] = lambda e, field: knowledge_text(
        language, "exercise", str(e.get("exercise")), field, e.get(field))
    env.globals["exercise_lang"] = lambda e, field: _lang_attribute(
        language, knowledge_lang(language, "exercise", str(e.get("exercise")), field))
    env.globals["language"] = language
    return env


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    context.setdefault("csrf", csrf_token(request))
    context.setdefault("who", getattr(request.state, "web_principal", None))
    # The clinic's emergency number, for the urgent-care advice every patient page carries.
    context.setdefault("clinic", settings_of(request).clinic)
    language = language_of(request)
    html = environment(language).get_template(template).render(request=request, **context)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    asked = asked_language(request)
    if asked is not None and request.cookies.get(LANG_COOKIE) != asked:
        # ``?lang=`` is a choice to keep: the following pages (and forms) stay in it.
        remember_language(response, request, asked)
    _keep_pre_cookie(response, request)
    return response


def _keep_pre_cookie(response: Response, request: Request) -> None:
    """Send the pre-session cookie a form of this response was bound to."""
    pre = getattr(request.state, "new_pre_cookie", None)
    if pre:
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict",
                            secure=_secure(request), path="/")


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


async def web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    _ = translations(language_of(request)).gettext
    return render(request, "error.html", status_code=exc.status_code, title=_(exc.title),
                  message=_(exc.message) if exc.message else "")


#: Addresses answered in JSON whatever the error: the API, the CDS Hooks services, OpenAPI.
JSON_PREFIXES = ("/api/", "/cds-services", "/openapi.json")


async def not_found_page(request: Request, exc: Exception) -> Response:
    """A page for an address no route has (404) or a method it does not take (405); the
    JSON doors and every error a route raised itself keep FastAPI's JSON answer."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if type(exc) is StarletteHTTPException and exc.status_code in (404, 405) \
            and not path.startswith(JSON_PREFIXES):
        # Who is signed in decides the navigation shown, as on every other page.
        await signed_in(request)
        _ = translations(language_of(request)).gettext
        return render(request, "error.html", status_code=exc.status_code,
                      title=_("Page not found") if exc.status_code == 404 else
                      _("This address does not take that request"),
                      message=_("There is no page at this address. Check the address, or "
                                "go back to the start page."),
)
    return await http_exception_handler(request, exc)


async def web_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebRedirect)
    response = redirect(exc.location)
    _keep_pre_cookie(response, request)
    return response


# The app's settings and database, read the way the API reads them.
settings_of = get_settings
db_of = get_db


# --- the session and CSRF -----------------------------------------------------------------------


def _seed(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    if token and getattr(request.state, "web_principal", None) is not None:
        return "session:" + token
    pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "new_pre_cookie", None)
    if not pre:
        pre = secrets.token_urlsafe(24)
        request.state.new_pre_cookie = pre
    return "pre:" + pre


def csrf_token(request: Request) -> str:
    key = settings_of(request).secret_key.encode()
    return hmac.new(key, b"spinecare.csrf/1:" + _seed(request).encode(),
                    hashlib.sha256).hexdigest()


def check_csrf(request: Request, form: Any) -> None:
    """Refuse a form post whose CSRF token is not this session's."""
    given = form.get(CSRF_FIELD)
    cookie_seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE)
    if not isinstance(given, str) or not cookie_seed or \
            not hmac.compare_digest(given, csrf_token(request)):
        raise WebError(403, N_("This form has expired"),
                       N_("Please go back, reload the page and try again."))


async def signed_in(request: Request) -> Principal | None:
    """Who the session cookie stands for (``None`` when signed out or expired)."""
    token = request.cookies.get(SESSION_COOKIE)
    who = await principal_of_token(request, token) if token else None
    request.state.web_principal = who
    return who


async def clinician(request: Request) -> Principal:
    who = await signed_in(request)
    if who is None or who.role == "patient":
        raise WebRedirect("/login" if who is None else "/my")
    if who.role == "admin":
        # An admin signs in on the same page as a clinician; their pages are the accounts.
        raise WebRedirect("/admin/users")
    if who.role != "clinician":
        raise WebError(403, N_("Clinicians only"), N_("These pages are for clinicians."))
    return who


async def patient(request: Request) -> Principal:
    who = await signed_in(request)
    if who is None:
        # A patient page without a session: the patient signs in again by e-mail link.
        raise WebRedirect("/signin")
    if who.role != "patient":
        raise WebRedirect("/patients")
    return who


def _secure(request: Request) -> bool:
    """Cookies only over TLS when users reach the service over TLS, also behind a proxy that
    speaks plain http to us."""
    return request.url.scheme == "https" or settings_of(request).https


def remember_language(response: Response, request: Request, language: str) -> None:
    """The browser's language choice, for a year (not a secret: Lax, so that a link from
    elsewhere opens in it too)."""
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 24 * 3600, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int) -> None:
    """An HttpOnly, SameSite=Strict cookie (over TLS when users reach us over TLS)."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=_secure(request), path="/")


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True,
                        samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(PRE_COOKIE, path="/")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
