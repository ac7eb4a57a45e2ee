"""Row ids and timestamps in the form the store keeps them (shared by records and accounts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo: the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex
