"""From the chart's FHIR resources to a case: the FHIR import's ``to_case`` (branch ``fhir``),
wrapped so the services see one shape: the case, and the problems to show on the card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ChartUnavailable(Exception):
    """The chart cannot be read into a case here."""


@dataclass(frozen=True)
class Chart:
    case: dict[str, Any]
    problems: tuple[str, ...]


def chart_case(resources: Sequence[dict[str, Any]]) -> Chart:
    raise ChartUnavailable("the FHIR import is not available in this build")
