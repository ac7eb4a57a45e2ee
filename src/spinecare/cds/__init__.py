"""CDS Hooks 2.0 services (https://cds-hooks.hl7.org/2.0/): the third door onto spinecare,
beside the API and the web pages. ``mount(app)`` adds ``/cds-services`` to an app built by
:func:`spinecare.app.create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from spinecare.cds.config import CdsSettings, cds_settings_from_env
from spinecare.cds.routes import CdsState, router


def mount(app: FastAPI, settings: CdsSettings | None = None) -> CdsState:
    """Add the CDS Hooks routes to ``app``; the state is closed with ``state.close()``."""
    public_url: str = app.state.settings.public_url
    state = CdsState(settings or cds_settings_from_env(public_url))
    app.state.cds = state
    app.include_router(router)
    return state
