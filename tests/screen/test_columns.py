"""The input columns: derived from the case model, a row and its case say the same thing both
ways, and a bad table is named by column, first bad row and reason."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings

from spinecare.case import Case, parse_case
from spinecare.screen import columns
from spinecare.screen.columns import (
    case_to_row,
    check_table,
    input_schema,
    row_to_case,
    rows_to_table,
    table_rows,
)
from tests.conftest import CASES
from tests.strategies import valid_case_documents

EXAMPLES = sorted(CASES.glob("*.case.json"))


def test_every_case_field_is_a_column_named_by_its_dotted_path() -> None:
    names = set(input_schema().names)
    for section in columns.SECTIONS:
        model = columns._section_model(section)
        for field in model.model_fields:
            assert f"{section}.{field}" in names
    assert "imaging" in names and "case_id" in names
    assert input_schema().field("patient.age").type == pa.int64()
    assert input_schema().field("symptoms.leg_pain").type == pa.string()
    assert input_schema().field("exam.ankle_brachial_index").type == pa.float64()
    deficits = input_schema().field("exam.motor_deficits").type
    assert pa.types.is_list(deficits) and pa.types.is_struct(deficits.value_type)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_case_round_trips_through_a_row(path: Any) -> None:
    doc = orjson.loads(path.read_bytes())
    back = row_to_case(case_to_row(doc))
    assert parse_case(back) == parse_case(doc)


@settings(max_examples=300)
@given(valid_case_documents)
def test_a_generated_case_round_trips_through_a_row_and_a_table(doc: dict[str, Any]) -> None:
    row = case_to_row(doc)
    assert parse_case(row_to_case(row)) == parse_case(doc)
    (again,) = table_rows(rows_to_table([row]))
    assert again == row
    assert case_to_row(row_to_case(again)) == row


def test_a_row_without_an_id_is_named_by_its_place() -> None:
    row = case_to_row({"schema": "spinecare.case/1", "id": "x", "patient": {"age": 50}})
    del row["case_id"]
    case = parse_case(row_to_case(row, 7))
    assert case.id == "row-7"
    assert case == Case.model_validate({"schema": "spinecare.case/1", "id": "row-7",
                                        "patient": {"age": 50}})


def test_all_null_is_all_unknown() -> None:
    (row,) = table_rows(rows_to_table([{}]))
    case = parse_case(row_to_case(row, 1))
    assert case.patient.age is None and case.exam.motor_deficits is None
    assert case.imaging is None and case.instruments.mjoa is None


def _table(**cols: Any) -> pa.Table:
    return pa.table(cols)


def test_an_unknown_column_is_named_with_the_nearest_known_one() -> None:
    (problem,) = check_table(_table(**{"symptoms.legpain": ["left"]}))
    assert problem.column == "symptoms.legpain" and problem.row is None
    assert "is not a case field" in problem.reason and "symptoms.leg_pain" in problem.reason


def test_a_wrong_type_names_the_column_and_both_types() -> None:
    (problem,) = check_table(_table(**{"patient.age": ["fifty"]}))
    assert str(problem) == "patient.age: must be int64, not string"


def test_an_integer_column_may_stand_for_a_number_and_null_for_anything() -> None:
    table = _table(**{"exam.ankle_brachial_index": pa.array([1, 0], pa.int32()),
                      "patient.age": pa.array([None, None], pa.null())})
    assert check_table(table) == []


def test_a_value_out_of_range_names_the_first_bad_row() -> None:
    table = _table(**{"patient.age": pa.array([40, None, 130, 150], pa.int64())})
    (problem,) = check_table(table, first_row=10)
    assert problem.column == "patient.age" and problem.row == 12 and problem.count == 2
    assert "<= 120" in problem.reason
    assert str(problem).startswith("patient.age (row 13 and 1 more): must be <= 120")


def test_a_value_outside_the_vocabulary_is_named() -> None:
    (problem,) = check_table(_table(**{"symptoms.leg_pain": ["left", "bilateral"]}))
    assert problem.row == 1 and "none, left, right, both" in problem.reason


def test_a_bad_item_inside_a_list_names_its_row() -> None:
    deficits = [None, [], [{"limb": "leg", "side": "left", "mrc_grade": 4},
                           {"limb": "leg", "side": "left", "mrc_grade": 7}]]
    t = pa.table({"exam.motor_deficits": pa.array(
        deficits, input_schema().field("exam.motor_deficits").type)})
    (problem,) = check_table(t)
    assert problem.column == "exam.motor_deficits[].mrc_grade" and problem.row == 2


def test_a_missing_required_field_of_an_item_is_named() -> None:
    deficits = [[{"limb": "leg", "side": "left", "mrc_grade": None}]]
    t = pa.table({"exam.motor_deficits": pa.array(
        deficits, input_schema().field("exam.motor_deficits").type)})
    (problem,) = check_table(t)
    assert str(problem) == "exam.motor_deficits[].mrc_grade (row 1): is required"


def test_a_pattern_is_checked() -> None:
    deficits = [[{"limb": "leg", "side": "left", "myotome": "L9", "mrc_grade": 3}]]
    t = pa.table({"exam.motor_deficits": pa.array(
        deficits, input_schema().field("exam.motor_deficits").type)})
    (problem,) = check_table(t)
    assert problem.column == "exam.motor_deficits[].myotome" and "pattern" in problem.reason


def test_an_empty_case_id_is_refused() -> None:
    (problem,) = check_table(_table(case_id=["a", ""]))
    assert problem.column == "case_id" and problem.row == 1


def test_a_valid_table_has_no_problems() -> None:
    docs = [orjson.loads(p.read_bytes()) for p in EXAMPLES]
    assert check_table(rows_to_table(case_to_row(d) for d in docs)) == []
