"""The case model: ``spinecare.case/1`` as typed, frozen values.

The JSON Schema in ``schemas/case.schema.json`` is the contract; these models accept and reject
exactly the documents it does (``tests/test_case_model.py`` checks that on generated documents).
``None`` everywhere means *unknown*: not asked or not tested. ``False`` means asked and absent.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from spinecare.errors import CaseError, Problem

CASE_SCHEMA_ID = "spinecare.case/1"

Side = Literal["none", "left", "right", "both"]


# Integer fields are strict ints. JSON Schema also counts 5.0 as an integer; pydantic's strict int
# does not, so parse_case re-validates once with such values made ints (a rare, slow path that
# keeps the common path free of Python-level validators).
Int = int


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Patient(_Model):
    age: Annotated[Int | None, Field(ge=0, le=120)]
    sex: Literal["female", "male", "other", "unknown"] | None = None


class PriorTreatment(_Model):
    """A treatment tried before for these symptoms: a treatment id of the treatment knowledge or
    one of its aliases ('physio', 'epidural'), for how many weeks, and how it went."""

    treatment: Annotated[str, Field(min_length=1, max_length=80)]
    weeks: Annotated[float | None, Field(ge=0, le=5200)] = None
    response: Literal["resolved", "improved", "no_change", "worse", "not_tolerated"] | None = None


class History(_Model):
    duration_weeks: Annotated[float | None, Field(ge=0, le=5200)] = None
    onset: Literal["gradual", "sudden", "after_trauma"] | None = None
    course: Literal["improving", "stable", "worsening", "rapidly_worsening"] | None = None
    major_trauma: bool | None = None
    minor_trauma: bool | None = None
    osteoporosis: bool | None = None
    long_term_steroids: bool | None = None
    cancer_history: bool | None = None
    unexplained_weight_loss: bool | None = None
    fever: bool | None = None
    iv_drug_use: bool | None = None
    immunosuppression: bool | None = None
    recent_infection_or_spinal_procedure: bool | None = None
    night_pain: bool | None = None
    diabetes: bool | None = None
    peripheral_arterial_disease: bool | None = None
    smoker: bool | None = None
    known_aaa_diameter_cm: Annotated[float | None, Field(ge=0, le=15)] = None
    family_history_aaa: bool | None = None
    #: ``None``: not asked; ``[]``: asked, nothing tried.
    prior_treatments: Annotated[list[PriorTreatment] | None, Field(max_length=30)] = None


class Symptoms(_Model):
    neck_pain: bool | None = None
    thoracic_pain: bool | None = None
    low_back_pain: bool | None = None
    arm_pain: Side | None = None
    arm_paresthesia: Side | None = None
    hand_clumsiness: bool | None = None
    leg_pain: Side | None = None
    leg_pain_below_knee: bool | None = None
    leg_paresthesia: Side | None = None
    leg_weakness: Side | None = None
    leg_heaviness: bool | None = None
    gait_imbalance: bool | None = None
    falls: bool | None = None
    leg_pain_exceeds_back_pain: bool | None = None
    claudication: bool | None = None
    walking_tolerance_minutes: Annotated[float | None, Field(ge=0, le=600)] = None
    worse_standing: bool | None = None
    relief_sitting: bool | None = None
    relief_forward_flexion: bool | None = None
    relief_standing_still: bool | None = None
    worse_extension: bool | None = None
    uphill_easier_than_downhill: bool | None = None
    cycling_tolerated: bool | None = None
    calf_cramping: bool | None = None
    lhermitte: bool | None = None
    bladder: (
        Literal[
            "normal",
            "new_retention",
            "new_incontinence",
            "new_urgency_or_frequency",
            "reduced_sensation",
        ]
        | None
    ) = None
    bowel_incontinence: bool | None = None
    saddle_anesthesia: bool | None = None
    new_sexual_dysfunction: bool | None = None
    abdominal_or_flank_pain: bool | None = None
    syncope_or_collapse: bool | None = None


class MotorDeficit(_Model):
    limb: Literal["arm", "leg"]
    side: Literal["left", "right"]
    myotome: Annotated[str | None, Field(pattern=r"^[CLS][1-8]$")] = None
    mrc_grade: Annotated[Int, Field(ge=0, le=5)]


class Exam(_Model):
    gait: (
        Literal["normal", "broad_based_unsteady", "spastic", "antalgic", "steppage"] | None
    ) = None
    tandem_gait_impaired: bool | None = None
    romberg: bool | None = None
    hoffmann: bool | None = None
    inverted_supinator: bool | None = None
    babinski: bool | None = None
    ankle_clonus: bool | None = None
    lower_limb_hyperreflexia: bool | None = None
    achilles_reflex: Literal["normal", "reduced", "absent", "increased"] | None = None
    straight_leg_raise: bool | None = None
    spurling: bool | None = None
    hip_rotation_pain: bool | None = None
    pedal_pulses: Literal["present", "reduced", "absent"] | None = None
    ankle_brachial_index: Annotated[float | None, Field(ge=0, le=2)] = None
    perianal_sensation: Literal["normal", "reduced", "absent"] | None = None
    anal_tone: Literal["normal", "reduced"] | None = None
    post_void_residual_ml: Annotated[float | None, Field(ge=0, le=3000)] = None
    motor_deficits: list[MotorDeficit] | None = None
    progressive_motor_deficit: bool | None = None
    pulsatile_abdominal_mass: bool | None = None
    systolic_bp_mmhg: Annotated[float | None, Field(ge=0, le=300)] = None


Item05 = Annotated[Int | None, Field(ge=0, le=5)]
Item15 = Annotated[Int | None, Field(ge=1, le=5)]
Item14 = Annotated[Int | None, Field(ge=1, le=4)]
Nrs = Annotated[Int | None, Field(ge=0, le=10)]


class Mjoa(_Model):
    upper_extremity_motor: Annotated[Int, Field(ge=0, le=5)]
    lower_extremity_motor: Annotated[Int, Field(ge=0, le=7)]
    upper_extremity_sensation: Annotated[Int, Field(ge=0, le=3)]
    micturition: Annotated[Int, Field(ge=0, le=3)]


class Zcq(_Model):
    symptom_severity: Annotated[list[Item15], Field(min_length=7, max_length=7)] | None = None
    physical_function: Annotated[list[Item14], Field(min_length=5, max_length=5)] | None = None

    @field_validator("symptom_severity", "physical_function", mode="before")
    @classmethod
    def _omitted_not_null(cls, value: Any) -> Any:
        # The schema lets either list be left out but not be null (its items may be null).
        if value is None:
            raise PydanticCustomError("list_type", "Input should be a valid list")
        return value


class PainNrs(_Model):
    back: Nrs = None
    leg: Nrs = None
    neck: Nrs = None
    arm: Nrs = None


class Instruments(_Model):
    odi: Annotated[list[Item05], Field(min_length=10, max_length=10)] | None = None
    ndi: Annotated[list[Item05], Field(min_length=10, max_length=10)] | None = None
    mjoa: Mjoa | None = None
    zcq: Zcq | None = None
    pain_nrs: PainNrs | None = None


SPINAL_LEVEL = r"^(C[1-7]|T([1-9]|1[0-2])|L[1-5])-(C[2-7]|T([1-9]|1[0-2])|L[1-5]|S1)$"


class Imaging(_Model):
    modality: Literal["mri", "ct", "xray"]
    region: Literal["cervical", "thoracic", "lumbar"]
    level: Annotated[str | None, Field(pattern=SPINAL_LEVEL)] = None
    canal_ap_diameter_mm: Annotated[float | None, Field(ge=0, le=40)] = None
    torg_pavlov_ratio: Annotated[float | None, Field(ge=0, le=2)] = None
    dural_sac_csa_mm2: Annotated[float | None, Field(ge=0, le=400)] = None
    schizas_grade: Literal["A", "B", "C", "D"] | None = None
    cord_compression: bool | None = None
    cord_t2_hyperintensity: bool | None = None
    foraminal_stenosis: Side | None = None
    spondylolisthesis_grade: Annotated[Int | None, Field(ge=0, le=5)] = None
    fracture: bool | None = None
    lesion_suspicious_for_tumor_or_infection: bool | None = None


class Case(_Model):
    schema_: Literal["spinecare.case/1"] = Field(alias="schema")
    id: Annotated[str, Field(min_length=1, max_length=128)]
    patient: Patient
    history: History = History()
    symptoms: Symptoms = Symptoms()
    exam: Exam = Exam()
    instruments: Instruments = Instruments()
    imaging: list[Imaging] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)


# --- validation with errors that name JSON paths -------------------------------------------


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic location as the JSON path users see: ``exam.motor_deficits[0].mrc_grade``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("schema" if part == "schema_" else part)
    return out or "(document)"


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed at the object that holds ``loc``'s last part."""
    model: Any = Case
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get("schema_" if part == "schema" else part)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


# Text a person typed on one line (a name, a user name): no C0 control character and no DEL.
# PostgreSQL cannot store a NUL in text at all, and a tab or line break in a name is a mistake.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"

# A refused value is quoted back so the user can see it, but never at length: a 422 must not
# hand a large input back to its sender (or into a log).
SHOWN_CHARACTERS = 60


def shown_value(value: Any) -> str:
    """``value`` as a problem message quotes it: JSON, cut short when long."""
    text = orjson.dumps(value).decode() if _jsonable(value) else repr(value)
    if len(text) > SHOWN_CHARACTERS:
        return f"{text[:SHOWN_CHARACTERS - 10]}... ({len(text)} characters)"
    return text


def describe_error(error: Any) -> str:
    """A pydantic error in plain words. Without an ``input`` (a secret's), nothing is quoted."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = f" (got {shown_value(error['input'])})" if "input" in error else ""
    if kind == "extra_forbidden":
        loc = tuple(error["loc"])
        near = difflib.get_close_matches(str(loc[-1]), _known_fields(loc), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        return f"is not a known field{hint}"
    if kind == "missing":
        return "is required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "?")
        return f"must be {op} {bound}{got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '?')}{got}"
    if kind in ("too_short", "string_too_short"):
        unit = "items" if kind == "too_short" else "characters"
        return f"must have at least {ctx.get('min_length')} {unit}{got}"
    if kind in ("too_long", "string_too_long"):
        unit = "items" if kind == "too_long" else "characters"
        return f"must have at most {ctx.get('max_length')} {unit}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == PRINTABLE_PATTERN:
        return f"must not contain control characters (such as a tab, a line break or NUL){got}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}{got}"
    expected = {
        "int_type": "an integer", "int_from_float": "an integer", "float_type": "a number",
        "bool_type": "true, false or null", "string_type": "a string",
        "list_type": "an array", "model_type": "an object", "dict_type": "an object",
        "model_attributes_type": "an object",
    }.get(kind)
    if expected:
        return f"must be {expected}{got}"
    return f"{error['msg']}{got}"


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def problems_from(error: ValidationError) -> list[Problem]:
    problems = []
    for e in error.errors(include_url=False):
        loc = tuple(e["loc"])
        # A union of "X | None" reports one error per branch; the None branch adds nothing.
        if loc and loc[-1] == "none":
            continue
        clean = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _BRANCHES)))
        problems.append(Problem(json_path(clean), describe_error(e)))
    # identical messages can arise from union branches; keep the first of each
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            unique.append(p)
    return unique


_BRANCHES = {"int", "float", "bool", "str", "list", "none", "literal", "constrained-float",
             "constrained-int", "constrained-str"}


_validate_json = Case.__pydantic_validator__.validate_json


def parse_case(data: bytes | str | dict[str, Any]) -> Case:
    """Validate one case. Raises :class:`CaseError` listing every problem with its JSON path."""
    try:
        if isinstance(data, dict):
            return Case.model_validate(data)
        # the validator itself: model_validate_json only forwards its keyword defaults to it
        case: Case = _validate_json(data)
        return case
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            raise CaseError([Problem("(document)", _json_problem(data))]) from None
        if any(_integral_float(e) for e in errors):
            doc = orjson.loads(data) if not isinstance(data, dict) else copy.deepcopy(data)
            if _intify(doc):
                try:
                    return Case.model_validate(doc)
                except ValidationError as again:
                    exc = again
        raise CaseError(problems_from(exc)) from None


def _integral_float(error: Any) -> bool:
    value = error.get("input")
    return error["type"] == "int_type" and type(value) is float and value.is_integer()


def _intify(doc: Any) -> bool:
    """Turn every integral float in ``doc`` into an int, in place; true if any changed."""
    changed = False
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) \
        else ()
    for key, value in items:
        # A number field takes the int as readily as the float, so every field can be converted.
        if type(value) is float and value.is_integer():
            doc[key] = int(value)
            changed = True
        elif isinstance(value, dict | list):
            changed = _intify(value) or changed
    return changed



def _json_problem(data: bytes | str | dict[str, Any]) -> str:
    try:
        orjson.loads(data if not isinstance(data, dict) else b"{}")
    except orjson.JSONDecodeError as exc:
        return f"is not valid JSON: {exc}"
    return "is not valid JSON"
