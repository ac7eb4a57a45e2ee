"""The installation's clinic and mail settings, from the environment.

- ``SPINECARE_CLINIC_NAME``, ``SPINECARE_CLINIC_PHONE``: the clinic patients call (no default
  outside the demo: a page then says "call your clinic" without a number).
- ``SPINECARE_EMERGENCY_NUMBER``: the local emergency number, default ``112`` (the European
  emergency number; it also reaches the emergency services in the UK and from most mobile
  phones elsewhere). Set ``999`` in the UK or ``911`` in North America. The demo uses ``999``
  and a fictitious clinic number from Ofcom's drama range (01632 960000).
- ``SPINECARE_SMTP_HOST`` (unset: no e-mail, alerts show in the pages only),
  ``SPINECARE_SMTP_PORT`` (587), ``SPINECARE_SMTP_FROM`` (required with a host),
  ``SPINECARE_SMTP_STARTTLS`` (``1``/``0``, default ``1``), ``SPINECARE_SMTP_USERNAME`` and
  ``SPINECARE_SMTP_PASSWORD`` (optional).

One installation serves one clinic, so "per clinic" settings are per installation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from spinecare.errors import SpinecareError
from spinecare.service.notifications import SmtpSettings

DEFAULT_EMERGENCY_NUMBER = "112"
DEMO_EMERGENCY_NUMBER = "999"
DEMO_CLINIC_PHONE = "01632 960000"
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{1,30}")


class ContactSettingsError(SpinecareError):
    """A clinic or mail setting the service refuses to start with (names the variable)."""


@dataclass(frozen=True)
class ClinicContacts:
    name: str = "your clinic"
    phone: str | None = None
    emergency_number: str = DEFAULT_EMERGENCY_NUMBER

    @staticmethod
    def tel(number: str) -> str:
        """A ``tel:`` link's target: digits and a leading plus only (RFC 3966)."""
        return "tel:" + ("+" if number.strip().startswith("+") else "") + \
            re.sub(r"[^0-9]", "", number)


def _phone(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not _PHONE.fullmatch(value):
        raise ContactSettingsError(f"{name} must be a phone number (digits, spaces, "
                                   f"brackets, dashes, a leading +), got {value!r}")
    return value


def clinic_from_env(env: Mapping[str, str] | None = None, *, demo: bool = False) -> ClinicContacts:
    env = os.environ if env is None else env
    emergency = _phone(env, "SPINECARE_EMERGENCY_NUMBER",
                       DEMO_EMERGENCY_NUMBER if demo else DEFAULT_EMERGENCY_NUMBER)
    assert emergency is not None
    return ClinicContacts(
        name=env.get("SPINECARE_CLINIC_NAME", "").strip()[:200]
        or ("the demo clinic" if demo else "your clinic"),
        phone=_phone(env, "SPINECARE_CLINIC_PHONE", DEMO_CLINIC_PHONE if demo else None),
        emergency_number=emergency)


def smtp_from_env(env: Mapping[str, str] | None = None) -> SmtpSettings | None:
    env = os.environ if env is None else env
    host = env.get("SPINECARE_SMTP_HOST", "").strip()
    if not host:
        return None
    sender = env.get("SPINECARE_SMTP_FROM", "").strip()
    if "@" not in sender:
        raise ContactSettingsError("SPINECARE_SMTP_FROM must be the sender's e-mail address "
                                   "when SPINECARE_SMTP_HOST is set")
    port_raw = env.get("SPINECARE_SMTP_PORT", "587").strip()
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise ContactSettingsError(f"SPINECARE_SMTP_PORT must be a port number, got "
                                   f"{port_raw!r}")
    starttls = env.get("SPINECARE_SMTP_STARTTLS", "1").strip().lower()
    if starttls not in ("1", "0", "true", "false", "yes", "no"):
        raise ContactSettingsError("SPINECARE_SMTP_STARTTLS must be 1 or 0")
    return SmtpSettings(host=host, from_address=sender, port=int(port_raw),
                        starttls=starttls in ("1", "true", "yes"),
                        username=env.get("SPINECARE_SMTP_USERNAME") or None,
                        password=env.get("SPINECARE_SMTP_PASSWORD") or None)
