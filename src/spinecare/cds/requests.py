"""A CDS Hooks 2.0 request body, read strictly where the specification is strict and with every
problem named by its JSON path. No problem message quotes a value sent: the body may carry an
access token and patient data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spinecare.errors import Problem

_MODEL = ConfigDict(extra="ignore", strict=True)


class FhirAuthorization(BaseModel):
    """The client's token for its FHIR server. Never logged, stored or echoed."""

    model_config = ConfigDict(extra="ignore", strict=True, hide_input_in_errors=True)

    access_token: str = Field(min_length=1, repr=False)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(BaseModel):
    """The request body; field names are the wire names (camelCase)."""

    model_config = ConfigDict(extra="ignore", strict=True, hide_input_in_errors=True)

    hook: str = Field(min_length=1, max_length=100)
    hookInstance: str = Field(min_length=1, max_length=100)
    fhirServer: str | None = Field(default=None, max_length=2000)
    fhirAuthorization: FhirAuthorization | None = Field(default=None, repr=False)
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        # cds-r-1: fhirAuthorization requires fhirServer.
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self


class Coding(BaseModel):
    model_config = _MODEL
    system: str | None = Field(default=None, max_length=500)
    code: str | None = Field(default=None, max_length=200)
    display: str | None = Field(default=None, max_length=500)


class OverrideReason(BaseModel):
    model_config = _MODEL
    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=2000)


class AcceptedSuggestion(BaseModel):
    model_config = _MODEL
    id: str = Field(min_length=1, max_length=100)


class Feedback(BaseModel):
    model_config = _MODEL
    card: str = Field(min_length=1, max_length=36)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str

    @model_validator(mode="after")
    def _accepted_has_suggestions(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required for an accepted outcome")
        return self

    def outcome_at(self) -> datetime:
        stamp = self.outcomeTimestamp
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if at.tzinfo is None:
            raise ValueError("must give its time zone (UTC, as RFC 3339 section 5.6)")
        return at.astimezone(UTC).replace(tzinfo=None)


class FeedbackRequest(BaseModel):
    model_config = _MODEL
    feedback: list[Feedback] = Field(min_length=1, max_length=100)


class BadRequest(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("Invalid request")
        self.problems = problems


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest([Problem("(document)", "is not valid JSON")]) from None
    if not isinstance(data, dict):
        raise BadRequest([Problem("(document)", "must be a JSON object")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest([Problem(_path(tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
                          for e in exc.errors(include_input=False, include_url=False)]) \
            from None


def parse_hook_request(body: bytes) -> HookRequest:
    found: HookRequest = _parse(HookRequest, body)
    return found


def parse_feedback(body: bytes) -> FeedbackRequest:
    found: FeedbackRequest = _parse(FeedbackRequest, body)
    problems = []
    for n, item in enumerate(found.feedback):
        try:
            item.outcome_at()
        except ValueError:
            problems.append(Problem(f"feedback[{n}].outcomeTimestamp",
                                    "must be an RFC 3339 date and time in UTC, like "
                                    "2021-12-11T10:05:31Z"))
    if problems:
        raise BadRequest(problems)
    return found


def resources_of(prefetch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every resource in the prefetch: single resources, and the entries of Bundles. A key
    with ``null`` means the client has no such data; OperationOutcomes are the client's
    errors, not chart data."""
    out: list[dict[str, Any]] = []
    for value in prefetch.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and \
                        resource.get("resourceType") != "OperationOutcome":
                    out.append(resource)
        elif value.get("resourceType") not in (None, "OperationOutcome"):
            out.append(value)
    return out
