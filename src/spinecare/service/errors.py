"""Why a use case refused. The doors map these to their own answers (the API to 401, 403,
404, 409 and 422 JSON bodies, the web to its pages), so the texts a door shows stay its own.

Each is raised, where it is raised inside a database session, after the refusal's audit event
was written; as :class:`~spinecare.store.db.KeepChanges` the session still commits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from spinecare.errors import Problem, SpinecareError
from spinecare.store.db import KeepChanges

Missing = Literal["patient", "visit", "invitation", "user", "alert", "article"]


class ServiceError(SpinecareError, KeepChanges):
    """A use case refused; the message is the API's answer."""


class NotAuthenticated(ServiceError):
    """Credentials (a password, an invitation) that do not sign anyone in."""


class NotFound(ServiceError):
    """No such record, or one the caller may not see: the two are not told apart, so a
    caller cannot learn which patients exist."""

    def __init__(self, what: Missing):
        super().__init__(f"{what.capitalize()} not found")
        self.what: Missing = what


class Forbidden(ServiceError):
    """The caller may see the record but not do this to it."""


class Invalid(ServiceError):
    """Input that does not validate, with every problem by its path."""

    def __init__(self, detail: str, problems: Sequence[Problem]):
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems)


class Conflict(ServiceError):
    """A request that contradicts an earlier one (an idempotency key reused for other data)."""


class Throttled(ServiceError):
    """Too many failed attempts: refused without checking, for ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: float):
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """The service is too busy to do this now; try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: float):
        super().__init__(detail)
        self.retry_after = retry_after
