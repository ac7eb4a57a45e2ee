"""The patient intake questionnaire and its mapping into a case.

One questionnaire (``knowledge/instruments/intake.toml``) asks, in plain words, for the history and
symptoms of the case schema (``spinecare.case/1``), never the examination. Every question fills
exactly one field of the case's ``history`` or ``symptoms`` section and its linkId is that
field's name. Safety (red-flag) questions come first, with a statement of when to seek urgent
care; ``enableWhen`` keeps questions away from people they do not concern.

Unknown is not false: a question left unanswered, or not shown, leaves its field unknown
(``null``) in the case. Answering a question that is not shown is an error, since it means the
answers contradict each other.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinecare.case import Case, History, Symptoms, parse_case
from spinecare.errors import KnowledgeError
from spinecare.instruments.forms import Choice, Condition, Form, FormItem, Unit
from spinecare.instruments.registry import LinkId, Option
from spinecare.kb import Problems, knowledge_dir, read_toml
from spinecare.kb.citations import packaged_citations
from spinecare.vocabulary import EnableBehavior, PublicationStatus

WHERE = "instruments/intake.toml"
SECTIONS: dict[str, type[BaseModel]] = {"history": History, "symptoms": Symptoms}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)


class When(_Strict):
    question: LinkId
    equals: bool | str | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one(self) -> When:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals and in")
        return self


class IntakeUnit(_Strict):
    code: str
    display: str
    factor: Annotated[list[int], Field(min_length=2, max_length=2)]


class IntakeScale(_Strict):
    type: Literal["boolean", "choice", "decimal", "quantity"]
    options: list[Option] = []
    min: float | int | None = None
    max: float | int | None = None
    units: list[IntakeUnit] = []


class Node(_Strict):
    link_id: LinkId | None = None
    field: Annotated[str, Field(pattern=r"^(history|symptoms)\.[a-z_]+$")] | None = None
    text: Annotated[str, Field(min_length=1)]
    scale: str | None = None
    enable_when: list[When] = []
    enable_behavior: EnableBehavior = "all"
    item: list[Node] = []

    @model_validator(mode="after")
    def _question_or_group(self) -> Node:
        question = self.field is not None
        if question and (self.link_id is not None or self.item or self.scale is None):
            raise ValueError(f"question {self.field}: needs a scale, and no link_id or items")
        if not question and (self.link_id is None or not self.item or self.scale is not None):
            raise ValueError(f"group {self.link_id}: needs a link_id and items, and no scale")
        return self

    @property
    def key(self) -> str:
        return self.field.split(".", 1)[1] if self.field else str(self.link_id)


class IntakeSpec(_Strict):
    id: Literal["intake"]
    title: str
    version: str
    status: PublicationStatus
    citations: Annotated[list[str], Field(min_length=1)]
    copyright: str
    urgent_notice: str
    introduction: str
    scale: dict[str, IntakeScale]
    section: Annotated[list[Node], Field(min_length=1)]

    @property
    def cite(self) -> list[str]:
        """``citations`` under its old name, for code not yet moved to it."""
        return self.citations

    def questions(self) -> list[Node]:
        """Every question, in document order."""
        out: list[Node] = []

        def walk(nodes: list[Node]) -> None:
            for n in nodes:
                if n.field is not None:
                    out.append(n)
                walk(n.item)

        walk(self.section)
        return out


# --- loading and cross-checks against the case model ----------------------------------------


def _fail(message: str) -> KnowledgeError:
    return KnowledgeError(f"{WHERE}: {message}")


def _field_info(path: str) -> tuple[set[Any], dict[str, Any]]:
    """The Python types a case field takes, and its bounds (``ge``/``le``)."""
    section, name = path.split(".", 1)
    model = SECTIONS[section]
    info = model.model_fields.get(name)
    if info is None:
        raise _fail(f"{path} is not a field of the case's {section}")
    kinds: set[Any] = set()
    # pydantic keeps a field's constraints on the FieldInfo, not in its annotation
    bounds = {attr: getattr(meta, attr) for meta in info.metadata for attr in ("ge", "le")
              if getattr(meta, attr, None) is not None}

    def flatten(annotation: Any) -> None:
        origin = typing.get_origin(annotation)
        if origin is Literal:
            kinds.update(typing.get_args(annotation))
        elif typing.get_args(annotation):
            for arg in typing.get_args(annotation):
                flatten(arg)
        elif annotation is not type(None):
            kinds.add(annotation)

    flatten(info.annotation)
    return kinds, bounds


def _without_none(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _without_none(typing.get_args(annotation)[0])
    if len(args) == 1 and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _without_none(args[0])
    return annotation


def check_spec(spec: IntakeSpec) -> None:
    """The intake agrees with the case model and with itself (linkIds, scales, enableWhen)."""
    seen: dict[str, Node] = {}
    fields: set[str] = set()

    def visit(nodes: list[Node]) -> None:
        for n in nodes:
            if n.key in seen or n.key in ("urgent_notice", "introduction"):
                raise _fail(f"linkId {n.key!r} is used twice")
            for w in n.enable_when:
                target = seen.get(w.question)
                if target is None or target.field is None:
                    raise _fail(f"{n.key}: enable_when names {w.question!r}, which is not an "
                                "earlier question")
                _check_when(spec, n, w, target)
            if len(n.enable_when) > 1 and n.enable_behavior == "all" and any(
                    w.in_ is not None and len(w.in_) > 1 for w in n.enable_when):
                raise _fail(f"{n.key}: 'in' with several values needs enable_behavior = 'any'")
            seen[n.key] = n
            if n.field is not None:
                fields.add(n.field)
                _check_question(spec, n)
            visit(n.item)

    visit(spec.section)
    # A list of structured entries (history.prior_treatments) is not one answer: the intake's
    # questions fill single fields, so such a list is left to the clinician's visit form until
    # the intake has repeating groups.
    every = {f"{s}.{name}" for s, model in SECTIONS.items()
             for name, info in model.model_fields.items()
             if typing.get_origin(_without_none(info.annotation)) is not list}
    if fields != every:
        raise _fail(f"every history and symptom field needs one question; missing "
                    f"{sorted(every - fields)}")
    used = {q.scale for q in spec.questions()}
    if set(spec.scale) - used:
        raise _fail(f"unused scales {sorted(set(spec.scale) - used)}")


def _check_question(spec: IntakeSpec, n: Node) -> None:
    assert n.field is not None and n.scale is not None
    scale = spec.scale.get(n.scale)
    if scale is None:
        raise _fail(f"{n.key}: unknown scale {n.scale!r}")
    kinds, bounds = _field_info(n.field)
    if scale.type == "boolean":
        ok = kinds == {bool}
    elif scale.type == "choice":
        ok = {o.value for o in scale.options} == kinds and len(scale.options) == len(kinds)
    else:
        ok = float in kinds and scale.min == bounds.get("ge") and scale.max == bounds.get("le") \
            and len(scale.units) >= 1
    if not ok:
        raise _fail(f"{n.key}: scale {n.scale!r} does not fit the case field {n.field}")


def _check_when(spec: IntakeSpec, n: Node, w: When, target: Node) -> None:
    assert target.scale is not None
    scale = spec.scale[target.scale]
    values = w.in_ if w.in_ is not None else [w.equals]
    if scale.type == "boolean":
        ok = all(type(v) is bool for v in values)
    elif scale.type == "choice":
        ok = all(v in {o.value for o in scale.options} for v in values)
    else:
        ok = False
    if not ok:
        raise _fail(f"{n.key}: enable_when on {w.question} uses values {values} that it cannot "
                    "take")


@lru_cache(maxsize=1)
def intake_spec() -> IntakeSpec:
    """The intake questionnaire's data, loaded and checked once."""
    problems = Problems()
    data = read_toml(knowledge_dir().joinpath("instruments", "intake.toml"), WHERE)
    spec = problems.validate(IntakeSpec, data, WHERE)
    problems.raise_if_any()
    assert spec is not None
    check_spec(spec)
    return spec


# --- the form -------------------------------------------------------------------------------


def _conditions(n: Node) -> tuple[Condition, ...]:
    out: list[Condition] = []
    for w in n.enable_when:
        for value in (w.in_ if w.in_ is not None else [w.equals]):
            assert value is not None
            out.append(Condition(w.question, value))
    return tuple(out)


def _item(spec: IntakeSpec, n: Node) -> FormItem:
    when, behavior = _conditions(n), n.enable_behavior
    if n.field is None:
        return FormItem(n.key, "group", n.text, enable_when=when, enable_behavior=behavior,
                        items=tuple(_item(spec, c) for c in n.item))
    assert n.scale is not None
    scale = spec.scale[n.scale]
    units = tuple(Unit(u.code, u.display, Fraction(u.factor[0], u.factor[1]))
                  for u in scale.units)
    if scale.type == "choice":
        return FormItem(n.key, "choice", n.text, enable_when=when, enable_behavior=behavior,
                        options=tuple(Choice(o.value, o.code, o.display) for o in scale.options),
                        system=f"intake-{n.scale}")
    return FormItem(n.key, scale.type, n.text, enable_when=when, enable_behavior=behavior,
                    min_value=scale.min, max_value=scale.max, units=units)


@lru_cache(maxsize=1)
def intake_form() -> Form:
    """The intake questionnaire as a :class:`Form`, urgent-care statement first."""
    spec = intake_spec()
    citations = packaged_citations()
    description = (
        "Patient intake for spinecare: the history and symptoms of a spinecare.case/1, asked in "
        "plain words (not the examination). Safety questions come first. Each answer fills the "
        "case field named by its linkId; an unanswered or hidden question leaves the field "
        "unknown.\n\nUrgent-care statement: "
        + "; ".join(citations[c].short() for c in spec.cite if c in citations) + ".")
    items = (FormItem("urgent_notice", "display", spec.urgent_notice),
             FormItem("introduction", "display", spec.introduction),
             *(_item(spec, s) for s in spec.section))
    return Form(id="intake", name="SpinecareIntake", title=spec.title, version=spec.version,
                status=spec.status, description=description, copyright=spec.copyright,
                codes=(), items=items)


def intake_fields() -> dict[str, str]:
    """Each intake question's linkId and the case field it fills (``history.fever``)."""
    return {q.key: str(q.field) for q in intake_spec().questions()}


# --- answers <-> case ------------------------------------------------------------------------


def case_sections(answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``history`` and ``symptoms`` sections a case gets from intake answers.

    ``answers`` are checked answers by linkId (see :mod:`spinecare.instruments.answers`), with
    amounts already in the case's units (weeks, minutes). Unanswered questions are left out.
    """
    out: dict[str, dict[str, Any]] = {"history": {}, "symptoms": {}}
    for link_id, path in intake_fields().items():
        value = answers.get(link_id)
        if value is None:
            continue
        section, name = path.split(".", 1)
        out[section][name] = value
    return out


def intake_answers_from_case(case: Case) -> tuple[dict[str, Any], list[str]]:
    """The intake answers that reproduce ``case``'s history and symptoms.

    Returns the answers by linkId and the linkIds of known findings that the intake would not
    have asked (their questions are hidden by the other answers), which are left out.
    """
    form = intake_form()
    known: dict[str, Any] = {}
    for link_id, path in intake_fields().items():
        section, name = path.split(".", 1)
        value = getattr(getattr(case, section), name)
        if value is not None:
            known[link_id] = value
    shown = form.enabled(known)
    answers = {k: v for k, v in known.items() if k in shown}
    return answers, [k for k in known if k not in shown]


def case_from_intake(answers: Mapping[str, Any], *, case_id: str,
                     patient: Mapping[str, Any] | None = None,
                     instruments: Mapping[str, Any] | None = None) -> Case:
    """A validated case from intake answers (plus the patient and instruments, which the intake
    does not ask). Raises :class:`spinecare.errors.CaseError` if the result does not validate."""
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": case_id,
                           "patient": dict(patient) if patient is not None else {"age": None}}
    doc.update({k: v for k, v in case_sections(answers).items() if v})
    if instruments:
        doc["instruments"] = dict(instruments)
    return parse_case(doc)
