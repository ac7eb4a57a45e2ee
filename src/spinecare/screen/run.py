"""One screen run: an input, checked batch by batch, through an engine into one Parquet file.

Two ways through, the same output:

- **the engine's own file path** (DuckDB or Spark on a Parquet or CSV file, the usual case):
  the input is checked first, batch by batch, then the engine reads it and writes the output
  itself in one query or plan (``engine.screen_file``), streaming with bounded memory, where
  the engine runs (a Spark cluster included);
- **batches** (the python engine, JSON Lines, ``--skip-invalid``): each batch of the input is
  checked (:class:`~spinecare.screen.inputs.Input`), its bad rows set aside, screened by
  ``engine.screen_table`` and appended to the output; memory holds one batch (and the
  worklists' first rows), whatever the input's size.

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
from spinecare.screen.inputs import (
    CARE_COLUMNS,
    CARE_SCHEMA,
    BadInput,
    BadRow,
    Input,
    InputBatch,
)
from spinecare.screen.output import output_schema
from spinecare.screen.report import Summary

Progress = Callable[[int], None]
"""Told the rows done so far in the current phase."""
Phase = Callable[[str, "int | None"], None]
"""Told when a phase starts: its name and its total of rows, when known."""


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


def screen_batches(source: Input, engine: ScreenEngine, out: Path, *, summary: Summary | None,
                   rejected_to: Path | None = None, progress: Progress | None = None,
                   schema: pa.Schema | None = None) -> Result:
    """Screen ``source`` batch by batch into ``out``."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    schema = schema or getattr(engine, "schema", None) or output_schema()
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
                        if summary is not None:
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
    if summary is not None:
        summary.rejected = rejected
    return Result(rows, rejected, time.perf_counter() - started)


def screen_with_engine_file(source: Input, engine: ScreenEngine, out: Path, *,
                            summary: Summary | None, progress: Progress | None = None,
                            phase: Phase | None = None) -> Result:
    """Check ``source`` batch by batch, and let the engine read it and write ``out`` itself,
    in one query or plan (DuckDB, Spark): the fast path, with no batch boundaries in the
    screen. The summary is then taken from the output, with the input's care columns.

    An engine that can be stopped at once (``overlaps_check``: DuckDB) screens while this
    thread checks, on another core: a problem found stops it, and the problem is the error,
    even when the engine met the bad value first. Any other engine starts when the check has
    passed.

    The engine runs in a helper thread so that Ctrl-C and SIGTERM reach this one at once: the
    temporary output is removed and the process ends without waiting for the query."""
    import threading

    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    started = time.perf_counter()
    care: list[pa.Table] = []
    read = 0
    alongside = bool(getattr(engine, "overlaps_check", False))
    fmt: Any = source.format

    def check(report: Progress | None) -> None:
        nonlocal read
        for batch in source.checked_batches():  # raises BadInput on the first problem
            read += batch.rows_read
            care.append(batch.care)
            if report is not None:
                report(read)

    if not alongside:
        if phase is not None:
            phase("checking", source.total_rows())
        check(progress)
    with terminate_as_exception(), atomic_path(out) as temp:
        if phase is not None:  # the check has counted the rows, or the input says how many
            phase(f"screening ({engine.name})", read if not alongside else source.total_rows())
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["rows"] = engine.screen_file(source.path, fmt, temp, progress=progress)
            except BaseException as exc:  # handed to the waiting thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="screen", daemon=True)
        _engine_threads.append(worker)
        worker.start()
        if alongside:
            try:
                check(None)
            except BadInput:
                # the engine's queries interrupted and its helpers ended before the problem
                # is told (a query left running would abort the interpreter's exit)
                if worker.is_alive():
                    engine.cancel()  # type: ignore[attr-defined]
                worker.join()
                raise
        while worker.is_alive():
            worker.join(0.1)
        if "error" in outcome:
            raise outcome["error"]
        rows = int(outcome["rows"])
        if summary is not None:
            if phase is not None:
                phase("summarising", rows)
            care_table = pa.concat_tables(care) if care else CARE_SCHEMA.empty_table()
            offset = 0
            # Spark writes a folder of part files, in row order by name; DuckDB one file
            parts = (ds.dataset(str(temp), format="parquet").to_batches(batch_size=262_144)
                     if temp.is_dir() else
                     pq.ParquetFile(str(temp)).iter_batches(batch_size=262_144))
            for part in parts:
                table = pa.Table.from_batches([part])
                summary.add(table, care_table.slice(offset, table.num_rows))
                offset += table.num_rows
                if progress is not None:
                    progress(offset)
    return Result(rows, 0, time.perf_counter() - started)


#: the helper threads that ran an engine's own query, in this process
_engine_threads: list[Any] = []


def engine_query_started() -> bool:
    """Whether an engine's native query ran in a helper thread here: after an interruption
    its native state (a thread pool mid-query) must not meet the interpreter's shutdown."""
    return bool(_engine_threads)


def _write_rejected(fh: Any, rejected: list[BadRow]) -> None:
    for bad in rejected:
        fh.write(bad.as_json() + b"\n")


__all__ = ["CARE_COLUMNS", "Result", "screen_batches", "screen_with_engine_file",
           "with_row_ids"]
