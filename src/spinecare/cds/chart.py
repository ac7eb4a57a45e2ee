"""From the chart's FHIR resources to a case, through the FHIR import
(:func:`spinecare.fhir.incoming.to_case`): the case, which chart resources each field came
from, and what was not used (shown on the card, so the clinician knows what the advice rests
on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spinecare.fhir.incoming import FhirInputError, to_case

PROBLEMS_SHOWN = 5


class ChartUnavailable(Exception):
    """The chart cannot be read into a case."""


@dataclass(frozen=True)
class Chart:
    case: dict[str, Any]
    sources: dict[str, list[str]]
    problems: tuple[str, ...]


def chart_case(resources: Sequence[dict[str, Any]], patient_id: str) -> Chart:
    try:
        found = to_case(list(resources), patient_id=patient_id)
    except FhirInputError as exc:
        raise ChartUnavailable(str(exc)) from None
    problems = [str(p) for p in found.problems]
    if len(problems) > PROBLEMS_SHOWN:
        problems = [*problems[:PROBLEMS_SHOWN],
                    f"and {len(problems) - PROBLEMS_SHOWN} more not used"]
    return Chart(found.case, dict(found.sources), tuple(problems))
