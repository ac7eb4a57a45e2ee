"""A patient's chart as the prefetch a CDS client sends for spinecare's templates, built from
the example cases (through the FHIR test bundles of tests/fhir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spinecare.case import parse_case
from tests.fhir.bundles import case_bundle, observation

CASES = Path(__file__).resolve().parent.parent / "data" / "cases"
PATIENT_ID = "p1"


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def prefetch_for(name: str, extra_observations: int = 0) -> dict[str, Any]:
    """The prefetch for the example case ``name`` (``tests/data/cases/NAME.case.json``), with
    ``extra_observations`` more (older) Observations of fields it already has."""
    case = parse_case((CASES / f"{name}.case.json").read_bytes())
    resources = [e["resource"] for e in case_bundle(case)["entry"]]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    observations = by_type.get("Observation", [])
    for n in range(extra_observations):
        observations.append(observation(f"old{n}", "symptoms.low_back_pain", True,
                                        when=f"2020-01-{1 + n % 28:02d}"))
    return {"patient": by_type["Patient"][0],
            "observations": searchset(observations),
            "conditions": searchset(by_type.get("Condition", [])),
            "questionnaireResponses": searchset(by_type.get("QuestionnaireResponse", []))}


def hook_request(hook: str, prefetch: dict[str, Any] | None, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID, **context}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def service_request(rid: str, system: str, code: str) -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"}}


def draft_orders(*requests: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in requests]}
