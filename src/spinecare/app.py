"""The composition root: ``create_app(settings)`` opens (and migrates) the database and wires
the doors, the API (``spinecare.api``), the web pages (``spinecare.web``) and the CDS Hooks
services (``spinecare.cds``), onto one app with the state they share (``spinecare.http``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from spinecare import __version__, cds, web
from spinecare.api import alerts, education, errors, openapi
from spinecare.api.routes import router
from spinecare.http.audit import AuditRefusals
from spinecare.http.headers import NoLeakMiddleware, SecurityHeadersMiddleware
from spinecare.http.limits import BodyLimitMiddleware
from spinecare.http.mailer import MailWorker
from spinecare.http.settings import Settings
from spinecare.plan.planner import default_plan_knowledge
from spinecare.reasoning.engine import default_engine
from spinecare.store.db import Database


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """The ASGI app. ``db`` defaults to the settings' database, opened and migrated now."""
    database = db or Database(settings.database_url)
    owned = db is None
    mailer = None if settings.smtp is None else MailWorker(
        database, settings.smtp, settings.public_url, settings.mail_poll_seconds,
        secret_key=settings.secret_key)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Load the knowledge before the first request, not during it.
        default_engine()
        default_plan_knowledge()
        # The knowledge, the compiled rules and the app are long-lived: keep the cyclic
        # garbage collector from re-scanning them on every request's allocations.
        gc.collect()
        gc.freeze()
        if mailer is not None:
            mailer.start()
        yield
        if mailer is not None:
            mailer.stop()
        app.state.cds.close()
        if owned:
            database.dispose()

    # The docs page is the web's (signed in, served from the package, with a CSP); FastAPI's
    # own would load Swagger UI and ReDoc from a CDN.
    app = FastAPI(title="spinecare", version=__version__, lifespan=lifespan,
                  description="Assessment, measurement and care planning for spinal "
                              "stenosis (CONTRACT.md section 4).",
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.settings = settings
    app.state.db = database
    app.state.mailer = mailer
    app.include_router(router)
    app.include_router(alerts.router)
    app.include_router(education.router)
    errors.install(app)
    openapi.install(app)
    web.mount(app)
    cds.mount(app)
    # Added innermost first: the headers go on every answer, the 500 and 413 included; the
    # refusals' audit sees every answer of the app, the error pages' and the 413s too.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(AuditRefusals)
    app.add_middleware(NoLeakMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.https)
    return app
