"""What an unknown result depends on: the unknown facts and references that would settle it."""

from __future__ import annotations

import pytest

from spinecare import criteria
from spinecare.case import Case, parse_case

CASE: Case = parse_case(b'{"schema": "spinecare.case/1", "id": "u", "patient": {"age": 70},'
                        b' "symptoms": {"claudication": true, "relief_sitting": false}}')
KNOWN = {criteria.Ref("flag", "raised"): True, criteria.Ref("flag", "not_raised"): False,
         criteria.Ref("flag", "unknown"): None}


def names(text: str) -> list[str]:
    node = criteria.parse(text, "test", frozenset())
    return [f"{n.section}.{n.field}" if isinstance(n, criteria.Fact) else f"{n.kind}.{n.name}"
            for n in criteria.unknowns(node, CASE, KNOWN)]


@pytest.mark.parametrize(("text", "missing"), [
    ("symptoms.claudication", []),
    ("symptoms.saddle_anesthesia", ["symptoms.saddle_anesthesia"]),
    # a false part decides a conjunction: nothing is missing
    ("symptoms.relief_sitting and symptoms.saddle_anesthesia", []),
    ("symptoms.claudication and symptoms.saddle_anesthesia", ["symptoms.saddle_anesthesia"]),
    # a true part decides a disjunction
    ("symptoms.claudication or symptoms.saddle_anesthesia", []),
    ("symptoms.relief_sitting or symptoms.saddle_anesthesia or history.fever",
     ["symptoms.saddle_anesthesia", "history.fever"]),
    ("not symptoms.saddle_anesthesia", ["symptoms.saddle_anesthesia"]),
    ("history.duration_weeks < 6", ["history.duration_weeks"]),
    ("history.course in ('worsening',)", ["history.course"]),
    ("flag.raised and flag.unknown", ["flag.unknown"]),
    ("flag.not_raised and flag.unknown", []),
    # a count names only the items it is waiting for
    ("at_least(2, symptoms.claudication, symptoms.relief_sitting, history.fever)",
     ["history.fever"]),
    ("at_least(1, symptoms.claudication, history.fever)", []),
    # whether something is known is never unknown
    ("known(history.fever)", []),
    ("not known(history.fever) and history.course == 'stable'", ["history.course"]),
])
def test_an_unknown_result_names_the_unknown_leaves_it_depends_on(
    text: str, missing: list[str],
) -> None:
    assert names(text) == missing
