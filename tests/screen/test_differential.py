"""The compiled screen against the reference: every output column of the DuckDB engine equal to
the per-case assessment (the ``python`` engine), probabilities within 1e-9, on generated tables
(every row its own share of unknown fields), on cases drawn by the schema's hypothesis
strategy, and on every example case with each of its known fields made unknown in turn.

The bulk test screens ``SPINECARE_SCREEN_ROWS`` generated rows (20,000 by default; the issue's
acceptance run sets 200,000). A deliberately broken compiler must be caught."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinecare.screen import compiler
from spinecare.screen.columns import case_to_row, input_columns, rows_to_table
from spinecare.screen.engines import DuckDBEngine, PythonEngine
from spinecare.screen.generate import generate_batches
from tests.conftest import CASES
from tests.screen.differential import disagreements
from tests.strategies import valid_case_documents

ROWS = int(os.environ.get("SPINECARE_SCREEN_ROWS", "20000"))
DOCS = [orjson.loads(p.read_bytes()) for p in sorted(CASES.glob("*.case.json"))]
PYTHON = PythonEngine()
DUCKDB = DuckDBEngine()


def check(table: pa.Table, engine: Any = DUCKDB) -> None:
    problems = disagreements(PYTHON.screen_table(table), engine.screen_table(table))
    assert not problems, "\n".join(problems)


def test_generated_rows_screen_as_the_reference_assesses_them() -> None:
    for batch in generate_batches(ROWS, seed=12, batch_rows=50_000):
        check(batch)


def _one_unknown_each() -> list[dict[str, Any]]:
    """Each example case, and the case with each of its known fields made unknown."""
    rows = []
    for doc in DOCS:
        row = case_to_row(doc)
        rows.append(row)
        for col in input_columns():
            if row[col.name] is not None:
                rows.append({**row, col.name: None, "case_id": f"{doc['id']}-{col.name}"})
    rows.append({"case_id": "nothing-known"})
    return rows


def test_every_example_with_each_known_field_unknown_screens_as_assessed() -> None:
    check(rows_to_table(_one_unknown_each()))


@settings(max_examples=4, suppress_health_check=list(HealthCheck))
@given(st.lists(valid_case_documents, min_size=100, max_size=300))
def test_schema_generated_cases_screen_as_assessed(docs: list[dict[str, Any]]) -> None:
    rows = [{**case_to_row(d), "case_id": f"h{i}"} for i, d in enumerate(docs)]
    check(rows_to_table(rows))


def test_a_broken_compiler_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # at_least read as "more than": off by one, as a hand-written rule might be
    wrong = compiler._count(most=False)

    def broken(c: Any, node: Any, where: str, item: Any) -> str:
        return wrong(c, node, where, item).replace(">= ", "> ", 1)

    monkeypatch.setitem(compiler.COLUMNAR, "at_least", broken)
    table = rows_to_table(_one_unknown_each())
    problems = disagreements(PYTHON.screen_table(table), DuckDBEngine().screen_table(table))
    assert problems
