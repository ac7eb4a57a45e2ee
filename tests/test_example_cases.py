"""Every example case gives what its .expect.json asks; the harness itself can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinecare.case import parse_case
from spinecare.reasoning.engine import assess
from tests.conftest import CASES, load_json
from tests.expectations import failures

EXAMPLES = sorted(CASES.glob("*.case.json"))


def _assess(path: Path) -> dict:
    return assess(parse_case(path.read_bytes()))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_example_case_meets_its_expectations(path: Path) -> None:
    expect = load_json(path.with_name(path.name.replace(".case.", ".expect.")))
    assert failures(_assess(path), expect) == []


def test_every_example_case_has_an_expectation() -> None:
    assert EXAMPLES
    for path in EXAMPLES:
        assert path.with_name(path.name.replace(".case.", ".expect.")).exists(), path


@pytest.mark.parametrize("wrong", [
    {"triage": ["self_care"]},
    {"top": ["nonspecific_low_back_pain"]},
    {"no_red_flags": True},
    {"lbp": ["none"]},
    {"include": ["hip_osteoarthritis"]},
    {"not_high": ["cauda_equina_syndrome"]},
    {"red_flags": ["fracture"]},
    {"scores": {"odi": 50}},
    {"null_scores": ["odi"]},
    {"tirage": ["emergency"]},
])
def test_the_harness_fails_a_wrong_expectation(wrong: dict) -> None:
    assert failures(_assess(CASES / "ces-retention.case.json"), wrong) != []
