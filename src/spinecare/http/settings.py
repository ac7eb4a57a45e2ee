"""The service's settings, from arguments and the environment.

- ``SPINECARE_DATA_DIR``: where the SQLite database and the key file live (default
  ``~/.local/share/spinecare``, or ``$XDG_DATA_HOME/spinecare``).
- ``SPINECARE_DATABASE_URL``: an SQLAlchemy URL; default ``sqlite:///<data dir>/spinecare.db``.
- ``SPINECARE_SECRET_KEY``: signs patient invitations. Without it, a random key is generated
  once into ``<data dir>/secret.key`` (mode 0600). There is no built-in default: a weak key given
  by hand is refused outside demo and test mode.
- ``SPINECARE_PUBLIC_URL``: the address users reach the service at (``https://clinic.example``,
  perhaps behind a proxy). Every link the service makes (invitation links) starts with it; the
  request's ``Host`` header is never used, since anyone can set it. With https, responses carry
  HSTS and cookies are Secure. Default: ``http://<host>:<port>`` of ``spinecare serve``.
- ``SPINECARE_PASSKEY_RP_ID``: the host name passkeys are made for (``clinic.example``);
  default: the host name each page was asked for. Browsers refuse an IP address here, so
  passkeys need the service reached by a name (``localhost``, not ``127.0.0.1``). A passkey
  works only at the host name it was made for.
- ``SPINECARE_API_DOCS``: ``signed-in`` (default: the API docs at ``/docs`` for signed-in users)
  or ``off`` (no docs page; the OpenAPI document stays at ``/openapi.json``).

The data directory is made private (0700) when spinecare creates it, and the files it writes
there (the key, the SQLite database, backups) are 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from spinecare.errors import SpinecareError
from spinecare.http.contacts import ClinicContacts, clinic_from_env, smtp_from_env
from spinecare.service.notifications import SmtpSettings
from spinecare.store.files import private_dir
from spinecare.store.throttle import ThrottlePolicy

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
ApiDocs = Literal["signed-in", "off"]

MIN_SECRET_LENGTH = 32
_KNOWN_WEAK = {"changeme", "change-me", "secret", "dev", "development", "test", "password"}


class SettingsError(SpinecareError):
    """Settings the service refuses to start with."""


def default_data_dir() -> Path:
    explicit = os.environ.get("SPINECARE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "spinecare"


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    data_dir: Path
    demo: bool = False
    testing: bool = False
    token_ttl: timedelta = timedelta(hours=8)
    patient_token_ttl: timedelta = timedelta(days=30)
    invitation_ttl: timedelta = timedelta(days=7)
    public_url: str = DEFAULT_PUBLIC_URL
    api_docs: ApiDocs = "signed-in"
    # Alert e-mail (None: alerts show in the pages only) and the numbers patients are given
    # (spinecare.http.contacts documents both).
    smtp: SmtpSettings | None = None
    clinic: ClinicContacts = field(default_factory=ClinicContacts)
    # How often the mail worker looks for e-mails due when nothing wakes it.
    mail_poll_seconds: float = 15.0
    # Failed sign-ins per account and per address (spinecare.store.throttle explains the
    # numbers); shared through the database by every worker.
    login_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    # The WebAuthn relying party id (None: the request's host name).
    passkey_rp_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_url", check_public_url(self.public_url))
        if self.api_docs not in ("signed-in", "off"):
            raise SettingsError("SPINECARE_API_DOCS must be signed-in or off, not "
                                f"{self.api_docs!r}")
        weak = (len(self.secret_key) < MIN_SECRET_LENGTH
                or self.secret_key.lower() in _KNOWN_WEAK)
        if weak and not (self.demo or self.testing):
            raise SettingsError(
                f"SPINECARE_SECRET_KEY is too weak (it needs at least {MIN_SECRET_LENGTH} "
                "random characters); unset it to use a generated key file")

    @property
    def https(self) -> bool:
        """Whether users reach the service over TLS (HSTS, Secure cookies)."""
        return self.public_url.startswith("https://")


def check_public_url(url: str) -> str:
    """``url`` without a trailing slash, or :class:`SettingsError` saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("SPINECARE_PUBLIC_URL must be an http:// or https:// address "
                            f"like https://clinic.example, not {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError("SPINECARE_PUBLIC_URL must have no query, fragment or user "
                            f"name: {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _secret_key(data_dir: Path) -> str:
    given = os.environ.get("SPINECARE_SECRET_KEY")
    if given:
        return given
    path = data_dir / "secret.key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    private_dir(data_dir)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once agree on one key (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def load_settings(database: str | None = None, *, demo: bool = False, testing: bool = False,
                  data_dir: Path | None = None, public_url: str | None = None) -> Settings:
    """The settings from the arguments, else the environment, else the defaults."""
    where = data_dir or default_data_dir()
    url = database or os.environ.get("SPINECARE_DATABASE_URL")
    if not url:
        name = "demo.db" if demo else "spinecare.db"
        url = f"sqlite:///{where / name}"
    docs = os.environ.get("SPINECARE_API_DOCS", "signed-in")
    return Settings(database_url=url, secret_key=_secret_key(where), data_dir=where, demo=demo,
                    testing=testing,
                    public_url=public_url or os.environ.get("SPINECARE_PUBLIC_URL")
                    or DEFAULT_PUBLIC_URL,
                    api_docs=docs,  # type: ignore[arg-type]  # checked in __post_init__
                    smtp=smtp_from_env(), clinic=clinic_from_env(demo=demo),
                    passkey_rp_id=os.environ.get("SPINECARE_PASSKEY_RP_ID") or None)
