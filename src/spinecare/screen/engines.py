"""The screening engines: one table of cases in, one table of assessments (:data:`OUTPUT_SCHEMA`)
out, same rows in the same order.

- ``python``: each row made a case and assessed by the per-case engine, as ``spinecare assess``
  does. Slow (one case at a time) and the reference: the others are tested against it.
- ``duckdb``: the knowledge compiled to one SQL query (:mod:`spinecare.screen.compiler`),
  run by DuckDB in this process.
- ``spark``: the same compiled knowledge as PySpark Column expressions, run by Spark (local
  mode by default, or the cluster at ``master``).

:meth:`ScreenEngine.screen_file` is the fast path for files: the engine reads the input and
writes the Parquet output itself, in one query or plan, streaming with bounded memory. It writes
``dst`` directly; the caller gives a temporary name and renames it when the run is complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinecare.case import parse_case
from spinecare.reasoning.engine import Engine
from spinecare.reasoning.knowledge import Knowledge, default_knowledge
from spinecare.screen.columns import (
    CASE_ID,
    input_columns,
    input_schema,
    row_to_case,
)
from spinecare.screen.output import assessment_to_row, output_schema
from spinecare.screen.output import rows_to_table as output_table

InputFormat = Literal["parquet", "csv"]
EngineName = Literal["python", "duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("python", "duckdb", "spark")
#: Rows per batch when streaming a file: small enough to bound memory, large enough that the
#: per-batch cost is lost in the per-row one.
BATCH_ROWS = 65_536
Progress = Callable[[int], None]
"""Called after each batch with the number of rows done so far."""


class ScreenEngine(Protocol):
    name: str

    def screen_table(self, table: pa.Table) -> pa.Table:
        """The output rows of ``table`` (input columns, checked), same rows, same order."""
        ...

    def screen_file(self, src: str | Path, fmt: InputFormat, dst: str | Path, *,
                    progress: Progress | None = None) -> int:
        """Screen the file ``src`` into the Parquet file ``dst``; the number of rows."""
        ...


class PythonEngine:
    """The reference: every row assessed by :class:`spinecare.reasoning.engine.Engine`."""

    name = "python"

    def __init__(self, knowledge: Knowledge | None = None):
        self.knowledge = knowledge or default_knowledge()
        self.engine = Engine(self.knowledge)
        self.schema = output_schema(self.knowledge.conditions)

    def screen_rows(self, rows: Iterator[Mapping[str, Any]], start: int = 0
                    ) -> Iterator[dict[str, Any]]:
        for i, row in enumerate(rows, start + 1):
            case = parse_case(row_to_case(row, i))
            found = self.engine.findings(case)
            yield assessment_to_row(case.id, self.engine.assess(case),
                                    findings=[n for n, v in found.items() if v is True])

    def screen_table(self, table: pa.Table, start: int = 0) -> pa.Table:
        rows = (r for b in table.to_batches() for r in b.to_pylist())
        return output_table(self.screen_rows(rows, start), self.schema)

    def screen_file(self, src: str | Path, fmt: InputFormat, dst: str | Path, *,
                    progress: Progress | None = None) -> int:
        done = 0
        with pq.ParquetWriter(str(dst), self.schema) as writer:
            for batch in read_batches(src, fmt):
                out = self.screen_table(pa.Table.from_batches([batch]), done)
                writer.write_table(out)
                done += batch.num_rows
                if progress is not None:
                    progress(done)
        return done


def read_batches(src: str | Path, fmt: InputFormat, batch_rows: int = BATCH_ROWS
                 ) -> Iterator[pa.RecordBatch]:
    """The input file in batches of Python-readable columns. In CSV a list or struct column
    holds its value as JSON text (``[{"limb": "leg", ...}]``)."""
    if fmt == "parquet":
        yield from pq.ParquetFile(str(src)).iter_batches(batch_size=batch_rows)
        return
    types = {f.name: (f.type if not _nested(f.type) else pa.string()) for f in input_schema()}
    with open(src, "rb") as fh:
        header = fh.readline().decode("utf-8").strip().split(",")
    reader = pacsv.open_csv(str(src), read_options=pacsv.ReadOptions(block_size=1 << 24),
                            convert_options=pacsv.ConvertOptions(
                                column_types={k: v for k, v in types.items() if k in header}))
    for batch in reader:
        yield from _decode_json_columns(batch).to_batches(max_chunksize=batch_rows)


def _nested(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_struct(t))


def _decode_json_columns(batch: pa.RecordBatch) -> pa.Table:
    specs = {c.name: c.spec for c in input_columns()}
    arrays = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        spec = specs.get(name)
        if name != CASE_ID and spec is not None and _nested(spec.type):
            values = [None if v is None else json.loads(v) for v in col.to_pylist()]
            col = pa.array(values, spec.type)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=batch.schema.names)


def get_engine(name: str, **options: Any) -> ScreenEngine:
    """The engine called ``name`` (``python``, ``duckdb`` or ``spark``); ``options`` go to its
    constructor (``knowledge=``; for Spark ``master=``)."""
    if name == "python":
        return PythonEngine(**options)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
