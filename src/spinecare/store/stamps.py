"""Row ids and timestamps in the form the store keeps them (shared by records and accounts)."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo: the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def seconds_of(moment: datetime) -> int:
    """Whole seconds since 1970 of a UTC time (naive, as the columns hold it, or aware)."""
    return calendar.timegm(moment.utctimetuple())


def moment_of(seconds: int) -> datetime:
    """The naive UTC time of :func:`seconds_of`; far-off values are clamped, not raised."""
    return datetime.fromtimestamp(min(max(seconds, 0), 253_402_300_799), UTC) \
        .replace(tzinfo=None)
