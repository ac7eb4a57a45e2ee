"""Every closed code list of spinecare, written once.

The models, the loaders and the knowledge files take their codes from here; the JSON Schemas in
``spinecare/schemas`` are a published contract and are checked against these lists by
``tests/test_vocabulary.py`` rather than generated, so the contract cannot drift silently.

Each list is a ``Literal`` type (for the models and mypy) with a tuple of its values in the same
order (for code that iterates or ranks). The order is meaningful where a rank is derived from it:
triage levels and urgencies run from most to least urgent.

This module imports nothing from spinecare: it is the bottom layer every other one may use.
Codes that belong to a single model and are copied nowhere (the case's ``history.onset``, an
instrument file's scoring ``kind``) stay beside that model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

__all__ = [
    "AVOID_BASES",
    "BASES",
    "CONDITION_CODES",
    "DEFAULT_LANGUAGE",
    "ENABLE_BEHAVIORS",
    "EVIDENCE_GRADES",
    "EXERCISE_CATEGORIES",
    "EXPERT_JUDGEMENT",
    "GUIDELINE_STANCES",
    "INSTRUMENT_IDS",
    "INVESTIGATION_STATUSES",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LBP_SOURCES",
    "LEVEL_RANK",
    "LIKELIHOODS",
    "MJOA_BANDS",
    "PAIN_SITES",
    "PLAN_LIKELIHOODS",
    "PROGRAMME_STATUSES",
    "PUBLICATION_STATUSES",
    "RECOMMENDATIONS",
    "RED_FLAG_CODES",
    "REVIEW_INSTRUMENTS",
    "TOLERANCES",
    "TREATMENT_CHOICES",
    "TREATMENT_RESPONSES",
    "TRIAGE_LEVELS",
    "URGENCIES",
    "VERIFICATIONS",
    "AvoidBasis",
    "Basis",
    "ConditionCode",
    "EnableBehavior",
    "EvidenceGrade",
    "ExerciseCategory",
    "GuidelineStance",
    "InstrumentId",
    "InvestigationStatus",
    "Language",
    "LbpSource",
    "Likelihood",
    "MjoaBand",
    "PainSite",
    "PlanLikelihood",
    "ProgrammeStatus",
    "PublicationStatus",
    "Recommendation",
    "RedFlagCode",
    "ReviewInstrument",
    "Tolerance",
    "TreatmentChoice",
    "TreatmentResponse",
    "TriageLevel",
    "Urgency",
    "Verification",
]

# --- the assessment --------------------------------------------------------------------------

#: Triage levels, most urgent first (``assessment.schema.json`` ``triage.level``).
TriageLevel = Literal["emergency", "urgent", "routine", "self_care"]
TRIAGE_LEVELS: tuple[str, ...] = get_args(TriageLevel)

#: Rank of each triage level, higher is more urgent; kept least urgent first, as the engine has
#: always iterated it.
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(reversed(TRIAGE_LEVELS))}

#: Red-flag codes an assessment may raise.
RedFlagCode = Literal[
    "cauda_equina_syndrome",
    "spinal_infection",
    "malignancy",
    "fracture",
    "progressive_neurological_deficit",
    "myelopathy",
]
RED_FLAG_CODES: tuple[str, ...] = get_args(RedFlagCode)

#: Conditions of the differential, in the order the assessment schema lists them.
ConditionCode = Literal[
    "lumbar_spinal_stenosis",
    "degenerative_cervical_myelopathy",
    "cervical_radiculopathy",
    "lumbar_radiculopathy",
    "cauda_equina_syndrome",
    "vascular_claudication",
    "hip_osteoarthritis",
    "peripheral_neuropathy",
    "spinal_infection",
    "spinal_malignancy",
    "vertebral_fracture",
    "nonspecific_low_back_pain",
    "nonspecific_neck_pain",
]
CONDITION_CODES: tuple[str, ...] = get_args(ConditionCode)

#: Where low back pain most likely comes from.
LbpSource = Literal["none", "lumbar", "cervical_myelopathy", "mixed", "undetermined"]
LBP_SOURCES: tuple[str, ...] = get_args(LbpSource)

#: Likelihood bands of a condition, most likely first.
Likelihood = Literal["high", "moderate", "low"]
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)

#: The bands a plan is based on: a plan only builds on conditions at least moderately likely.
PlanLikelihood = Literal["high", "moderate"]
PLAN_LIKELIHOODS: tuple[str, ...] = get_args(PlanLikelihood)

# --- how well a value is supported -----------------------------------------------------------

#: How well a weight, threshold or rule is supported: by checked sources (V or P), by a source
#: not checked (U), or by expert judgement alone.
Basis = Literal["published", "unverified", "expert_judgement"]
BASES: tuple[str, ...] = get_args(Basis)

#: Verification tag of a source or a fact, as in the clinical reference: V verified, P partly
#: verified, U not checked.
Verification = Literal["V", "P", "U"]
VERIFICATIONS: tuple[str, ...] = get_args(Verification)

#: Reserved citation id: no published source exists, and the output says so plainly.
EXPERT_JUDGEMENT = "expert_judgement"

# --- treatments, plans and exercise programmes -----------------------------------------------

#: GRADE-style certainty that a treatment helps. ``evidence_against``: good evidence that it
#: does not help, or a guideline says do not offer it.
EvidenceGrade = Literal["high", "moderate", "low", "very_low", "insufficient", "evidence_against"]
EVIDENCE_GRADES: tuple[str, ...] = get_args(EvidenceGrade)

Recommendation = Literal[
    "recommended",
    "consider",
    "only_within_package",
    "not_recommended",
    "do_not_offer",
    "not_approved",
]
RECOMMENDATIONS: tuple[str, ...] = get_args(Recommendation)

#: How soon: the referral, escalation and safety-net vocabulary, most urgent first.
Urgency = Literal[
    "immediately",
    "same_day",
    "within_48_hours",
    "within_2_weeks",
    "routine",
    "if_not_improving",
]
URGENCIES: tuple[str, ...] = get_args(Urgency)

#: How a treatment tried before went (``history.prior_treatments[].response``).
TreatmentResponse = Literal["resolved", "improved", "no_change", "worse", "not_tolerated"]
TREATMENT_RESPONSES: tuple[str, ...] = get_args(TreatmentResponse)

#: What one guideline says of a treatment where guidelines differ.
GuidelineStance = Literal["for", "conditional", "against"]
GUIDELINE_STANCES: tuple[str, ...] = get_args(GuidelineStance)

InvestigationStatus = Literal["do_now", "only_if", "not_needed"]
INVESTIGATION_STATUSES: tuple[str, ...] = get_args(InvestigationStatus)

#: How a plan offers the treatments of one first-line item: all of them, or one to choose.
TreatmentChoice = Literal["all", "one_of"]
TREATMENT_CHOICES: tuple[str, ...] = get_args(TreatmentChoice)

#: Why a plan says to avoid something: advised against for the condition, ruled out by a
#: contraindication, or general advice.
AvoidBasis = Literal["recommendation", "contraindication", "advice"]
AVOID_BASES: tuple[str, ...] = get_args(AvoidBasis)

ExerciseCategory = Literal[
    "flexion_bias",
    "walking",
    "cycling",
    "neck",
    "balance",
    "general_mobility",
    "strengthening",
]
EXERCISE_CATEGORIES: tuple[str, ...] = get_args(ExerciseCategory)

#: Where a pain score is taken.
PainSite = Literal["back", "leg", "neck", "arm"]
PAIN_SITES: tuple[str, ...] = get_args(PainSite)

#: How an exercise session went, from the patient's log.
Tolerance = Literal["easy", "manageable", "hard", "could_not_finish"]
TOLERANCES: tuple[str, ...] = get_args(Tolerance)

#: The state of a home exercise programme in a plan.
ProgrammeStatus = Literal["active", "supervised_only", "withheld", "stopped"]
PROGRAMME_STATUSES: tuple[str, ...] = get_args(ProgrammeStatus)

# --- instruments -----------------------------------------------------------------------------

#: Every registered instrument, one file each in ``knowledge/instruments``.
InstrumentId = Literal[
    "odi",
    "ndi",
    "mjoa",
    "zcq",
    "pain_nrs",
    "cook_lss_cpr",
    "cook_myelopathy_cpr",
    "konno_sshq",
]
INSTRUMENT_IDS: tuple[str, ...] = get_args(InstrumentId)

#: The outcome measures a plan's review may repeat (change over time is meaningful for them).
ReviewInstrument = Literal["odi", "ndi", "mjoa", "zcq", "pain_nrs"]
REVIEW_INSTRUMENTS: tuple[str, ...] = get_args(ReviewInstrument)

#: Whether an instrument or questionnaire is ready for use (FHIR's publication status, of which
#: spinecare uses two codes).
PublicationStatus = Literal["active", "draft"]
PUBLICATION_STATUSES: tuple[str, ...] = get_args(PublicationStatus)

#: How a question's enabling conditions combine (FHIR Questionnaire ``enableBehavior``).
EnableBehavior = Literal["all", "any"]
ENABLE_BEHAVIORS: tuple[str, ...] = get_args(EnableBehavior)

#: mJOA severity bands (the band codes of ``knowledge/instruments/mjoa.toml``).
MjoaBand = Literal["normal", "mild", "moderate", "severe"]
MJOA_BANDS: tuple[str, ...] = get_args(MjoaBand)


# Every enum of the published schemas (src/spinecare/schemas), by file and JSON pointer, with the
# list it must equal (same codes, same order; ``None`` is the schema's "not known", not a code).
# `make schemas` writes these lists into the schema files; tests/test_vocabulary.py checks them.
SCHEMA_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("case.schema.json",
     "/properties/history/properties/prior_treatments/items/properties/response"):
        TREATMENT_RESPONSES,
    ("assessment.schema.json", "/properties/triage/properties/level"): TRIAGE_LEVELS,
    ("assessment.schema.json", "/properties/red_flags/items/properties/code"): RED_FLAG_CODES,
    ("assessment.schema.json", "/properties/conditions/items/properties/code"): CONDITION_CODES,
    ("assessment.schema.json", "/properties/conditions/items/properties/likelihood"):
        LIKELIHOODS,
    ("assessment.schema.json", "/properties/low_back_pain_source"): LBP_SOURCES,
    ("plan.schema.json", "/$defs/level"): TRIAGE_LEVELS,
    ("plan.schema.json", "/$defs/stance"): GUIDELINE_STANCES,
    ("plan.schema.json", "/properties/disagreements/items/properties/treatments/items/properties/"
     "sides/items/properties/verification"): VERIFICATIONS,
    ("plan.schema.json", "/$defs/urgency"): URGENCIES,
    ("plan.schema.json", "/$defs/red_flag"): RED_FLAG_CODES,
    ("plan.schema.json", "/$defs/condition"): CONDITION_CODES,
    ("plan.schema.json", "/$defs/evidence_grade"): EVIDENCE_GRADES,
    ("plan.schema.json", "/$defs/recommendation"): RECOMMENDATIONS,
    ("plan.schema.json", "/properties/based_on/properties/conditions/items/properties/likelihood"):
        PLAN_LIKELIHOODS,
    ("plan.schema.json", "/properties/based_on/properties/mjoa_band"): MJOA_BANDS,
    ("plan.schema.json", "/properties/investigations/items/properties/status"):
        INVESTIGATION_STATUSES,
    ("plan.schema.json", "/properties/first_line/items/properties/choice"): TREATMENT_CHOICES,
    ("plan.schema.json", "/properties/avoid/items/properties/basis"): AVOID_BASES,
    ("plan.schema.json", "/properties/review/items/properties/instrument"): REVIEW_INSTRUMENTS,
    ("plan.schema.json", "/properties/review/items/properties/pain_site"): PAIN_SITES,
    ("plan.schema.json", "/$defs/programme/properties/status"): PROGRAMME_STATUSES,
    ("plan.schema.json", "/$defs/programme/properties/pain/properties/site"): PAIN_SITES,
    ("plan.schema.json", "/$defs/programme/properties/exercises/items/properties/category"):
        EXERCISE_CATEGORIES,
}

# --- languages -------------------------------------------------------------------------------

#: The languages of spinecare's patient words (ISO 639-1): the web pages' catalogues and the
#: education library's translations. English first: the source language and the fallback.
Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
#: Each language's name in that language, as CLDR writes it inside a sentence ("español");
#: a menu that starts an item with it capitalises the first letter itself.
LANGUAGE_NAMES: Mapping[str, str] = MappingProxyType({"en": "English", "es": "español"})
