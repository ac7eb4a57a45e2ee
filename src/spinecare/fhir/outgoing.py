"""FHIR out: an assessment (and its plan) as a FHIR R4 Bundle of type ``collection``.

- a **RiskAssessment**: one prediction per condition of the differential, with
  ``probabilityDecimal`` (the model's estimate) and ``qualitativeRisk`` from its likelihood band
  (risk-probability codes ``high``, ``moderate``, ``low``); the triage level in ``mitigation``;
  ``basis`` points at the resources the case was read from;
- a **DetectedIssue** per red flag, ``severity`` high for an emergency, moderate for urgent, with
  the findings as evidence;
- an **Observation** per score, coded with the instrument's LOINC score code where one exists
  (ODI 97909-6) and spinecare's CodeSystem otherwise; ``derivedFrom`` the QuestionnaireResponse;
- a **CarePlan** (intent ``proposal``: decision support, not an order) for the plan: referrals,
  investigations, first-line treatments and reviews as activities, the safety net as a note;
- a **Device** (the engine) and a **Provenance** naming the engine and knowledge versions, whose
  targets are every resource above and whose sources are the inputs.

Every resource is validated with the fhir.resources R4B models before the bundle is returned
(a failure is a bug and raises :class:`FhirOutputError`). The JSON uses only R4 elements.
Resource ids are derived from the case and the assessment, so the same input gives the same
bundle.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from spinecare.case import Case
from spinecare.errors import SpinecareError
from spinecare.fhir.settings import canonical_base
from spinecare.instruments.fhir import UCUM, fhir_path, verification_extension
from spinecare.instruments.registry import instruments
from spinecare.report import LEVEL_WORDS

__all__ = ["RISK_PROBABILITY", "FhirOutputError", "check_resource", "to_bundle"]

RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROVENANCE_ACTIVITY = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
#: DetectedIssue.severity by the triage level a red flag carries.
SEVERITY = {"emergency": "high", "urgent": "moderate"}
#: Likelihood bands are the risk-probability codes of the same names.
RISK = {"high": "High likelihood", "moderate": "Moderate likelihood", "low": "Low likelihood"}


class FhirOutputError(SpinecareError):
    """A resource spinecare built does not validate: a bug, named with the resource and path."""


def check_resource(resource: Mapping[str, Any]) -> list[str]:
    """Every way ``resource`` fails the fhir.resources R4B model of its type (empty if none)."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(str(resource["resourceType"])).model_validate(resource)
    except ValidationError as exc:
        return [f"{fhir_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
    return []


def _system(base: str, name: str) -> str:
    return f"{base}/CodeSystem/{name}"


def _concept(system: str, code: str, display: str | None = None,
             text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


class _Builder:
    def __init__(self, seed: str, base: str) -> None:
        self.seed = seed
        self.base = base
        self.entries: list[dict[str, Any]] = []

    def url(self, name: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}/{name}"))

    def add(self, name: str, resource: dict[str, Any]) -> str:
        url = self.url(name)
        resource = {"resourceType": resource["resourceType"], "id": url.rsplit(":", 1)[1],
                    **{k: v for k, v in resource.items() if k != "resourceType"}}
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def _refs(sources: Mapping[str, Sequence[str]], fields: Sequence[str] | None = None
          ) -> list[dict[str, str]]:
    """References to the input resources (all of them, or those behind ``fields``)."""
    seen: dict[str, None] = {}
    for name, refs in sorted(sources.items()):
        if fields is None or any(name == f or name.startswith(f + ".") for f in fields):
            for r in refs:
                seen.setdefault(r, None)
    return [{"reference": r} for r in seen]


def to_bundle(case: Case, assessment: Mapping[str, Any], plan: Mapping[str, Any] | None = None,
              *, sources: Mapping[str, Sequence[str]] | None = None,
              patient: str | None = None, base: str | None = None,
              when: datetime | None = None) -> dict[str, Any]:
    """The assessment of ``case`` (and its ``plan``) as a FHIR R4 ``collection`` Bundle.

    ``sources``: the resources each case field was read from (from
    :func:`spinecare.fhir.incoming.to_case`), for ``basis``, ``derivedFrom`` and the Provenance.
    ``patient``: the reference of the patient (``Patient/123``); by default the Patient that
    ``sources`` names, else a Patient resource made from the case is included. ``when``: the
    time of the assessment (default now, UTC).
    """
    base = base or canonical_base()
    sources = dict(sources or {})
    moment = (when or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    digest = hashlib.sha256(orjson.dumps(
        [case.model_dump(mode="json", by_alias=True), assessment.get("versions"), moment,
         sorted(sources.items())], option=orjson.OPT_SORT_KEYS)).hexdigest()
    b = _Builder(digest, base)

    subject = patient or next((r for f in ("patient.age", "patient.sex")
                               for r in sources.get(f, ())), None)
    if subject is None:
        person: dict[str, Any] = {"resourceType": "Patient"}
        if case.patient.sex is not None:
            person["gender"] = case.patient.sex
        subject = b.add("patient", person)
    who = {"reference": subject}
    inputs = _refs(sources)

    assessment_url = b.add("risk", _risk_assessment(assessment, who, moment, inputs, base))
    for flag in assessment.get("red_flags", []):
        b.add(f"flag/{flag['code']}", _detected_issue(flag, who, moment, base,
                                                      assessment.get("citations") or {}))
    registry = instruments()
    for name, score in sorted((assessment.get("scores") or {}).items()):
        obs = _score_observation(name, score, registry, who, moment, sources, base)
        if obs is not None:
            b.add(f"score/{name}", obs)
    if plan is not None:
        b.add("plan", _care_plan(plan, who, moment, assessment_url, base))
    versions = {**(plan or {}).get("versions", {}), **(assessment.get("versions") or {})}
    device = b.add("engine", _device(versions, base))
    targets = [{"reference": e["fullUrl"]} for e in b.entries
               if e["resource"]["resourceType"] not in ("Device", "Patient")]
    b.add("provenance", _provenance(targets, device, moment, inputs, versions))

    problems = [f"{e['resource']['resourceType']} {e['fullUrl']}: {p}"
                for e in b.entries for p in check_resource(e["resource"])]
    if problems:
        raise FhirOutputError("; ".join(problems))
    return {"resourceType": "Bundle", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, digest)),
            "type": "collection", "timestamp": moment, "entry": b.entries}


# --- the resources -------------------------------------------------------------------------------


def _risk_assessment(assessment: Mapping[str, Any], who: dict[str, str], moment: str,
                     inputs: list[dict[str, str]], base: str) -> dict[str, Any]:
    triage = assessment.get("triage") or {}
    level = str(triage.get("level", ""))
    predictions = []
    for c in assessment.get("conditions", []):
        p: dict[str, Any] = {"outcome": _concept(_system(base, "condition"), c["code"],
                                                 c.get("label") or _label(c["code"]))}
        if isinstance(c.get("probability"), int | float):
            p["probabilityDecimal"] = c["probability"]
        if c.get("likelihood") in RISK:
            p["qualitativeRisk"] = _concept(RISK_PROBABILITY, c["likelihood"],
                                            c["likelihood"].capitalize())
        why = []
        if c.get("evidence"):
            why.append("for: " + "; ".join(c["evidence"]))
        if c.get("against"):
            why.append("against: " + "; ".join(c["against"]))
        if why:
            p["rationale"] = ". ".join(why)
        predictions.append(p)
    out: dict[str, Any] = {
        "resourceType": "RiskAssessment", "status": "final",
        "method": _concept(_system(base, "method"), "spinecare-assessment",
                           "spinecare assessment engine"),
        "code": _concept(_system(base, "assessment"), "spinal-triage-and-differential",
                         "Spinal triage and differential"),
        "subject": who, "occurrenceDateTime": moment}
    if inputs:
        out["basis"] = inputs
    if predictions:
        out["prediction"] = predictions
    if level:
        reasons = " ".join(triage.get("reasons", []))
        out["mitigation"] = f"{LEVEL_WORDS.get(level, level)}. {reasons}".strip()
    out["note"] = [{"text": "Decision support for clinicians, not a diagnosis. Estimates are "
                            "the model's, from the findings recorded; unknown findings were "
                            "not counted for or against."}]
    return out


def _detected_issue(flag: Mapping[str, Any], who: dict[str, str], moment: str,
                    base: str, citations: Mapping[str, str]) -> dict[str, Any]:
    level = str(flag.get("triage", ""))
    cited = "; ".join(citations.get(c, c) for c in flag.get("citations", []))
    out: dict[str, Any] = {
        "resourceType": "DetectedIssue", "status": "final",
        "code": _concept(_system(base, "red-flag"), flag["code"], _label(flag["code"])),
        "severity": SEVERITY.get(level, "low"),
        "patient": who, "identifiedDateTime": moment,
        "detail": f"Red flag: {_label(flag['code']).lower()} ({level}). "
                  f"{LEVEL_WORDS.get(level, '')}. Rules: {', '.join(flag.get('rules', []))}."
                  + (f" Sources: {cited}." if cited else "")}
    if flag.get("evidence"):
        out["evidence"] = [{"code": [{"text": e} for e in flag["evidence"]]}]
    return out


def _score_observation(name: str, score: Mapping[str, Any], registry: Mapping[str, Any],
                       who: dict[str, str], moment: str,
                       sources: Mapping[str, Sequence[str]], base: str) -> dict[str, Any] | None:
    inst = registry.get(name)
    display = inst.name if inst is not None else _label(name)
    code: dict[str, Any] = _concept(_system(base, "score"), name, display)
    if inst is not None and inst.score_code is not None:
        loinc: dict[str, Any] = {"system": inst.score_code.system, "code": inst.score_code.code,
                                 "display": inst.score_code.display}
        if inst.score_code.verification == "U":
            loinc["extension"] = [{"url": verification_extension(base),
                                   "valueCode": "unverified"}]
        code["coding"].insert(0, loinc)
    percent = inst is not None and inst.scoring.kind == "percent_of_answered"
    out: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "category": [_concept(OBSERVATION_CATEGORY, "survey", "Survey")],
        "code": code, "subject": who, "effectiveDateTime": moment}
    derived = _refs(sources, [f"instruments.{name}"])
    if derived:
        out["derivedFrom"] = derived
    if "value" in score:
        value = score["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            out["dataAbsentReason"] = _concept(
                "http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed",
                "Not Performed", score.get("reason"))
            return out
        out["valueQuantity"] = {"value": value, "unit": "%" if percent else "{score}",
                                "system": UCUM, "code": "%" if percent else "{score}"}
        band = score.get("band")
        if isinstance(band, str):
            out["interpretation"] = [_concept(_system(base, f"score-band-{name}"), band,
                                              score.get("band_label") or band)]
        if score.get("meaning"):
            out["note"] = [{"text": str(score["meaning"])}]
        return out
    components = []
    for part, value in score.items():
        if isinstance(value, Mapping):
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        components.append({"code": _concept(_system(base, "score"), f"{name}.{part}",
                                            f"{display}: {part.replace('_', ' ')}"),
                           "valueQuantity": {"value": value, "unit": "{score}", "system": UCUM,
                                             "code": "{score}"}})
    if not components:
        return None
    out["component"] = components
    return out


def _activity(kind: str, code: str, text: str, description: str,
              base: str) -> dict[str, Any]:
    return {"detail": {"kind": kind,
                       "code": _concept(_system(base, "plan-rule"), code, None, text),
                       "status": "not-started", "description": description}}


def _care_plan(plan: Mapping[str, Any], who: dict[str, str], moment: str, risk: str,
               base: str) -> dict[str, Any]:
    activities = []
    for r in plan.get("referral", []):
        activities.append(_activity("ServiceRequest", r["rule"], r["to"],
                                    r.get("clinician_text") or r.get("patient_text") or r["to"],
                                    base))
    for i in plan.get("investigations", []):
        activities.append(_activity("ServiceRequest", i["rule"], i["test"],
                                    f"{i.get('status', '')}: {i.get('reason', '')}".strip(": "),
                                    base))
    for line in plan.get("first_line", []):
        for t in line.get("treatments", []):
            activities.append(_activity(
                "ServiceRequest", line["rule"], t["name"],
                f"{t.get('summary', '')} Evidence: {t.get('evidence_grade', 'unknown')}; "
                f"recommendation: {t.get('recommendation', 'unknown')}.".strip(), base))
    for r in plan.get("review", []):
        weeks = ", ".join(str(w) for w in r.get("weeks", []))
        activities.append(_activity("Task", r["rule"], f"Review {r.get('instrument') or ''}"
                                    .strip(), f"{r.get('clinician_text', '')} Weeks: {weeks}."
                                    .strip(), base))
    level = plan.get("level") or {}
    notes = [{"text": str(s.get("action", "")) + (": " + "; ".join(s.get("symptoms", []))
                                                  if s.get("symptoms") else "")}
             for s in plan.get("safety_net", [])]
    notes.append({"text": "Decision support: a proposal for a clinician to review, not an "
                          "order. Anyone with new numbness between the legs, new trouble "
                          "passing or holding urine or stools, or weakness that is getting "
                          "worse should go to an emergency department now."})
    out: dict[str, Any] = {
        "resourceType": "CarePlan", "status": "active", "intent": "proposal",
        "title": "spinecare care plan", "subject": who, "created": moment,
        "supportingInfo": [{"reference": risk}], "note": notes}
    if level.get("label"):
        out["description"] = str(level["label"])
    if activities:
        out["activity"] = activities
    return out


def _device(versions: Mapping[str, Any], base: str) -> dict[str, Any]:
    return {"resourceType": "Device", "status": "active",
            "deviceName": [{"name": "spinecare", "type": "manufacturer-name"}],
            "type": _concept(_system(base, "device"), "decision-support-engine",
                             "Clinical decision support engine"),
            "version": [{"type": {"text": k}, "value": str(v)}
                        for k, v in sorted(versions.items())]}


def _provenance(targets: list[dict[str, str]], device: str, moment: str,
                inputs: list[dict[str, str]], versions: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Provenance", "target": targets, "recorded": moment,
        "activity": _concept(PROVENANCE_ACTIVITY, "CREATE", "create"),
        "agent": [{"type": _concept(PROVENANCE_AGENT, "assembler", "Assembler"),
                   "who": {"reference": device,
                           "display": "spinecare " + ", ".join(
                               f"{k} {v}" for k, v in sorted(versions.items()))}}]}
    if inputs:
        out["entity"] = [{"role": "source", "what": ref} for ref in inputs]
    return out
