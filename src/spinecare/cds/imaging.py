"""Imaging appropriateness for a draft spine-imaging order: the rules in
``knowledge/imaging.toml`` (order codes, ACR variants and their ratings, routes from the
assessment to a variant), loaded strictly, and :func:`rate`, which applies them.

Sources: ACR Appropriateness Criteria Low Back Pain 2021 (Hutchins TA et al., J Am Coll Radiol
2021;18(11S):S361-79), Myelopathy 2021 (J Am Coll Radiol 2021;18(5S):S73-82), Cervical Neck Pain
or Cervical Radiculopathy 2018 (J Am Coll Radiol 2019;16(5S):S57-76); NICE NG59 1.1.4; Choosing
Wisely (NASS). Each variant names its citations in the knowledge file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from spinecare.kb.citations import packaged_citations, unresolved_citations
from spinecare.kb.model import StrictModel, Text, freeze
from spinecare.kb.problems import Problems
from spinecare.kb.toml import knowledge_dir, read_toml
from spinecare.vocabulary import RED_FLAG_CODES, Verification

FILE = "imaging.toml"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"

Region = Literal["lumbar", "cervical"]
Modality = Literal["xr", "ct", "mri"]
Contrast = Literal["none", "without", "with", "with_without", "unspecified"]
Rating = Literal["UA", "MBA", "UNA"]
Indicator = Literal["info", "warning", "critical"]
Study = Literal["xr", "ct_without", "ct_with", "ct_with_without", "mri_without", "mri_with",
                "mri_with_without"]

RATING_WORDS: Mapping[Rating, str] = {"UA": "usually appropriate",
                                      "MBA": "may be appropriate",
                                      "UNA": "usually not appropriate"}


class Order(StrictModel):
    label: Text
    region: Region
    modality: Modality
    contrast: Contrast
    cpt: tuple[str, ...]
    loinc: tuple[str, ...]
    snomed: tuple[str, ...]

    @property
    def study(self) -> Study:
        """The study as the ACR tables rate it; an unspecified contrast is rated as without
        (imaging.md 5.2: no contrast-mismatch advice on an unspecified order)."""
        if self.modality == "xr":
            return "xr"
        contrast = "without" if self.contrast in ("unspecified", "none") else self.contrast
        study: Study = f"{self.modality}_{contrast}"  # type: ignore[assignment]
        return study


class Variant(StrictModel):
    topic: Text
    number: int = Field(ge=1, le=20)
    label: Text
    tag: Verification
    una: Indicator
    suggest_delete: bool
    citations: tuple[str, ...] = Field(min_length=1)
    ratings: Mapping[Study, Rating]

    @property
    def name(self) -> str:
        return f"{self.topic}, variant {self.number}"


class Route(StrictModel):
    region: Literal["lumbar", "cervical", "any"]
    variant: str
    red_flags: tuple[str, ...] = ()
    no_red_flags: bool = False
    weeks: Literal["acute", "not_acute"] | None = None
    arm_pain: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Route:
        if bool(self.red_flags) == self.no_red_flags:
            raise ValueError("give either red_flags or no_red_flags = true")
        unknown = sorted(set(self.red_flags) - set(RED_FLAG_CODES))
        if unknown:
            raise ValueError(f"unknown red flag codes {unknown}")
        return self


class OverrideReason(StrictModel):
    code: Text
    display: Text


class ImagingKnowledge(StrictModel):
    version: Text
    acute_weeks: float = Field(gt=0, le=52)
    acute_weeks_citations: tuple[str, ...] = Field(min_length=1)
    override_system: Text
    override_reason: tuple[OverrideReason, ...] = Field(min_length=1)
    order: Mapping[str, Order]
    variant: Mapping[str, Variant]
    route: tuple[Route, ...]

    @model_validator(mode="after")
    def _links(self) -> ImagingKnowledge:
        missing = sorted({r.variant for r in self.route} - set(self.variant))
        if missing:
            raise ValueError(f"routes name unknown variants {missing}")
        seen: dict[tuple[str, str], str] = {}
        for oid, order in self.order.items():
            for system, codes in ((CPT, order.cpt), (LOINC, order.loinc),
                                  (SNOMED, order.snomed)):
                for code in codes:
                    if (system, code) in seen:
                        raise ValueError(f"code {code} is in both {seen[system, code]} "
                                         f"and {oid}")
                    seen[system, code] = oid
                    if system == LOINC and not loinc_check_digit_ok(code):
                        raise ValueError(f"{oid}: LOINC {code} fails its check digit")
        return self

    @functools.cached_property
    def by_code(self) -> Mapping[tuple[str, str], str]:
        return {(system, code): oid for oid, order in self.order.items()
                for system, codes in ((CPT, order.cpt), (LOINC, order.loinc),
                                      (SNOMED, order.snomed)) for code in codes}


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (imaging.md 5.3: it catches typos, not wrong meanings)."""
    body, _, check = code.partition("-")
    if not body.isdigit() or not check.isdigit() or len(check) != 1:
        return False
    digits = [int(d) for d in reversed(body)]
    total = 0
    for i, d in enumerate(digits):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(check)


def parse_imaging(data: Mapping[str, Any], file: str = FILE) -> ImagingKnowledge:
    problems = Problems()
    found = problems.validate(ImagingKnowledge, freeze(dict(data)), file)
    if found is not None:
        cited = {f"variant.{vid}.citations": v.citations for vid, v in found.variant.items()}
        cited["acute_weeks_citations"] = found.acute_weeks_citations
        for item, ids in unresolved_citations(cited, set(packaged_citations())).items():
            problems.add(file, item, f"unknown citations {list(ids)}")
    problems.raise_if_any()
    assert found is not None
    return found


@functools.lru_cache(maxsize=1)
def imaging_knowledge() -> ImagingKnowledge:
    return parse_imaging(read_toml(knowledge_dir() / FILE, FILE))


# --- applying the rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rated:
    """The verdict on one draft order: which variant, its rating, and the card it calls for."""

    order_id: str
    order: Order
    variant_id: str
    variant: Variant
    rating: Rating
    indicator: Indicator
    suggest_delete: bool
    facts: tuple[str, ...]


def order_of(codings: Any) -> str | None:
    """The order id a ServiceRequest.code's codings name (CPT, LOINC or SNOMED CT); ``None``
    for anything else. Free text is never matched (imaging.md 5.3)."""
    if not isinstance(codings, list):
        return None
    index = imaging_knowledge().by_code
    for coding in codings:
        if isinstance(coding, dict):
            found = index.get((str(coding.get("system", "")), str(coding.get("code", ""))))
            if found is not None:
                return found
    return None


def _route(knowledge: ImagingKnowledge, region: str, flags: set[str], weeks: float | None,
           arm_pain: bool | None) -> tuple[str, list[str]] | None:
    for route in knowledge.route:
        if route.region not in ("any", region):
            continue
        if route.red_flags:
            hit = sorted(flags & set(route.red_flags))
            if hit:
                return route.variant, [f"red flag: {f.replace('_', ' ')}" for f in hit]
            continue
        if flags:
            continue
        facts = ["no red flag raised"]
        if route.weeks is not None:
            if weeks is None:
                continue  # an unknown duration is not "acute": no advice rather than a guess
            acute = weeks < knowledge.acute_weeks
            if acute != (route.weeks == "acute"):
                continue
            facts.append(f"symptoms for {weeks:g} week{'' if weeks == 1 else 's'}")
        if route.arm_pain is not None:
            if arm_pain is None or arm_pain != route.arm_pain:
                continue
            facts.append("arm pain" if arm_pain else "no arm pain")
        return route.variant, facts
    return None


def rate(order_id: str, assessment: Mapping[str, Any], case: Mapping[str, Any]) -> Rated | None:
    """The verdict on an order for a patient with this assessment and case, or ``None`` when
    no variant applies or the variant does not rate the study (no card: never a guess)."""
    knowledge = imaging_knowledge()
    order = knowledge.order[order_id]
    flags = {str(f["code"]) for f in assessment.get("red_flags", [])}
    history = case.get("history") or {}
    symptoms = case.get("symptoms") or {}
    weeks = history.get("duration_weeks")
    arm = symptoms.get("arm_pain")
    arm_pain = None if arm is None else arm != "none"
    found = _route(knowledge, order.region, flags, weeks, arm_pain)
    if found is None:
        return None
    variant_id, facts = found
    variant = knowledge.variant[variant_id]
    rating = variant.ratings.get(order.study)
    if rating is None:
        return None
    if rating == "UNA":
        # A partly verified rating never interrupts more than an info card, except the
        # wrong-modality alert that sends the patient on to the emergency MRI.
        indicator: Indicator = variant.una if (variant.tag == "V" or variant.una == "critical") \
            else "info"
    else:
        indicator = "info"
    return Rated(order_id, order, variant_id, variant, rating, indicator,
                 rating == "UNA" and variant.suggest_delete and indicator == "warning",
                 tuple(facts))
