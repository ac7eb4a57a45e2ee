"""One screen run: an input, checked batch by batch, through an engine into one Parquet file.

Two ways through, the same output:

- **batches** (every engine, every input): each batch of the input is checked
  (:class:`~spinecare.screen.inputs.Input`), screened by ``engine.screen_table`` and appended to
  the output; memory holds one batch (and the worklists' first rows), whatever the input's size;
- **the engine's own file path** (``--engine spark`` on a Parquet or CSV file): the input is
  checked first, batch by batch, then Spark reads it and writes the output itself
  (``engine.screen_file``), so the work runs where Spark runs, a cluster included.

Either way the output is complete or absent (:mod:`spinecare.screen.atomic`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spinecare.screen.atomic import atomic_file, atomic_path, terminate_as_exception
from spinecare.screen.columns import CASE_ID, ROW_ID_PREFIX
from spinecare.screen.engines import ScreenEngine
from spinecare.screen.inputs import CARE_COLUMNS, CARE_SCHEMA, BadRow, Input, InputBatch
from spinecare.screen.output import output_schema
from spinecare.screen.report import Summary

Progress = Callable[[int], None]


@dataclass
class Result:
    rows: int  # screened
    rejected: int  # left out (--skip-invalid)
    seconds: float


def with_row_ids(batch: InputBatch) -> pa.Table:
    """The batch's case columns with every missing ``case_id`` named after its input row, as
    :func:`~spinecare.screen.columns.row_to_case` names it."""
    table = batch.cases
    n = table.num_rows
    if n == 0:
        return table
    if CASE_ID in table.column_names and table.column(CASE_ID).null_count == 0:
        return table
    # the rows' numbers in the input: rejected rows keep their numbers, so skip them
    skipped = {b.row for b in batch.rejected}
    numbers = [r for r in range(batch.first_row, batch.first_row + batch.rows_read)
               if r not in skipped][:n] if skipped else range(batch.first_row,
                                                              batch.first_row + n)
    generated = pa.array([f"{ROW_ID_PREFIX}{r}" for r in numbers], pa.string())
    if CASE_ID in table.column_names:
        index = table.column_names.index(CASE_ID)
        ids = pc.coalesce(table.column(CASE_ID).cast(pa.string()), generated)
        return table.set_column(index, CASE_ID, ids)
    return table.add_column(0, CASE_ID, generated)


def screen_batches(source: Input, engine: ScreenEngine, out: Path, *, summary: Summary,
                   rejected_to: Path | None = None, progress: Progress | None = None,
                   schema: pa.Schema | None = None) -> Result:
    """Screen ``source`` batch by batch into ``out``."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    schema = schema or output_schema(summary.knowledge.conditions)
    rows = rejected = read = 0
    with terminate_as_exception(), atomic_file(out) as fh:
        side = atomic_file(rejected_to) if rejected_to is not None else None
        side_fh = side.__enter__() if side is not None else None
        ok = False
        try:
            with pq.ParquetWriter(fh, schema) as writer:
                for batch in source.batches():
                    if side_fh is not None:
                        _write_rejected(side_fh, batch.rejected)
                    rejected += len(batch.rejected)
                    read += batch.rows_read
                    if batch.cases.num_rows:
                        result = engine.screen_table(with_row_ids(batch))
                        if result.schema != schema:
                            result = result.cast(schema)
                        writer.write_table(result)
                        summary.add(result, batch.care)
                        rows += result.num_rows
                    if progress is not None:
                        progress(read)
            ok = True
        finally:
            if side is not None:
                if ok:
                    side.__exit__(None, None, None)
                else:
                    error = RuntimeError("screen stopped")
                    side.__exit__(RuntimeError, error, None)
    summary.rejected = rejected
    return Result(rows, rejected, time.perf_counter() - started)


def screen_with_engine_file(source: Input, engine: ScreenEngine, out: Path, *,
                            summary: Summary, progress: Progress | None = None) -> Result:
    """Check ``source`` batch by batch, then let the engine read it and write ``out`` itself
    (Spark); the summary is then taken from the output, with the input's care columns."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    care: list[pa.Table] = []
    read = 0
    for batch in source.batches():  # raises BadInput on the first problem
        read += batch.rows_read
        care.append(batch.care)
        if progress is not None:
            progress(read // 2)
    fmt: Any = source.format
    with terminate_as_exception(), atomic_path(out) as temp:
        rows = engine.screen_file(source.path, fmt, temp,
                                  progress=None if progress is None else
                                  (lambda done: progress(read // 2 + done // 2)))
        dataset = pq.ParquetDataset(str(temp))
        care_table = pa.concat_tables(care) if care else CARE_SCHEMA.empty_table()
        offset = 0
        for fragment in dataset.fragments:
            for part in fragment.to_batches():
                table = pa.Table.from_batches([part])
                summary.add(table, care_table.slice(offset, table.num_rows))
                offset += table.num_rows
    if progress is not None:
        progress(read)
    return Result(rows, 0, time.perf_counter() - started)


def _write_rejected(fh: Any, rejected: list[BadRow]) -> None:
    for bad in rejected:
        fh.write(bad.as_json() + b"\n")


__all__ = ["CARE_COLUMNS", "Result", "screen_batches", "screen_with_engine_file",
           "with_row_ids"]
