"""The case model accepts and rejects exactly what case.schema.json does, with JSON-path errors."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spinecare.case import parse_case
from spinecare.errors import CaseError
from tests.conftest import CASES, load_json
from tests.strategies import CASE_VALIDATOR as VALIDATOR
from tests.strategies import valid_case_documents

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 6000) | st.floats(-10, 6000, allow_nan=False)
    | st.text(max_size=6) | st.sampled_from(["left", "both", "A", "L5", "mri", "lumbar", "normal"]),
    lambda inner: st.lists(inner, max_size=11) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=12,
)


def model_accepts(doc: Any) -> bool:
    try:
        parse_case(orjson.dumps(doc))
    except CaseError:
        return False
    return True


@pytest.mark.parametrize("path", sorted(CASES.glob("*.case.json")), ids=lambda p: p.name)
def test_every_example_case_is_valid(path: Any) -> None:
    doc = load_json(path)
    assert VALIDATOR.is_valid(doc)
    assert parse_case(path.read_bytes()).id == doc["id"]


@pytest.mark.parametrize("path", sorted((CASES / "invalid").glob("*.case.json")),
                         ids=lambda p: p.name)
def test_every_invalid_example_is_rejected_naming_its_path(path: Any) -> None:
    expected = load_json(path.with_name(path.name.replace(".case.", ".expect.")))
    assert not VALIDATOR.is_valid(load_json(path))
    with pytest.raises(CaseError) as info:
        parse_case(path.read_bytes())
    assert any(p.path == expected["error_mentions"] for p in info.value.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
@example({"schema": "spinecare.case/1", "id": "x\n", "patient": {"age": 50}})
def test_model_accepts_every_schema_valid_case(doc: dict[str, Any]) -> None:
    case = parse_case(orjson.dumps(doc))
    assert case.id == doc["id"]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents, st.data())
def test_model_and_schema_agree_on_mutated_documents(doc: dict[str, Any], data: Any) -> None:
    mutated = copy.deepcopy(doc)
    path = data.draw(st.sampled_from(_paths(mutated)[1:] or [("id",)]))
    value = data.draw(json_values)
    if data.draw(st.booleans()) and isinstance(value, dict) is False:
        # add a key beside the chosen one: unknown keys must be refused by both
        parent = mutated
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=6))] = value
    else:
        parent = mutated
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
    assert model_accepts(mutated) == VALIDATOR.is_valid(mutated), mutated


def _agree(doc: dict[str, Any]) -> None:
    assert model_accepts(doc) == VALIDATOR.is_valid(doc), doc


MINIMAL = {"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50}}


@pytest.mark.parametrize("doc", [
    # A string ending in a newline is valid where the schema sets no pattern...
    {**MINIMAL, "id": "x\n"},
    # ...and invalid where it does: ECMA's "$" does not match before a final newline.
    {**MINIMAL, "exam": {"motor_deficits": [{"limb": "leg", "side": "left", "myotome": "L5\n",
                                             "mrc_grade": 4}]}},
    {**MINIMAL, "imaging": [{"modality": "mri", "region": "lumbar", "level": "L4-L5\n"}]},
    # The schema refuses null for the ZCQ's two item lists (only their items may be null).
    {**MINIMAL, "instruments": {"zcq": {"symptom_severity": None}}},
    {**MINIMAL, "instruments": {"zcq": {"physical_function": None}}},
], ids=["newline-without-pattern", "newline-in-myotome", "newline-in-level",
        "zcq-severity-null", "zcq-function-null"])
def test_model_and_schema_agree_on_documents_that_once_split_them(doc: dict[str, Any]) -> None:
    _agree(doc)


def test_unknown_and_false_are_kept_apart() -> None:
    case = parse_case(b'{"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50},'
                      b' "history": {"fever": false, "iv_drug_use": null}}')
    assert case.history.fever is False
    assert case.history.iv_drug_use is None
    assert case.history.night_pain is None


def test_every_problem_is_reported_with_its_json_path() -> None:
    doc = {"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50},
           "exam": {"motor_deficits": [{"limb": "leg", "side": "left", "mrc_grade": 9}]},
           "symptoms": {"bladder": "leaky"}}
    with pytest.raises(CaseError) as info:
        parse_case(orjson.dumps(doc))
    paths = {p.path for p in info.value.problems}
    assert paths == {"exam.motor_deficits[0].mrc_grade", "symptoms.bladder"}


def test_a_typo_gets_a_suggestion() -> None:
    with pytest.raises(CaseError) as info:
        parse_case(b'{"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50},'
                   b' "symptoms": {"legpain": "both"}}')
    assert str(info.value.problems[0]) == (
        "symptoms.legpain: is not a known field (did you mean leg_pain?)")


def test_an_integral_float_counts_as_an_integer_as_in_json_schema() -> None:
    doc = {"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50.0}}
    assert VALIDATOR.is_valid(doc)
    assert parse_case(orjson.dumps(doc)).patient.age == 50


def test_a_boolean_is_not_a_number() -> None:
    doc = {"schema": "spinecare.case/1", "id": "x", "patient": {"age": True}}
    assert not VALIDATOR.is_valid(doc)
    assert not model_accepts(doc)


def test_broken_json_is_one_clear_problem() -> None:
    with pytest.raises(CaseError) as info:
        parse_case(b'{"schema": ')
    assert len(info.value.problems) == 1
    assert "not valid JSON" in info.value.problems[0].message
