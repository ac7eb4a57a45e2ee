"""FHIR use cases behind the API: a Bundle into a case, and an assessment as a FHIR Bundle.

Neither stores anything nor reads a patient's record (as ``POST /assess``), so neither writes an
audit event; both refuse bad input with :class:`~spinecare.service.errors.Invalid`, every
problem with its path.
"""

from __future__ import annotations

from typing import Any

import orjson

from spinecare.case import parse_case
from spinecare.errors import CaseError, Problem
from spinecare.fhir.incoming import FhirInputError, to_case
from spinecare.fhir.outgoing import to_bundle
from spinecare.plan.planner import make_plan
from spinecare.reasoning.engine import default_engine
from spinecare.service.errors import Invalid


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("Invalid JSON", [Problem("(document)", f"is not valid JSON: {exc}")]) \
            from None


def fhir_to_case(body: bytes, *, patient_id: str | None = None) -> dict[str, Any]:
    """A FHIR Bundle (or a JSON array of resources) -> ``{case, sources, problems, unverified}``.
    """
    try:
        result = to_case(_json(body), patient_id=patient_id)
    except FhirInputError as exc:
        raise Invalid("Invalid FHIR input", exc.problems) from None
    return {"case": result.case, "sources": result.sources,
            "problems": [{"resource": p.ref, "message": p.message} for p in result.problems],
            "unverified": result.unverified}


def assess_fhir(body: bytes) -> dict[str, Any]:
    """A case, or a FHIR Bundle of the record, -> the FHIR Bundle of its assessment and plan."""
    doc = _json(body)
    sources: dict[str, list[str]] = {}
    if isinstance(doc, dict) and "resourceType" in doc:
        try:
            read = to_case(doc)
        except FhirInputError as exc:
            raise Invalid("Invalid FHIR input", exc.problems) from None
        doc, sources = read.case, read.sources
    if not isinstance(doc, dict):
        raise Invalid("Invalid case", [Problem("(document)", "must be a case (a JSON object) "
                                                             "or a FHIR Bundle")])
    try:
        case = parse_case(doc)
    except CaseError as exc:
        raise Invalid("Invalid case", exc.problems) from None
    assessment = default_engine().assess(case)
    return to_bundle(case, assessment, make_plan(case, assessment), sources=sources)
