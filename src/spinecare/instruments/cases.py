"""Responses into a case: the intake fills ``history`` and ``symptoms``, instruments fill
``instruments``. The patient (age, sex) comes from the caller, who knows it from the record.

Only what the case schema has a place for goes in: ZCQ satisfaction, the Konno SSHQ and the
Cook clusters are scored with :func:`spinecare.instruments.scoring.score_answers` instead, and
are named in the notes returned with the case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from spinecare.case import Case, Instruments, parse_case
from spinecare.errors import CaseError, Problem
from spinecare.instruments.answers import Response
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.intake import case_sections, intake_answers_from_case, intake_fields
from spinecare.instruments.registry import instruments
from spinecare.instruments.scoring import answers_from_case_section, shape


def _case_model(name: str) -> type[BaseModel] | None:
    """The model of a case ``instruments`` field, if the field holds an object (mJOA, ZCQ)."""
    annotation = Instruments.model_fields[name].annotation
    for arg in getattr(annotation, "__args__", ()) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def instruments_section(responses: Sequence[Response]) -> tuple[dict[str, Any], list[str]]:
    """The case's ``instruments`` section from instrument responses, and notes on what the
    case has no place for. Raises :class:`AnswerError` for what a case cannot record (an
    mJOA without all four domains, two responses to one instrument)."""
    registry = instruments()
    section: dict[str, Any] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    for r in responses:
        inst = registry.get(r.questionnaire)
        if inst is None:
            continue
        if inst.id not in Instruments.model_fields:
            notes.append(f"{inst.id}: the case has no place for {inst.short_name}; score it with "
                         "'spinecare score'")
            continue
        if inst.id in section:
            problems.append(Problem(inst.id, f"{inst.id}: two responses for one case"))
            continue
        shaped = shape(inst, r.answers)
        model = _case_model(inst.id)
        if model is None:
            section[inst.id] = shaped
            continue
        fields = model.model_fields
        kept = {k: v for k, v in shaped.items() if k in fields and v is not None}
        left_out = [k for k, v in shaped.items() if k not in fields and v is not None]
        if left_out:
            notes.append(f"{inst.id}: {', '.join(left_out)} is not part of the case; score it "
                         "with 'spinecare score'")
        required = [k for k, f in fields.items() if f.is_required() and k not in kept]
        if required:
            problems.append(Problem(inst.id, f"{inst.id}: no answer for {', '.join(required)}; "
                                             f"a case records {inst.short_name} only with all "
                                             f"of {', '.join(fields)}"))
            continue
        if kept:
            section[inst.id] = kept
    if problems:
        raise AnswerError(problems)
    return section, notes


def case_from_responses(responses: Sequence[Response], *, case_id: str,
                        patient: Mapping[str, Any] | None = None) -> tuple[Case, list[str]]:
    """A validated case from one visit's responses (at most one intake), and notes."""
    intakes = [r for r in responses if r.questionnaire == "intake"]
    if len(intakes) > 1:
        raise AnswerError([Problem("intake", "intake: two responses for one case")])
    section, notes = instruments_section(responses)
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": case_id,
                           "patient": dict(patient) if patient is not None else {"age": None}}
    if intakes:
        doc.update({k: v for k, v in case_sections(intakes[0].answers).items() if v})
    if section:
        doc["instruments"] = section
    try:
        return parse_case(doc), notes
    except CaseError as exc:
        # Point at the question, not only at the case field it fills.
        by_field = {path: link for link, path in intake_fields().items()}
        raise AnswerError([Problem(p.path, f"{by_field[p.path]}: {p.message}"
                                   if p.path in by_field else p.message)
                           for p in exc.problems]) from None


def responses_from_case(case: Case) -> tuple[list[Response], list[str]]:
    """The responses that reproduce ``case``: its intake answers and one response per instrument
    in its ``instruments`` section. Also returns the linkIds of known findings the intake would
    not have asked (hidden by the other answers), which are left out."""
    answers, hidden = intake_answers_from_case(case)
    out = [Response("intake", answers)]
    registry = instruments()
    for name in Instruments.model_fields:
        value = getattr(case.instruments, name)
        if value is not None:
            out.append(Response(name, answers_from_case_section(registry[name], value)))
    return out, hidden
