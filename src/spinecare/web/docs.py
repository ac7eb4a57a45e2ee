"""The API docs (Swagger UI) for signed-in staff, served from the package's own files.

Swagger UI's script and style come from the pinned ``fastapi-offline`` package (Swagger UI 5,
which reads OpenAPI 3.1), never from a CDN; the page starts it with a script of our own, so its
policy allows no inline script. Patients and signed-out visitors are sent to their own pages;
``SPINECARE_API_DOCS=off`` removes the page. The OpenAPI document itself stays public at
``/openapi.json`` (the contract, with no patient data in it).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from starlette.responses import Response

from spinecare.web.pages import (
    SECURITY_HEADERS,
    WebError,
    WebRedirect,
    environment,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False)

# Swagger UI sets style attributes from its script, so styles need 'unsafe-inline'; scripts
# do not, and nothing may come from elsewhere.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'")
_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
           "swagger-ui.css": "text/css; charset=utf-8"}


@cache
def _asset(name: str) -> bytes:
    return files("fastapi_offline").joinpath("static", name).read_bytes()


async def _staff(request: Request) -> None:
    if settings_of(request).api_docs == "off":
        raise WebError(404, "Page not found", "The API docs are turned off on this service.")
    who = await signed_in(request)
    if who is None:
        raise WebRedirect("/login")
    if who.role == "patient":
        raise WebRedirect("/my")


@router.get("/docs")
async def docs(request: Request) -> Response:
    await _staff(request)
    html = environment().get_template("api_docs.html").render(title=request.app.title)
    return Response(html, media_type="text/html",
                    headers={**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP})


@router.get("/docs/{name}")
async def docs_asset(request: Request, name: str) -> Response:
    if name not in _ASSETS:
        raise WebError(404, "Page not found", "There is no such file.")
    await _staff(request)
    return Response(_asset(name), media_type=_ASSETS[name],
                    headers={**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP})


@cache
def _favicon() -> bytes:
    return files("spinecare.web").joinpath("static/favicon.ico").read_bytes()


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for ``/favicon.ico`` on every site: answer it (a 404 is a console error on
    every page). A day's caching: it is the package's own file, like ``/static``."""
    return Response(_favicon(), media_type="image/x-icon",
                    headers={"Cache-Control": "public, max-age=86400"})
