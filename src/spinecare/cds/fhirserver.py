"""Prefetch the client did not send, read from its FHIR server (CDS Hooks 2.0, "FHIR Resource
Access"): one GET per missing template with the client's ``fhirAuthorization`` bearer token,
short timeouts, one deadline for all of them, and no retries (a slow server must not get a
storm of repeats, and the clinician is waiting). Any failure means the data cannot be had:
the caller answers 412, as the specification says.

The access token is used for the requests only: it is never logged, stored or put in an error
message (a test looks).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from spinecare.cds.config import CdsSettings

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")


class Unobtainable(Exception):
    """Required FHIR data can be neither prefetched nor fetched (answered 412)."""


def render(template: str, context: Mapping[str, Any]) -> str | None:
    """A prefetch template with its ``{{context.x}}`` tokens filled in (URL-quoted), or
    ``None`` when a token names a context field the request did not give."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        path = match.group(1)
        value = context.get(path.removeprefix("context.")) if path.startswith("context.") \
            else None
        if not isinstance(value, str | int) or isinstance(value, bool):
            missing = True
            return ""
        return quote(str(value), safe="")

    out = _TOKEN.sub(fill, template)
    return None if missing else out


def check_server(url: str, settings: CdsSettings) -> str:
    """The base URL without a trailing slash, or ValueError when it may not be used."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.allow_http_fhir else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise ValueError("must be an https URL" if not settings.allow_http_fhir
                         else "must be an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must have no user, query or fragment")
    return url.rstrip("/")


class FhirFetcher:
    """Reads templates from a client's FHIR server (one shared connection pool)."""

    def __init__(self, settings: CdsSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.fhir_read_timeout,
                                  connect=settings.fhir_connect_timeout),
            follow_redirects=False, transport=transport,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))

    def close(self) -> None:
        self._client.close()

    def fetch(self, base: str, token: str | None, paths: Mapping[str, str]
              ) -> dict[str, Any]:
        """Each ``key -> relative URL`` read from ``base``: key -> resource (``None`` for a
        read that found nothing). Raises :class:`Unobtainable` on any failure."""
        deadline = time.monotonic() + self.settings.fhir_deadline
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        out: dict[str, Any] = {}
        for key, path in paths.items():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unobtainable("the FHIR server did not answer in time")
            timeout = httpx.Timeout(min(self.settings.fhir_read_timeout, left),
                                    connect=min(self.settings.fhir_connect_timeout, left))
            try:
                with self._client.stream("GET", f"{base}/{path}", headers=headers,
                                         timeout=timeout) as r:
                    if r.status_code == 404 and "?" not in path:
                        out[key] = None
                        continue
                    if r.status_code != 200:
                        raise Unobtainable(f"the FHIR server answered {r.status_code} for "
                                           f"{key}")
                    body = bytearray()
                    for chunk in r.iter_bytes():
                        body.extend(chunk)
                        if len(body) > self.settings.fhir_max_bytes:
                            raise Unobtainable(f"the FHIR server's answer for {key} is too "
                                               "large")
                        if time.monotonic() > deadline:
                            raise Unobtainable("the FHIR server did not answer in time")
            except httpx.HTTPError as exc:
                raise Unobtainable(f"the FHIR server could not be read for {key} "
                                   f"({type(exc).__name__})") from None
            try:
                out[key] = orjson.loads(bytes(body))
            except orjson.JSONDecodeError:
                raise Unobtainable(f"the FHIR server's answer for {key} is not JSON") \
                    from None
        return out
