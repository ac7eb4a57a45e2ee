"""Known devices: a signed cookie a browser gets when it signs in to an account, which later
lets it past that account's lock from everywhere (:mod:`spinecare.store.throttle`).

The account's lock from every address is the one lock an attacker can put on the real user:
guessing from many addresses locks the account wherever its owner is. A browser that has
signed in to the account before is not the attacker's, so its attempts are counted under its
own device key instead (as OWASP's "device cookies" propose); the lock of this account from
this address, and of this address, still hold. A stolen cookie buys the thief nothing beyond
its own device key, which locks like the account's.

The cookie names the account by a hash of its comparison key (never the name itself), is
signed with the service's secret (``itsdangerous``, with its own salt) and expires after
:data:`DEVICE_MAX_AGE`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from spinecare.store import usernames

DEVICE_COOKIE = "spinecare_device"
# About half a year: a clinic's own computers sign in more often than that.
DEVICE_MAX_AGE = timedelta(days=180)
_SALT = "spinecare.device/1"


def _account(username: str) -> str:
    key = usernames.username_key(username[:2 * usernames.MAX_LENGTH])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def device_cookie(secret_key: str, username: str) -> str:
    """A new known-device cookie for the account ``username`` (its own random device id)."""
    return str(_signer(secret_key).dumps({"a": _account(username),
                                          "d": secrets.token_urlsafe(16)}))


def known_device(secret_key: str, cookie: str | None, username: str) -> str | None:
    """The device id of ``cookie`` when it is ours, unexpired and for the account
    ``username``; else ``None`` (the attempt is then counted as from anywhere)."""
    if not cookie or len(cookie) > 512:
        return None
    try:
        found = _signer(secret_key).loads(
            cookie, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadSignature:  # forged, altered or expired
        return None
    if not isinstance(found, dict) or found.get("a") != _account(username):
        return None
    device = found.get("d")
    return device if isinstance(device, str) and 0 < len(device) <= 64 else None
