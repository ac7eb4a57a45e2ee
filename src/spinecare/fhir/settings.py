"""Where spinecare's canonical FHIR resources live, as a deployment names it.

``SPINECARE_FHIR_BASE`` (default :data:`spinecare.instruments.fhir.CANONICAL_BASE`, a reserved
``.example`` name) is the base of spinecare's Questionnaires and CodeSystems: a clinic that
publishes its own copies, or an EHR that has registered them under another URL, sets it once and
both FHIR in and FHIR out use it.
"""

from __future__ import annotations

import os
import re

from spinecare.errors import SpinecareError
from spinecare.instruments.fhir import CANONICAL_BASE

ENVIRONMENT = "SPINECARE_FHIR_BASE"


class FhirSettingError(SpinecareError, ValueError):
    """A FHIR setting that cannot be used; the message names it."""


def check_base(base: str, name: str = "base") -> str:
    """``base`` without a trailing slash, or :class:`FhirSettingError` naming ``name``."""
    if not re.fullmatch(r"https?://[^\s?#]+", base):
        raise FhirSettingError(f"{name} must be an http:// or https:// URL with no query or "
                               f"fragment (got {base!r})")
    return base.rstrip("/")


def canonical_base() -> str:
    """The canonical base in force: the setting, else spinecare's default."""
    given = os.environ.get(ENVIRONMENT)
    return check_base(given, ENVIRONMENT) if given else CANONICAL_BASE


def finding_system(base: str) -> str:
    """spinecare's own CodeSystem of findings: each code is a case field's path."""
    return f"{base}/CodeSystem/finding"


def finding_value_system(base: str) -> str:
    """The values of spinecare's coded findings (``spastic`` for ``exam.gait``)."""
    return f"{base}/CodeSystem/finding-value"
