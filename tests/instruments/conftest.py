"""Shared helpers for the instrument tests: answer strategies generated from the data itself."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from spinecare.instruments.catalogue import form
from spinecare.instruments.forms import Form
from spinecare.instruments.registry import Instrument, instruments

REGISTRY = instruments()
INSTRUMENT_IDS = sorted(REGISTRY)


def item_values(inst: Instrument, link_id: str) -> list[Any]:
    item = next(i for i in inst.item if i.link_id == link_id)
    return inst.scale_of(item).values()


def instrument_answers(inst: Instrument, *, none_rate: bool = True) -> st.SearchStrategy[
        dict[str, Any]]:
    """Answers by linkId for every scored item of ``inst``: each a value of its scale or
    unanswered (absent). ZCQ-style gates are answered yes when their group is answered."""
    pieces = {}
    for item in inst.item:
        values = st.sampled_from(inst.scale_of(item).values())
        pieces[item.link_id] = (st.none() | values) if none_rate else values

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        drawn = {k: draw(v) for k, v in pieces.items()}
        answers = {k: v for k, v in drawn.items() if v is not None}
        for group, meta in inst.group.items():
            if meta.enabled_by and any(i.link_id in answers for i in inst.items_in(group)):
                answers[meta.enabled_by] = True
        return answers

    return build()


def form_answers(f: Form) -> st.SearchStrategy[dict[str, Any]]:
    """Answers by linkId for any form, respecting its enableWhen: a hidden question is never
    answered. Amounts are drawn within the item's bounds, in its base unit."""
    questions = f.questions()

    def value_of(link: str) -> st.SearchStrategy[Any]:
        item = questions[link]
        if item.type == "boolean":
            return st.booleans()
        if item.type == "choice":
            return st.sampled_from([o.value for o in item.options])
        low, high = item.min_value or 0, item.max_value or 10
        if item.type == "integer":
            return st.integers(int(low), int(high))
        return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for link in questions:
            if link not in f.enabled(answers):
                continue
            if draw(st.booleans()):
                answers[link] = draw(value_of(link))
        return answers

    return build()


def intake() -> Form:
    return form("intake")
