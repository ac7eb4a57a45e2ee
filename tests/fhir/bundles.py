"""Test bundles: a whole case as the FHIR an EHR would hold, written with spinecare's own
Questionnaires (intake and instruments) and its own finding codes for the examination."""

from __future__ import annotations

from datetime import date
from typing import Any

from spinecare.case import Case
from spinecare.fhir.settings import finding_system, finding_value_system
from spinecare.instruments.cases import responses_from_case
from spinecare.instruments.fhir import CANONICAL_BASE, UCUM, questionnaire_response

ON = date(2026, 12, 2)
PATIENT = "Patient/p1"

_UNITS = {"exam.ankle_brachial_index": "1", "exam.post_void_residual_ml": "mL",
          "exam.systolic_bp_mmhg": "mm[Hg]", "history.known_aaa_diameter_cm": "cm",
          "history.duration_weeks": "wk", "symptoms.walking_tolerance_minutes": "min"}


def patient(age: int | None, sex: str | None = None, pid: str = "p1") -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if sex:
        out["gender"] = sex
    if age is not None:
        out["birthDate"] = f"{ON.year - age - 1}-12-31"
    return out


def observation(rid: str, field: str, value: Any, *, when: str | None = "2026-11-20",
                base: str = CANONICAL_BASE, status: str = "final",
                subject: str = PATIENT) -> dict[str, Any]:
    """An Observation of one case field in spinecare's own code system."""
    out: dict[str, Any] = {
        "resourceType": "Observation", "id": rid, "status": status,
        "code": {"coding": [{"system": finding_system(base), "code": field}]},
        "subject": {"reference": subject}}
    if when:
        out["effectiveDateTime"] = when
    if type(value) is bool:
        out["valueBoolean"] = value
    elif isinstance(value, str):
        out["valueCodeableConcept"] = {"coding": [{"system": finding_value_system(base),
                                                    "code": value}]}
    elif field in _UNITS:
        out["valueQuantity"] = {"value": value, "system": UCUM, "code": _UNITS[field],
                                "unit": _UNITS[field]}
    else:
        out["valueInteger"] = value
    return out


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{n:012d}", "resource": r}
                      for n, r in enumerate(resources)]}


def case_bundle(case: Case, *, authored: str = "2026-11-20") -> dict[str, Any]:
    """``case`` as FHIR: the Patient, one QuestionnaireResponse per questionnaire, and an
    Observation for each finding the intake does not ask (the examination)."""
    responses, _hidden = responses_from_case(case)
    resources: list[dict[str, Any]] = [patient(case.patient.age, case.patient.sex)]
    asked: set[str] = set()
    for n, r in enumerate(responses):
        qr = questionnaire_response(r.questionnaire, r.answers, authored=authored)
        qr["id"] = f"qr{n}"
        qr["subject"] = {"reference": PATIENT}
        resources.append(qr)
        if r.questionnaire == "intake":
            asked |= {f"{s}.{k}" for s in ("history", "symptoms") for k in r.answers}
    doc = case.model_dump(mode="json", by_alias=True, exclude_none=True)
    n = 0
    for section in ("history", "symptoms", "exam"):
        for name, value in doc.get(section, {}).items():
            path = f"{section}.{name}"
            if path in asked or isinstance(value, list | dict):
                continue
            resources.append(observation(f"o{n}", path, value))
            n += 1
    return bundle(*resources)
