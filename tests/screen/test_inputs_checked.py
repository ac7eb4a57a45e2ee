"""Input.checked_batches: what the file path checks beside the engine. Of a Parquet file it
reads only the columns with values to check, and must find every problem batches() finds, count
the same rows and give the same care columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinecare.screen.generate import generate_table
from spinecare.screen.inputs import BadInput, Input


def _input(tmp_path: Path, age_at: int | None = None) -> str:
    table = generate_table(700, seed=5)
    if age_at is not None:
        ages = table.column("patient.age").to_pylist()
        ages[age_at] = -5
        table = table.set_column(table.column_names.index("patient.age"), "patient.age",
                                 pa.array(ages, table.schema.field("patient.age").type))
    referral = pa.array([None if i % 3 == 0 else i % 2 == 0 for i in range(700)], pa.bool_())
    path = tmp_path / "in.parquet"
    pq.write_table(table.append_column("care.referral", referral), path)
    return str(path)


def test_checked_batches_count_the_same_rows_and_care_without_the_booleans(
        tmp_path: Path) -> None:
    source = Input(_input(tmp_path), batch_rows=128)
    full, checked = list(source.batches()), list(source.checked_batches())
    assert [(b.first_row, b.rows_read) for b in checked] == [
        (b.first_row, b.rows_read) for b in full]
    assert all(c.care.equals(f.care) for c, f in zip(checked, full, strict=True))
    assert sum(b.rows_read for b in checked) == 700
    names = checked[0].cases.column_names
    assert "patient.age" in names and "imaging" in names
    assert "symptoms.claudication" not in names
    assert "symptoms.claudication" in full[0].cases.column_names


@pytest.mark.parametrize("row", [0, 300, 699])
def test_checked_batches_find_the_problem_batches_finds(tmp_path: Path, row: int) -> None:
    source = Input(_input(tmp_path, age_at=row), batch_rows=128)
    with pytest.raises(BadInput) as full:
        list(source.batches())
    with pytest.raises(BadInput) as checked:
        list(source.checked_batches())
    assert str(checked.value) == str(full.value)
    assert f"row {row + 1}" in str(full.value) and "patient.age" in str(full.value)
