"""Questionnaires as plain typed values: the common shape of every instrument and the intake.

A :class:`Form` is what the FHIR builder (:mod:`spinecare.instruments.fhir`) renders and what the
response readers (:mod:`spinecare.instruments.answers`) check answers against. Instruments are
turned into forms from their registry data (:func:`instrument_form`); the intake builds its own
(:mod:`spinecare.instruments.intake`). Forms carry no URLs: the canonical base is applied when a
form is rendered, so the same form can be published under any base.

``enable_when`` follows FHIR R4: an item is shown when its parent is shown and its conditions
hold (all of them, or any, by ``enable_behavior``). A condition on an unanswered question is
false, so a question is only ever enabled by an answer, never by the lack of one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from spinecare.instruments.registry import Coding, Instrument
from spinecare.kb.citations import packaged_citations
from spinecare.vocabulary import EnableBehavior, PublicationStatus

ItemType = Literal["group", "display", "boolean", "choice", "integer", "decimal", "quantity"]
ANSWERABLE: frozenset[str] = frozenset({"boolean", "choice", "integer", "decimal", "quantity"})
Value = bool | int | float | str


@dataclass(frozen=True, slots=True)
class Choice:
    value: int | str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit an amount may be given in (UCUM code) and its size in the item's base unit."""

    code: str
    display: str
    factor: Fraction


@dataclass(frozen=True, slots=True)
class Condition:
    """``question`` has been answered with ``answer`` (FHIR operator ``=``)."""

    question: str
    answer: Value


@dataclass(frozen=True, slots=True)
class FormItem:
    link_id: str
    type: ItemType
    text: str
    prefix: str | None = None
    options: tuple[Choice, ...] = ()
    system: str | None = None
    """The code system of the options, as a name relative to the canonical base."""
    min_value: int | float | None = None
    max_value: int | float | None = None
    units: tuple[Unit, ...] = ()
    """``quantity``: the units an answer may use, the first being the base unit; ``decimal``:
    the single unit of the number."""
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: EnableBehavior = "all"
    items: tuple[FormItem, ...] = ()
    codes: tuple[Coding, ...] = ()

    def option(self, value: Any) -> Choice | None:
        for o in self.options:
            if o.value == value and type(o.value) is type(value):
                return o
        return None


@dataclass(frozen=True, slots=True)
class Form:
    id: str
    name: str
    """A machine-friendly name (``OswestryDisabilityIndex``)."""
    title: str
    version: str
    status: PublicationStatus
    description: str
    copyright: str | None
    codes: tuple[Coding, ...]
    items: tuple[FormItem, ...]

    def walk(self) -> Iterator[tuple[FormItem, tuple[FormItem, ...]]]:
        """Every item in document order, with its ancestors (outermost first)."""

        def visit(items: tuple[FormItem, ...],
                  above: tuple[FormItem, ...]) -> Iterator[tuple[FormItem, tuple[FormItem, ...]]]:
            for item in items:
                yield item, above
                yield from visit(item.items, (*above, item))

        yield from visit(self.items, ())

    def questions(self) -> dict[str, FormItem]:
        """The answerable items by link id, in document order."""
        return {item.link_id: item for item, _ in self.walk() if item.type in ANSWERABLE}

    def enabled(self, answers: Mapping[str, Any]) -> set[str]:
        """The link ids of every item shown, given the answers (FHIR enableWhen).

        An answer to a hidden question does not count: as in FHIR, a disabled item's answers
        are discarded, so they can enable nothing. Conditions name earlier questions, so one
        pass in document order decides every item.
        """
        shown: set[str] = set()
        for item, above in self.walk():
            if above and above[-1].link_id not in shown:
                continue
            if item.enable_when:
                results = [_holds(c, answers, shown) for c in item.enable_when]
                if not (any(results) if item.enable_behavior == "any" else all(results)):
                    continue
            shown.add(item.link_id)
        return shown


def _holds(condition: Condition, answers: Mapping[str, Any], shown: set[str]) -> bool:
    given = answers.get(condition.question)
    return condition.question in shown and given is not None and given == condition.answer \
        and type(given) is type(condition.answer)


# --- instruments as forms ---------------------------------------------------------------------


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", "_").split("_"))


def describe_rule(inst: Instrument) -> str:
    """The scoring rule in one or two sentences, from the data."""
    s = inst.scoring
    if s.kind == "percent_of_answered":
        rule = (f"Score: 100 x sum / ({s.item_max} x answered items), {s.decimals} decimal; "
                f"scored with up to {s.max_missing} items unanswered (flagged).")
    elif s.kind == "sum_of_domains":
        rule = "Score: the sum of the domain scores; every domain is needed."
    elif s.kind == "subscale_means":
        parts = [f"{name.replace('_', ' ')} (mean of {sub.items} items, {sub.item_min}-"
                 f"{sub.item_max}, at least {sub.min_answered} answered)"
                 for name, sub in (s.subscales or {}).items()]
        rule = "Scores: " + "; ".join(parts) + "."
    elif s.kind == "ratings":
        rule = "Each rating is reported and banded on its own."
    elif s.kind == "count_positive":
        rule = f"Count of positive items. {s.rule_in}. {s.rule_out}."
    else:
        rule = f"One point per yes. Positive when {_criteria_text(inst)}."
    return rule


def _criteria_text(inst: Instrument) -> str:
    numbers = {item.link_id: n for n, item in enumerate(inst.item, 1)}

    def span(group: str) -> str:
        members = [numbers[i.link_id] for i in inst.items_in(group)]
        return f"items {members[0]}-{members[-1]}"

    alternatives = [" and ".join(f"{least} or more yes in {span(g)}" for g, least in c.items())
                    for c in inst.scoring.criteria or []]
    return ", or ".join(alternatives)


def instrument_description(inst: Instrument) -> str:
    """Markdown for ``Questionnaire.description``: what it is, its scoring, what is unverified."""
    citations = packaged_citations()
    who = "the patient" if inst.administered_by == "patient" else "a clinician"
    lines = [f"{inst.name} (version {inst.version}), completed by {who}.", "",
             describe_rule(inst)]
    if inst.scoring.caution:
        lines += ["", f"Caution: {inst.scoring.caution}"]
    if inst.wording == "withheld":
        lines += ["", "Wording under licence: item titles and neutral answer anchors only; use "
                      "the licensed form for the wording."]
    unverified = inst.unverified()
    if unverified:
        lines += ["", "Not verified against the source: " + "; ".join(unverified) + "."]
    sources = [citations[c].short() for c in inst.cite if c in citations]
    lines += ["", "Sources: " + "; ".join(sources) + "."]
    return "\n".join(lines)


def instrument_form(inst: Instrument) -> Form:
    """The questionnaire of an instrument, built from its registry data."""
    top: list[FormItem] = [FormItem("instructions", "display", inst.instructions)]
    for gate_id, gate_item in inst.gate.items():
        top.append(FormItem(gate_id, "boolean", gate_item.text))
    number = 0
    done: set[str] = set()
    for item in inst.item:
        group = item.group
        if group is not None and group in done:
            continue
        members = inst.items_in(group) if group is not None else [item]
        rendered = []
        for member in members:
            number += 1
            rendered.append(_question(inst, member, number))
        meta = inst.group.get(group) if group is not None else None
        if meta is not None and (len(members) > 1 or meta.enabled_by is not None):
            when = (Condition(meta.enabled_by, True),) if meta.enabled_by else ()
            top.append(FormItem(group or "", "group", meta.title, enable_when=when,
                                items=tuple(rendered)))
        else:
            top.extend(rendered)
        if group is not None:
            done.add(group)
    return Form(
        id=inst.id, name="Spinecare" + _pascal(inst.id), title=inst.name, version=inst.version,
        status=inst.status, description=instrument_description(inst), copyright=inst.licence,
        codes=(inst.code,) if inst.code else (), items=tuple(top))


def _question(inst: Instrument, item: Any, number: int) -> FormItem:
    scale = inst.scale_of(item)
    codes = (item.code,) if item.code else ()
    if scale.type == "choice":
        return FormItem(item.link_id, "choice", item.text, prefix=f"{number}.",
                        options=tuple(Choice(o.value, o.code, o.display) for o in scale.options),
                        system=f"{inst.id}-{item.scale}", codes=codes)
    if scale.type == "integer":
        return FormItem(item.link_id, "integer", item.text, prefix=f"{number}.",
                        min_value=scale.min, max_value=scale.max, codes=codes)
    return FormItem(item.link_id, "boolean", item.text, prefix=f"{number}.", codes=codes)
