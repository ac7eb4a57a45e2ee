"""Who is calling: the JWT the CDS client signs for every request (CDS Hooks 2.0, "Trusting CDS
Clients"). The header names the key (``kid``) and the algorithm; the payload's ``iss`` must be a
registered client, ``aud`` the exact URL called, ``exp``, ``iat`` and ``jti`` present, the
signature good under the client's own key set. The key set comes from where the client was
registered (a URL, fetched and cached; or a file, copied into the database), never from the
token's ``jku`` header, so a token cannot point at keys of its own choosing.

Replay (a ``jti`` seen before) is checked by the use case, in the database, so that every
worker sees every id.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import orjson

from spinecare.cds.config import CdsSettings

ALLOWED_KEY_TYPES = {"RSA", "EC"}


class Refused(Exception):
    """The request is not from a trusted client; the message is the 401's ``detail`` (it never
    quotes the token)."""


@dataclass(frozen=True, slots=True)
class ClientKeys:
    iss: str
    jwks_url: str | None
    jwks_json: str | None
    version: str


@dataclass(frozen=True, slots=True)
class Caller:
    iss: str
    jti: str
    expires_at: datetime


def bearer(header: str | None) -> str:
    if not header:
        raise Refused("A signed JWT is required: send Authorization: Bearer <JWT>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("The Authorization header must be Bearer <JWT>")
    return token.strip()


def unverified_issuer(token: str) -> tuple[str, dict[str, Any]]:
    """The ``iss`` the token claims and its header, before any check (to find the keys)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Refused("The bearer token is not a JWT") from None
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise Refused("The JWT has no iss")
    return iss, header


def parse_jwks(text: str | bytes) -> dict[str, Any]:
    """A JWK Set with at least one RSA or EC public key, or ValueError saying why not."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("is not JSON") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError("is not a JWK Set (an object with a non-empty keys array)")
    usable = [k for k in keys if isinstance(k, dict) and k.get("kty") in ALLOWED_KEY_TYPES]
    if not usable:
        raise ValueError("has no RSA or EC key")
    if any("d" in k for k in usable):
        raise ValueError("holds a private key: register the public key set only")
    return {"keys": usable}


class KeySets:
    """Clients' key sets: parsed once per registration version, URLs fetched with a timeout
    and cached (a bounded number, for ``jwks_ttl_seconds``). An unknown ``kid`` refetches the
    URL at most once per ``jwks_refetch_seconds``, so key rotation works and a stream of bad
    tokens cannot make the service hammer the client's server."""

    def __init__(self, settings: CdsSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._client = httpx.Client(timeout=httpx.Timeout(settings.jwks_timeout),
                                    follow_redirects=False, transport=transport)

    def close(self) -> None:
        self._client.close()

    def _fetch(self, url: str) -> dict[str, Any]:
        try:
            with self._client.stream("GET", url, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    raise Refused(f"The client's JWKS URL answered {r.status_code}")
                body = bytearray()
                for chunk in r.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self.settings.jwks_max_bytes:
                        raise Refused("The client's JWKS is too large")
        except httpx.HTTPError as exc:
            raise Refused(f"The client's JWKS could not be fetched ({type(exc).__name__})") \
                from None
        try:
            return parse_jwks(bytes(body))
        except ValueError as exc:
            raise Refused(f"The client's JWKS {exc}") from None

    def _set(self, client: ClientKeys, kid: str | None) -> dict[str, Any]:
        if client.jwks_json is not None:
            key = (client.iss, client.version)
            with self._lock:
                cached = self._cache.get(key)
            if cached is None:
                cached = (time.monotonic(), parse_jwks(client.jwks_json))
                self._remember(key, cached)
            return cached[1]
        assert client.jwks_url is not None
        key = (client.iss, client.jwks_url)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            age = now - cached[0]
            fresh = age < self.settings.jwks_ttl_seconds
            has_kid = kid is None or any(k.get("kid") == kid for k in cached[1]["keys"])
            if fresh and (has_kid or age < self.settings.jwks_refetch_seconds):
                return cached[1]
        fetched = (now, self._fetch(client.jwks_url))
        self._remember(key, fetched)
        return fetched[1]

    def _remember(self, key: tuple[str, str], value: tuple[float, dict[str, Any]]) -> None:
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self.settings.jwks_cache_entries:
                self._cache.popitem(last=False)

    def key(self, client: ClientKeys, kid: str | None, alg: str) -> Any:
        keys = self._set(client, kid)["keys"]
        matching = [k for k in keys if kid is None or k.get("kid") == kid]
        if kid is None and len(matching) > 1:
            raise Refused("The JWT has no kid and the client's JWKS has several keys")
        if not matching:
            raise Refused("No key in the client's JWKS matches the JWT's kid")
        try:
            return jwt.PyJWK(matching[0], algorithm=alg).key
        except jwt.PyJWTError:
            raise Refused("The client's key does not fit the JWT's algorithm") from None


def algorithm(header: dict[str, Any], settings: CdsSettings) -> str:
    """The header's algorithm if it is accepted (never ``none`` or HMAC), checked before any key
    is looked up."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.algorithms:
        raise Refused(f"JWT algorithm {str(alg)[:20]!r} is not accepted (accepted: "
                      f"{', '.join(settings.algorithms)})")
    return alg


def verify(token: str, header: dict[str, Any], key: Any, *, iss: str, audience: str,
           settings: CdsSettings) -> Caller:
    """The checked caller, or :class:`Refused` naming what failed."""
    alg = algorithm(header, settings)
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=iss,
                            leeway=settings.clock_leeway_seconds,
                            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError:
        raise Refused("The JWT has expired") from None
    except jwt.InvalidAudienceError:
        raise Refused(f"The JWT's aud must be {audience}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Refused(f"The JWT has no {exc.claim}") from None
    except jwt.InvalidSignatureError:
        raise Refused("The JWT's signature does not verify with the client's key") from None
    except jwt.PyJWTError as exc:
        raise Refused(f"The JWT is not valid ({type(exc).__name__})") from None
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise Refused("The JWT's jti must be a string of 1 to 200 characters")
    exp = float(claims["exp"])
    if exp - time.time() > settings.max_jwt_lifetime_seconds:
        raise Refused(f"The JWT expires more than {settings.max_jwt_lifetime_seconds} seconds "
                      "from now")
    expires = datetime.fromtimestamp(exp + settings.clock_leeway_seconds, UTC)
    return Caller(iss, jti, expires.replace(tzinfo=None))
