"""Errors as the API answers them: ``{"detail": "..."}``, and for 422
``{"detail": "...", "problems": [{"path": ..., "message": ...}]}`` with the JSON paths the
command line prints. Nothing unexpected reaches a user as a traceback."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from spinecare.case import describe_error, json_path
from spinecare.errors import Problem
from spinecare.service import errors as service
from spinecare.store.db import KeepChanges

log = logging.getLogger("spinecare.api")

# Where FastAPI found a bad value; not part of the path a user sees.
_SOURCES = {"body", "query", "path", "header", "cookie"}


class JSONBytes(Response):
    """A response of JSON already serialised (by orjson, or spliced from stored documents)."""

    media_type = "application/json"


class ApiError(HTTPException, KeepChanges):
    """An error answer. Raised inside a database session, the session still commits, so the
    audit event recording a refusal is kept."""

    def __init__(self, status_code: int, detail: str,
                 headers: dict[str, str] | None = None):
        super().__init__(status_code=status_code, detail=detail, headers=headers)


class Invalid(ApiError):
    """422 with every problem by its JSON path."""

    def __init__(self, detail: str, problems: Sequence[Problem]):
        super().__init__(422, detail)
        self.problems = list(problems)


def from_service(exc: service.ServiceError) -> Exception:
    """The API's answer to a use case's refusal: its message as the ``detail``."""
    if isinstance(exc, service.Invalid):
        return Invalid(exc.detail, exc.problems)
    if isinstance(exc, service.NotAuthenticated):
        return ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, service.Throttled | service.Unavailable):
        return ApiError(429 if isinstance(exc, service.Throttled) else 503, str(exc),
                        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    status = {service.NotFound: 404, service.Forbidden: 403, service.Conflict: 409}
    return ApiError(status.get(type(exc), 400), str(exc))


def _body(detail: str, problems: Sequence[Problem]) -> bytes:
    return orjson.dumps({"detail": detail, "problems": [
        {"path": p.path, "message": p.message} for p in problems]})


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Invalid)
    return JSONBytes(_body(exc.detail, exc.problems), status_code=422)


# Fields whose refused value is never quoted back, however short: a password, a token.
SECRET_FIELDS = frozenset({"password", "token", "access_token", "secret", "code",
                           "authorization"})


def problems_from_request(errors: Sequence[Any]) -> list[Problem]:
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        if any(isinstance(part, str) and part.lower() in SECRET_FIELDS for part in loc):
            error = {k: v for k, v in error.items() if k != "input"}
        if error.get("type") == "json_invalid":
            out.append(Problem("(document)", "is not valid JSON"))
            continue
        out.append(Problem(json_path(loc), describe_error(error)))
    return out


async def _request_invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONBytes(_body("Invalid request", problems_from_request(exc.errors())),
                     status_code=422)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    # The type only: an exception's message may quote request content.
    log.error("internal error: %s", type(exc).__name__)
    return JSONBytes(b'{"detail":"Internal server error"}', status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(Exception, _unexpected)
