"""Small populations for the command's tests: the example cases of tests/data/cases, repeated
under new ids, as Parquet, CSV and JSON Lines, with the care columns the worklists read."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from spinecare.screen.columns import case_to_row, input_schema
from spinecare.screen.inputs import CARE_PLAN, CARE_REFERRAL

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"


def example_cases() -> list[dict[str, Any]]:
    return [orjson.loads(p.read_bytes()) for p in sorted(CASES.glob("*.case.json"))]


def population(copies: int = 2) -> list[dict[str, Any]]:
    """Every example case ``copies`` times, each copy with its own id."""
    out = []
    for n in range(copies):
        for case in example_cases():
            out.append({**case, "id": f"{case['id']}-{n + 1}"})
    return out


def care_of(index: int) -> tuple[bool | None, bool | None]:
    """Referral and plan for the row at ``index``: true, false and unknown in turn."""
    cycle: tuple[bool | None, ...] = (None, True, False)
    return cycle[index % 3], cycle[(index + 1) % 3]


def table(cases: list[dict[str, Any]], care: bool = True) -> pa.Table:
    rows = [case_to_row(c) for c in cases]
    t = pa.Table.from_pylist(rows, input_schema())
    if care:
        refs, plans = zip(*(care_of(i) for i in range(len(cases))), strict=True)
        t = t.append_column(CARE_REFERRAL, pa.array(refs, pa.bool_()))
        t = t.append_column(CARE_PLAN, pa.array(plans, pa.bool_()))
    return t


def write_parquet(path: Path, cases: list[dict[str, Any]], care: bool = True) -> Path:
    pq.write_table(table(cases, care), path)
    return path


def write_csv(path: Path, cases: list[dict[str, Any]]) -> Path:
    """The cases as CSV: text cells, lists and structs as JSON text, unknown as empty."""
    t = table(cases)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(t.column_names)
        for row in t.to_pylist():
            writer.writerow([_cell(v) for v in row.values()])
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def write_jsonl(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in cases))
    return path
