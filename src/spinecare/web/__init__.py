"""The web app: server-rendered pages for clinicians and patients over the same use cases
(``spinecare.service``) as the HTTP API. ``mount(app)`` adds the pages and their static files
to an app built by :func:`spinecare.app.create_app`."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from spinecare.store.once import Spent
from spinecare.vocabulary import LANGUAGES
from spinecare.web import (
    access,
    admin,
    alerts,
    auth,
    clinician,
    docs,
    education,
    language,
    once,
    passkeys,
    password,
    patient,
    signin,
)
from spinecare.web.i18n import knowledge_translations, translations
from spinecare.web.pages import WebError, WebRedirect, not_found_page, web_error, web_redirect


def mount(app: FastAPI) -> None:
    """Add the web pages, their error pages and ``/static`` to ``app`` (once; idempotent)."""
    if getattr(app.state, "spinecare_web_mounted", False):
        return
    # The catalogues are read now, at start-up: a broken one stops the server here rather
    # than failing a patient's page later.
    for code in LANGUAGES:
        translations(code)
        knowledge_translations(code)
    app.include_router(auth.router)
    # Before the clinician's pages: its fixed addresses (/patients/{id}/invitations/cancel)
    # would otherwise be taken by /patients/{id}/invitations/{invitation_id}.
    app.include_router(access.router)
    app.include_router(clinician.router)
    app.include_router(alerts.router)
    app.include_router(patient.router)
    app.include_router(docs.router)
    app.include_router(password.router)
    app.include_router(education.router)
    app.include_router(language.router)
    app.include_router(signin.router)
    app.include_router(passkeys.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(packages=[("spinecare.web", "static")]), name="static")
    app.add_exception_handler(WebError, web_error)
    # An unknown address answers a page in the web's style; the API's addresses keep JSON.
    app.add_exception_handler(StarletteHTTPException, not_found_page)
    app.add_exception_handler(WebRedirect, web_redirect)
    app.add_exception_handler(Spent, once.replayed)
    app.state.spinecare_web_mounted = True
