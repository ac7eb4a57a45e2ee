"""OpenAPI additions: routes that take a raw case document name the case schema
(``spinecare/schemas/case.schema.json``) as their body, and every error has its shape."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from spinecare.api.schemas import ErrorOut, ValidationErrorOut

CASE_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}},
}}

FHIR_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "description": "a FHIR R4 Bundle (Patient, Observation, Condition, "
        "QuestionnaireResponse), or a JSON array of resources"}}},
}}

_DESCRIPTIONS = {
    401: "no token, or one that is invalid, expired or revoked",
    403: "the caller's role may not do this",
    404: "no such patient among the caller's patients",
    409: "the Idempotency-Key was used before with a different case",
    422: "invalid input; every problem with its JSON path",
    429: "too many failed sign-ins for this account or from this address; retry after the "
         "seconds in Retry-After",
    503: "too many sign-ins at once; retry after the seconds in Retry-After",
}


def json_responses(*codes: int, ok: tuple[int, str] | None = None) -> dict[int | str, Any]:
    out: dict[int | str, Any] = {
        code: {"model": ValidationErrorOut if code == 422 else ErrorOut,
               "description": _DESCRIPTIONS[code]} for code in codes}
    if ok is not None:
        out[ok[0]] = {"description": ok[1],
                      "content": {"application/json": {"schema": {"type": "object"}}}}
    return out


@cache
def _case_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        files("spinecare.schemas").joinpath("case.schema.json").read_text(encoding="utf-8"))
    # OpenAPI 3.1 takes JSON Schema 2020-12 as is; only the document-level keys go.
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def install(app: FastAPI) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Case"] = \
                _case_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
