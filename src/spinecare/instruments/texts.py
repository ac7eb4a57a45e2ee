"""A clinic's licensed wording of an instrument, and the form a patient answers.

Some instruments' item wording is under licence (ODI through Mapi Research Trust) or of
unverified licence (NDI, ZCQ); their registry entry says ``patient_wording = "clinic_text"``.
spinecare never ships that wording: a clinic that holds a licence loads its own copy
(``spinecare instruments load-text ID FILE``) and the database keeps it for that installation.
Only then is the instrument offered to patients at home; until then a clinician enters it.

The file (TOML or JSON) gives the wording of every item of the registry's instrument, in the
registry's order of answer values::

    instrument = "odi"
    version = "2.1a"               # the registry's version: answers are scored by its rules
    language = "en"
    licence = "ODI v2.1a, licensed to Example Clinic by Mapi Research Trust, ref. 1234"
    instructions = "Please answer every section ..."
    [[item]]
    link_id = "pain_intensity"
    text = "Section 1: Pain intensity"
    options = ["first statement", "second statement", ...]   # one per answer value

Every problem is reported at once with its path (``item[3].options``) and what was expected,
so a clinic can fix its file in one pass. Checking is pure: storing is the store's business.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from spinecare.errors import Problem
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.forms import Choice, Form, FormItem, instrument_form
from spinecare.instruments.registry import Instrument, instruments
from spinecare.kb import STRICT
from spinecare.vocabulary import Language

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class TextItem(BaseModel):
    model_config = STRICT

    link_id: str
    text: Text
    options: list[Text] = []


class ClinicText(BaseModel):
    """A clinic's licensed wording of one instrument in one language."""

    model_config = STRICT

    instrument: str
    version: str
    language: Language
    licence: Annotated[str, Field(min_length=3, max_length=500)]
    """What licence the clinic holds (licensor, reference): shown with the questionnaire."""
    title: Text | None = None
    instructions: Text
    gates: dict[str, Text] = {}
    groups: dict[str, Text] = {}
    item: Annotated[list[TextItem], Field(min_length=1)]


class TextError(AnswerError):
    """A clinic text that does not fit its instrument; ``problems`` names every problem."""


def parse_text(raw: bytes, name: str = "") -> dict[str, Any]:
    """The document in ``raw``: JSON when ``name`` ends in ``.json`` or the text starts with
    ``{``, TOML otherwise."""
    text = raw.decode("utf-8-sig", errors="strict")
    try:
        if name.lower().endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise TextError([Problem("", f"is not valid {_kind(name, text)}: {exc}")]) from None
    if not isinstance(data, dict):
        raise TextError([Problem("", "must be an object with instrument, version, ... item")])
    return data


def _kind(name: str, text: str) -> str:
    return "JSON" if name.lower().endswith(".json") or text.lstrip().startswith("{") else "TOML"


def check_text(data: dict[str, Any]) -> tuple[Instrument, ClinicText]:
    """The instrument and the checked text, or a :class:`TextError` naming every problem:
    unknown keys, a version other than the registry's, a missing or unknown item, a gate or
    group without its wording, or a number of answer options other than the item's scale."""
    try:
        text = ClinicText.model_validate(data)
    except ValidationError as exc:
        raise TextError([Problem(".".join(str(p) for p in e["loc"]), e["msg"])
                         for e in exc.errors()]) from None
    inst = instruments().get(text.instrument)
    if inst is None:
        raise TextError([Problem("instrument", f"unknown instrument {text.instrument!r}; "
                                               f"known: {', '.join(sorted(instruments()))}")])
    problems: list[Problem] = []
    if inst.administered_by != "patient":
        problems.append(Problem("instrument", f"{inst.short_name} is rated by a clinician and "
                                              "never shown to patients"))
    if text.version != inst.version:
        problems.append(Problem("version", f"the registry scores {inst.short_name} version "
                                           f"{inst.version}, not {text.version!r}"))
    given: dict[str, int] = {}
    for n, item in enumerate(text.item):
        if item.link_id in given:
            problems.append(Problem(f"item[{n}].link_id", f"{item.link_id!r} is given twice"))
        given.setdefault(item.link_id, n)
    registry_items = {i.link_id: i for i in inst.item}
    for link in given:
        if link not in registry_items:
            problems.append(Problem(f"item[{given[link]}].link_id",
                                    f"{inst.short_name} has no item {link!r}; its items: "
                                    f"{', '.join(registry_items)}"))
    for link, reg in registry_items.items():
        if link not in given:
            problems.append(Problem("item", f"no wording for item {link!r} ({reg.text})"))
            continue
        scale = inst.scale_of(reg)
        count = len(text.item[given[link]].options)
        want = len(scale.options) if scale.type == "choice" else 0
        if count != want:
            problems.append(Problem(
                f"item[{given[link]}].options",
                f"item {link!r} has {want} answer options ({_what(scale.type)}), not {count}"
                if want else f"item {link!r} is answered {_what(scale.type)}: give no options"))
    for gate in inst.gate:
        if gate not in text.gates:
            problems.append(Problem("gates", f"no wording for the question {gate!r}"))
    for extra in set(text.gates) - set(inst.gate):
        problems.append(Problem(f"gates.{extra}", f"{inst.short_name} has no question {extra!r}"))
    for extra in set(text.groups) - set(inst.group):
        problems.append(Problem(f"groups.{extra}", f"{inst.short_name} has no group {extra!r}"))
    if problems:
        raise TextError(problems)
    return inst, text


def _what(scale_type: str) -> Literal["from a list", "with a number", "yes or no"]:
    return {"choice": "from a list", "integer": "with a number"}.get(  # type: ignore[return-value]
        scale_type, "yes or no")


def patient_form(inst: Instrument, text: ClinicText | None) -> Form:
    """The questionnaire a patient answers: the registry's form in the clinic's licensed wording
    where one is loaded (item for item, option for option in the order of answer values)."""
    form = instrument_form(inst)
    if text is None:
        return form
    items = {i.link_id: i for i in text.item}

    def reword(item: FormItem) -> FormItem:
        if item.link_id == "instructions" and item.type == "display":
            return dataclasses.replace(item, text=text.instructions)
        if item.type == "group":
            return dataclasses.replace(item, text=text.groups.get(item.link_id, item.text),
                                       items=tuple(reword(i) for i in item.items))
        if item.link_id in text.gates:
            return dataclasses.replace(item, text=text.gates[item.link_id])
        given = items.get(item.link_id)
        if given is None:
            return item
        options = tuple(Choice(o.value, o.code, words)
                        for o, words in zip(item.options, given.options, strict=False))
        return dataclasses.replace(item, text=given.text,
                                   options=options if item.options else item.options)

    return dataclasses.replace(form, title=text.title or form.title,
                               copyright=text.licence,
                               items=tuple(reword(i) for i in form.items))


def offered_to_patients(inst: Instrument, loaded: set[str]) -> bool:
    """Whether patients may answer ``inst`` at home, given the ids with a loaded clinic text."""
    if inst.administered_by != "patient":
        return False
    return inst.patient_wording == "shipped" or inst.id in loaded


def required_items(inst: Instrument) -> set[str]:
    """The items a patient answering at home must answer when shown (all but ``may_skip``)."""
    return {i.link_id for i in inst.item if not i.may_skip} | set(inst.gate)
