"""HTML forms over the case model and the questionnaires.

The visit form is built from the case model itself (``spinecare.case``): every field of the
history, symptoms, examination, instruments and one imaging study becomes an input named by its
JSON path (``exam.hoffmann``), so the case's own validation errors point straight back at the
input. An empty input means unknown, never "no".
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from spinecare.case import Exam, History, Imaging, Mjoa, PainNrs, PriorTreatment, Symptoms
from spinecare.instruments.registry import instruments
from spinecare.plan.knowledge import load_treatments

Kind = Literal["tri", "choice", "number", "integer", "text"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    fields: tuple[Field, ...]
    open: bool = True


_LABELS = {
    "hoffmann": "Hoffmann sign", "babinski": "Babinski sign", "romberg": "Romberg sign",
    "spurling": "Spurling test", "lhermitte": "Lhermitte sign",
    "mrc_grade": "MRC grade", "ankle_brachial_index": "Ankle-brachial index",
    "canal_ap_diameter_mm": "Canal AP diameter (mm)", "dural_sac_csa_mm2":
    "Dural sac cross-sectional area (mm²)", "post_void_residual_ml": "Post-void residual (ml)",
    "walking_tolerance_minutes": "Walking tolerance (minutes)",
    "duration_weeks": "Duration (weeks)", "torg_pavlov_ratio": "Torg-Pavlov ratio",
    "schizas_grade": "Schizas grade", "saddle_anesthesia": "Saddle anaesthesia",
    "iv_drug_use": "IV drug use",
    "treatment": "Treatment tried", "weeks": "For how many weeks", "response": "How it went",
}
#: Rows for treatments tried before: enough for a usual history, few enough to stay usable.
PRIOR_TREATMENT_ROWS = 4


def label_of(name: str) -> str:
    """A field's label; an instrument's is its short name from the registry (``ODI``)."""
    registered = instruments().get(name)
    if registered is not None:
        return registered.short_name
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _numeric_bounds(info: Any) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        low = getattr(meta, "ge", low) if getattr(meta, "ge", None) is not None else low
        high = getattr(meta, "le", high) if getattr(meta, "le", None) is not None else high
    return low, high


def _kind(annotation: Any) -> tuple[Kind, tuple[str, ...]]:
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(v) for v in typing.get_args(annotation))
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    literals: list[str] = []
    for arg in args:
        inner = typing.get_args(arg) if typing.get_origin(arg) is typing.Annotated else ()
        target = inner[0] if inner else arg
        if typing.get_origin(target) is Literal:
            literals += [str(v) for v in typing.get_args(target)]
        elif target is bool:
            return "tri", ()
        elif target is float:
            return "number", ()
        elif target is int:
            return "integer", ()
        elif target is str:
            return "text", ()
    return "choice", tuple(literals)


def _fields(prefix: str, model: type[BaseModel], skip: tuple[str, ...] = ()) -> tuple[Field, ...]:
    out = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        kind, choices = _kind(info.annotation)
        low, high = _numeric_bounds(info)
        out.append(Field(f"{prefix}.{name}", label_of(name), kind, choices, low, high))
    return tuple(out)


def _prior_treatment_rows() -> tuple[Field, ...]:
    # The treatment is chosen from the treatment knowledge's ids, so a visit cannot mistype one.
    ids = tuple(sorted(load_treatments().treatments))
    out: list[Field] = []
    for i in range(PRIOR_TREATMENT_ROWS):
        for f in _fields(f"history.prior_treatments.{i}", PriorTreatment):
            label = f"{f.label} ({i + 1})"
            if f.name.endswith(".treatment"):
                out.append(Field(f.name, label, "choice", ids))
            else:
                out.append(Field(f.name, label, f.kind, f.choices, f.minimum, f.maximum))
    return tuple(out)


# Examination and imaging first: they are what the clinician adds at a visit; the history and
# symptoms usually come from the patient's intake and are pre-filled from it.
VISIT_SECTIONS: tuple[Section, ...] = (
    Section("exam", "Examination", _fields("exam", Exam, skip=("motor_deficits",))),
    Section("imaging", "Imaging (one study)", _fields("imaging.0", Imaging)),
    Section("instruments", "Scores",
            (*_fields("instruments.mjoa", Mjoa), *_fields("instruments.pain_nrs", PainNrs)),
            open=False),
    Section("symptoms", "Symptoms", _fields("symptoms", Symptoms), open=False),
    Section("history", "History", _fields("history", History, skip=("prior_treatments",)),
            open=False),
    Section("prior_treatments", "Treatments tried before", _prior_treatment_rows(), open=False),
)


# Numbers as people type them in a form, in ASCII only: Python's int() and float() also take
# "٣", "³" (str.isdigit says yes to it, int() then fails), "1_000", "nan" and "1e400".
_INTEGER = re.compile(r"[+-]?[0-9]{1,15}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})")
# C0 controls (NUL, tab, line breaks...) and DEL: never part of a name or a one-line answer;
# PostgreSQL cannot even store a NUL in text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_MESSAGE = "must not contain control characters (such as a tab, a line break or NUL)"


def ascii_int(raw: str) -> int | None:
    """``raw`` as a whole number written in ASCII digits, else ``None``."""
    text = raw.strip()
    return int(text) if _INTEGER.fullmatch(text) else None


def ascii_number(raw: str) -> int | float | None:
    """``raw`` as a number written in ASCII digits (an integral one as an int), else ``None``."""
    text = raw.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (see :data:`CONTROL_MESSAGE`)."""
    return _CONTROL.search(text) is not None


def without_control(text: str) -> str:
    """``text`` with its control characters dropped (to show a refused value back safely)."""
    return _CONTROL.sub("", text)


def _value(field: Field, raw: str) -> Any:
    if field.kind == "tri":
        return {"yes": True, "no": False}.get(raw, raw)
    if field.kind in ("number", "integer"):
        number = ascii_number(raw)
        # Not a number: the text goes on, and the case validation reports it by its path.
        return raw if number is None else number
    return raw


def case_from_form(form: Mapping[str, Any], *, age: int | None, case_id: str) -> dict[str, Any]:
    """A case document from the visit form's fields; empty fields are left unknown."""
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": case_id,
                           "patient": {"age": age}}
    sex = form.get("patient.sex")
    if isinstance(sex, str) and sex:
        doc["patient"]["sex"] = sex
    imaging: dict[str, Any] = {}
    tried: dict[int, dict[str, Any]] = {}
    for section in VISIT_SECTIONS:
        for field in section.fields:
            raw = form.get(field.name)
            if not isinstance(raw, str) or not raw.strip():
                continue
            value = _value(field, raw.strip())
            parts = field.name.split(".")
            if parts[0] == "imaging":
                imaging[parts[2]] = value
                continue
            if parts[:2] == ["history", "prior_treatments"]:
                tried.setdefault(int(parts[2]), {})[parts[3]] = value
                continue
            target = doc
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
    # A study needs its modality and region; other imaging findings alone are kept so the
    # validation can say what is missing.
    if imaging:
        doc["imaging"] = [imaging]
    # Rows left empty say nothing: treatments tried stay unknown unless a row is filled in.
    if tried:
        doc.setdefault("history", {})["prior_treatments"] = [tried[i] for i in sorted(tried)]
    return doc


def form_values(case: Mapping[str, Any]) -> dict[str, str]:
    """The visit form's values for a stored case (to pre-fill the next visit)."""
    out: dict[str, str] = {}
    for section in VISIT_SECTIONS:
        for field in section.fields:
            parts = field.name.split(".")
            value: Any = case
            for part in parts:
                if isinstance(value, list):
                    value = value[int(part)] if part.isdigit() and int(part) < len(value) \
                        else None
                elif isinstance(value, Mapping):
                    value = value.get(part)
                else:
                    value = None
            if value is None:
                continue
            out[field.name] = ("yes" if value else "no") if isinstance(value, bool) \
                else plain_number(field.name, value) if isinstance(value, float) else str(value)
    return out


#: Amounts a person reads in whole or tenths (an intake's "8 months" is 34.8 weeks, not
#: 34.7857...); any other decimal keeps two places (a Torg-Pavlov ratio of 0.82).
_TENTHS = ("_weeks", "_minutes", "_ml", "_mm", "_mm2", "_days", "_months", "_years")


def plain_number(name: str, value: float) -> str:
    """A measured amount as a person reads it: rounded, without trailing zeros."""
    places = 1 if name.endswith(_TENTHS) else 2
    return f"{round(value, places):g}"
