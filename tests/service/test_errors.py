"""Every refusal a use case can raise has an answer at both doors, so a new kind of refusal
cannot reach a user as a 500."""

from __future__ import annotations

import math

import pytest
from fastapi import HTTPException

from spinecare.api import errors as api_errors
from spinecare.errors import Problem
from spinecare.service import errors
from spinecare.store.db import KeepChanges
from spinecare.web import pages

EXAMPLES: list[errors.ServiceError] = [
    errors.NotAuthenticated("Incorrect username or password"),
    errors.NotFound("patient"),
    errors.NotFound("visit"),
    errors.Forbidden("Patients cannot add visits"),
    errors.Invalid("Invalid request", [Problem("username", "is taken")]),
    errors.Conflict("Idempotency-Key was already used for a different case"),
    errors.Throttled("Too many failed sign-ins; try again later", 8.2),
    errors.Unavailable("Too many sign-ins at once; try again in a moment", 1),
]


def test_the_examples_cover_every_kind_of_refusal() -> None:
    kinds = set(errors.ServiceError.__subclasses__())
    assert kinds == {type(e) for e in EXAMPLES}


@pytest.mark.parametrize("exc", EXAMPLES, ids=lambda e: f"{type(e).__name__}-{e}")
def test_the_api_answers_a_refusal_with_its_own_status_and_the_message(
        exc: errors.ServiceError) -> None:
    answer = api_errors.from_service(exc)
    assert isinstance(answer, HTTPException) and answer.detail == str(exc)
    expected = {errors.NotAuthenticated: 401, errors.NotFound: 404, errors.Forbidden: 403,
                errors.Invalid: 422, errors.Conflict: 409, errors.Throttled: 429,
                errors.Unavailable: 503}[type(exc)]
    assert answer.status_code == expected
    if isinstance(exc, errors.Throttled | errors.Unavailable):
        assert answer.headers is not None
        assert answer.headers["Retry-After"] == str(math.ceil(exc.retry_after))
    if isinstance(exc, errors.Invalid):
        assert isinstance(answer, api_errors.Invalid) and answer.problems == exc.problems


@pytest.mark.parametrize("exc", EXAMPLES, ids=lambda e: f"{type(e).__name__}-{e}")
def test_the_web_answers_a_refusal_with_an_error_page(exc: errors.ServiceError) -> None:
    page = pages.from_service(exc)
    assert isinstance(page, pages.WebError)
    assert 400 <= page.status_code < 500 or (page.status_code, type(exc)) == (
        503, errors.Unavailable)
    if isinstance(exc, errors.NotFound):
        assert (page.status_code, page.title) == (404, str(exc))


def test_a_refusal_keeps_the_audit_event_written_before_it() -> None:
    assert all(isinstance(e, KeepChanges) for e in EXAMPLES)
