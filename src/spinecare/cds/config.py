"""The CDS Hooks service's settings, from the environment (read once, when the app is built).

- ``SPINECARE_CDS_ALGORITHMS``: the JWT algorithms accepted, comma-separated (default
  ``RS384,ES384``, the two the specification recommends). The public CDS Hooks sandbox signs with
  ES256: add it to use the sandbox. ``none`` and the HMAC algorithms are never accepted.
- ``SPINECARE_CDS_CORS_ORIGINS``: browser origins allowed to call the services
  (comma-separated, e.g. ``https://sandbox.cds-hooks.org``); default none.
- ``SPINECARE_CDS_FHIR_HTTP``: ``1`` lets ``fhirServer`` be plain http (default: only when the
  service's own public URL is http, i.e. a development set-up). The specification asks for https
  whenever production data is exchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from spinecare.errors import SpinecareError

#: Asymmetric algorithms PyJWT verifies with cryptography; HMAC and ``none`` are forbidden by
#: the specification (a shared secret cannot identify the client).
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384",
                        "PS512")
DEFAULT_ALGORITHMS = ("RS384", "ES384")


class CdsSettingsError(SpinecareError):
    pass


@dataclass(frozen=True)
class CdsSettings:
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    cors_origins: tuple[str, ...] = ()
    allow_http_fhir: bool = False
    # A JWT may live at most this long past now: its id is kept until it expires, to refuse a
    # replay, so a far-off expiry would keep ids for ever.
    max_jwt_lifetime_seconds: int = 3600
    clock_leeway_seconds: int = 30
    # The client's FHIR server, when prefetch is missing: one try per template, no retries, all
    # templates within one deadline (CDS clients give up after about 500 ms).
    fhir_connect_timeout: float = 1.0
    fhir_read_timeout: float = 2.0
    fhir_deadline: float = 3.0
    fhir_max_bytes: int = 8 * 1024 * 1024
    # Key sets fetched from a client's JWKS URL.
    jwks_timeout: float = 2.0
    jwks_ttl_seconds: float = 300.0
    jwks_refetch_seconds: float = 30.0
    jwks_max_bytes: int = 64 * 1024
    jwks_cache_entries: int = 64

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in SUPPORTED_ALGORITHMS]
        if bad or not self.algorithms:
            raise CdsSettingsError(
                f"SPINECARE_CDS_ALGORITHMS: {', '.join(bad) or '(empty)'} is not allowed; use "
                f"some of {', '.join(SUPPORTED_ALGORITHMS)}")


def _list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


def cds_settings_from_env(public_url: str) -> CdsSettings:
    algorithms = _list("SPINECARE_CDS_ALGORITHMS") or DEFAULT_ALGORITHMS
    http = os.environ.get("SPINECARE_CDS_FHIR_HTTP")
    allow_http = http == "1" if http is not None else public_url.startswith("http://")
    return CdsSettings(algorithms=algorithms, cors_origins=_list("SPINECARE_CDS_CORS_ORIGINS"),
                       allow_http_fhir=allow_http)
