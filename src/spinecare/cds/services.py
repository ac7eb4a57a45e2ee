"""The services spinecare offers (the discovery document, CDS Hooks 2.0 "Discovery"), the
hooks each answers and the FHIR data each asks the client to prefetch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The chart data the assessment reads: the patient (age, sex), and the observations,
# conditions and questionnaire responses the FHIR import maps to case fields. The searches use
# only what the specification recommends clients support (reference and token parameters,
# _sort and _count), so a client can satisfy them.
CHART_PREFETCH: Mapping[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=200",
    "conditions": "Condition?patient={{context.patientId}}&_count=200",
    "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}"
                              "&status=completed&_sort=-authored&_count=50",
}


@dataclass(frozen=True)
class Service:
    id: str
    hooks: tuple[str, ...]
    title: str
    description: str
    prefetch: Mapping[str, str]

    def discovery(self) -> list[dict[str, Any]]:
        """One discovery entry per hook (the specification lists a service once per hook,
        under the same id)."""
        return [{"hook": hook, "title": self.title, "description": self.description,
                 "id": self.id, "prefetch": dict(self.prefetch)} for hook in self.hooks]


TRIAGE = Service(
    id="spinecare-triage",
    hooks=("patient-view",),
    title="spinecare: spinal stenosis triage and red flags",
    description="When a chart opens: red flags for cauda equina syndrome, myelopathy, "
                "infection, malignancy and fracture as critical cards; an urgent triage as a "
                "warning; otherwise the triage and the leading spinal conditions as one info "
                "card. Decision support, not a diagnosis.",
    prefetch=CHART_PREFETCH)

IMAGING = Service(
    id="spinecare-imaging",
    hooks=("order-select", "order-sign"),
    title="spinecare: spine imaging appropriateness",
    description="Rates a draft lumbar or cervical spine radiograph, CT or MRI order against "
                "the ACR Appropriateness Criteria (low back pain 2021, cervical neck pain or "
                "radiculopathy 2018, myelopathy 2021) and NICE NG59 / Choosing Wisely: early "
                "imaging without red flags gets a warning with a suggestion to remove the "
                "draft; red flags or a myelopathy picture confirm the order fits.",
    prefetch=CHART_PREFETCH)

SERVICES: Mapping[str, Service] = {s.id: s for s in (TRIAGE, IMAGING)}


def discovery() -> dict[str, Any]:
    return {"services": [entry for s in SERVICES.values() for entry in s.discovery()]}
