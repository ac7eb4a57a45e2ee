"""The audit trail's hash chain: each event stores its predecessor's hash and the sha256 of its
own content with that hash, so changing, removing or reordering a stored event breaks the chain
at that event (``spinecare audit verify``).

The chain proves tampering only to someone who knows a recent head: a person with write access
to the database could rewrite every event after the one they changed. Record the head that
``spinecare audit verify`` prints somewhere else (a ticket, a printed log) to close that gap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

GENESIS = "0" * 64

# The hashed content, in this order. The id is not hashed (it is given by the database at
# insert, after the hash was computed); the order of events is held by ``prev_hash`` instead.
FIELDS = ("at", "actor_id", "actor_role", "action", "patient_id", "target_id", "outcome",
          "address", "reason", "username", "prev_hash")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive UTC, as stored; microseconds always written, so both databases agree.
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return value


def event_hash(content: Mapping[str, Any]) -> str:
    """The sha256 (hex) of one event's content, ``prev_hash`` included."""
    canonical = orjson.dumps([_value(content.get(name)) for name in FIELDS])
    return hashlib.sha256(b"spinecare.audit/1\n" + canonical).hexdigest()
