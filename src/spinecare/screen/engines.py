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

import base64
import csv
import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinecare.case import parse_case
from spinecare.reasoning.engine import Engine
from spinecare.reasoning.knowledge import Knowledge, default_knowledge
from spinecare.screen.columns import (
    CASE_ID,
    ROW_ID_PREFIX,
    input_columns,
    input_schema,
    row_to_case,
)
from spinecare.screen.compiler import DUCKDB, SPARK, compile_knowledge, string
from spinecare.screen.lists import DICTIONARY, unpack
from spinecare.screen.output import assessment_to_row, output_schema
from spinecare.screen.output import rows_to_table as output_table

InputFormat = Literal["parquet", "csv"]
EngineName = Literal["python", "duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("python", "duckdb", "spark")
#: Rows per batch when streaming a file: small enough to bound memory, large enough that the
#: per-batch cost is lost in the per-row one.
BATCH_ROWS = 65_536
#: Rows per batch of the DuckDB engine's output, and so per row group of its Parquet file:
#: DuckDB's own row group size, which its Parquet writer (the floor of ``make bench-screen``)
#: uses too.
OUTPUT_ROWS = 122_880
#: The compression of the DuckDB engine's Parquet output, and its level (zstd's own default,
#: which DuckDB's writer uses; Arrow's would be 1). The floor is written with the same.
COMPRESSION, COMPRESSION_LEVEL = "zstd", 3
#: Batches per part of a Parquet input screened by one query (:meth:`DuckDBEngine.parquet_batches`):
#: each query costs some 0.6 s of planning, and each part waiting is held in memory.
PART_BATCHES = 8
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
        order = self.engine.finding_order
        for i, row in enumerate(rows, start + 1):
            case = parse_case(row_to_case(row, i))
            assessment, values = self.engine.assess_with_findings(case)
            yield assessment_to_row(case.id, assessment, findings=[
                n for n, v in zip(order, values, strict=True) if v is True])

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


def conform(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """``table`` with exactly ``case_id`` and ``columns``, each of its input type: a column
    the table lacks is all NULL (unknown), and a row without an id is named by its place."""
    schema = input_schema()
    n = table.num_rows
    arrays = []
    for name in (CASE_ID, *columns):
        t = schema.field(name).type
        if name in table.column_names:
            arrays.append(table.column(name).cast(t))
        elif name == CASE_ID:
            arrays.append(pa.array([f"{ROW_ID_PREFIX}{i}" for i in range(1, n + 1)], t))
        else:
            arrays.append(pa.nulls(n, t))
    return pa.Table.from_arrays(arrays, names=[CASE_ID, *columns])


class DuckDBEngine:
    """The knowledge compiled to one DuckDB query (:mod:`spinecare.screen.compiler`)."""

    name = "duckdb"
    #: :meth:`screen_file` can be stopped at once (:meth:`cancel`): the input can be checked
    #: while it runs (:func:`spinecare.screen.run.screen_with_engine_file`)
    overlaps_check = True

    def __init__(self, knowledge: Knowledge | None = None, *, threads: int | None = None,
                 memory_limit: str | None = None, batch_rows: int = OUTPUT_ROWS):
        self.knowledge = knowledge or default_knowledge()
        self.plan = compile_knowledge(self.knowledge, DUCKDB)
        self.schema = self.plan.schema
        self.threads = threads
        self.memory_limit = memory_limit
        self.batch_rows = batch_rows
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop the :meth:`screen_file` running in another thread, within a fraction of a
        second: it raises :class:`ScreenCancelled` there."""
        self._cancel.set()

    def connect(self) -> duckdb.DuckDBPyConnection:
        # DuckDB's own progress bar would print to any output, a pipe or a log included; the
        # command draws one per batch, on a terminal only
        con = duckdb.connect(config={"preserve_insertion_order": True})
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET threads = {int(self.threads or query_threads())}")
        if self.memory_limit is not None:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        return con

    def screen_table(self, table: pa.Table) -> pa.Table:
        data = conform(table, self.plan.inputs)
        with self.connect() as con:
            con.register("screen_input", data)
            return pa.Table.from_batches(list(self.batches(con, "screen_input")), self.schema)

    def batches(self, con: duckdb.DuckDBPyConnection, relation: str, *,
                dictionary: bool = False) -> Iterator[pa.RecordBatch]:
        """The output rows of ``relation`` in batches of ``batch_rows``, in order, streamed
        (with ``dictionary``, as rows of :meth:`file_schema`):
        the query runs with its list outputs packed, and each batch is unpacked here
        (:mod:`spinecare.screen.lists`)."""
        reader = con.execute(self.plan.packed_sql(relation)).to_arrow_reader(self.batch_rows)
        for batch in _ahead(reader):
            yield self.unpacked(batch, dictionary=dictionary)

    def unpacked(self, batch: pa.RecordBatch, *, dictionary: bool = False
                 ) -> pa.RecordBatch:
        """A batch of the packed query's rows as output rows (:data:`schema`), or with
        ``dictionary`` as rows of :meth:`file_schema` (the same values)."""
        lists = {c.name: c for c in self.plan.lists}
        arrays = []
        for f in self.schema:
            column = lists.get(f.name)
            if column is None:
                array = batch.column(f.name)
                arrays.append(array if array.type == f.type else array.cast(f.type))
            else:
                arrays.append(unpack(column, [batch.column(p) for p in column.packed_names()],
                                     batch.num_rows, dictionary=dictionary))
        return pa.RecordBatch.from_arrays(
            arrays, schema=self.file_schema() if dictionary else self.schema)

    def file_schema(self) -> pa.Schema:
        """:data:`schema` with each list output's names as dictionary indices
        (:data:`spinecare.screen.lists.DICTIONARY`): what :meth:`screen_file` hands its
        Parquet writer, which writes the same Parquet columns as from the plain schema."""
        lists = {c.name for c in self.plan.lists}
        return pa.schema([pa.field(f.name, pa.list_(DICTIONARY), f.nullable)
                          if f.name in lists else f for f in self.schema])

    def parquet_batches(self, src: str | Path, *, dictionary: bool = False
                        ) -> Iterator[pa.RecordBatch]:
        """The output rows of the Parquet file ``src`` in batches of ``batch_rows``, in order
        (with ``dictionary``, as rows of :meth:`file_schema`),
        its rows screened in parts of up to :data:`PART_BATCHES` batches by :meth:`workers` queries
        at once (:func:`_parts`): one query streamed in order keeps one core busy while the
        others only unpack and write, and DuckDB's own threads on one ordered stream cost more
        CPU than they save. Each part's query reads only the row groups holding its rows."""
        total = pq.ParquetFile(str(src)).metadata.num_rows
        # a smaller input in smaller parts, two per helper at least, to keep every core busy
        batches = -(-total // self.batch_rows)
        part = self.batch_rows * max(1, min(PART_BATCHES, -(-batches // (2 * self.workers()))))
        sqls = [self.plan.packed_sql(self.source_sql(src, "parquet", (lo, lo + part)))
                for lo in range(0, total, part)]
        for table in _parts(self.connect_one, sqls, self.workers(), self._cancel):
            for batch in _exact_batches(table, self.batch_rows):
                yield self.unpacked(batch, dictionary=dictionary)

    def workers(self) -> int:
        """The parts screened at once: one per core (each query on one DuckDB thread), or
        ``threads`` when given."""
        return max(1, int(self.threads or os.cpu_count() or 1))

    def connect_one(self) -> duckdb.DuckDBPyConnection:
        """A connection for one part's query: one DuckDB thread."""
        con = duckdb.connect(config={"preserve_insertion_order": True})
        con.execute("SET enable_progress_bar = false")
        con.execute("SET threads = 1")
        if self.memory_limit is not None:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        return con

    def source_sql(self, src: str | Path, fmt: InputFormat,
                   rows: tuple[int, int] | None = None) -> str:
        """The input file as a DuckDB relation with ``case_id`` and the columns the knowledge
        reads (NULL where the file lacks one); of a Parquet file, only the rows from
        ``rows[0]`` up to ``rows[1]`` (counted from 0) when given."""
        q = DUCKDB.quote
        schema = input_schema()
        path = string(str(src))
        if fmt == "parquet":
            present = set(pq.read_schema(str(src)).names)
            relation = f"read_parquet({path}, file_row_number = true)"
            if rows is not None:
                relation += (f" WHERE file_row_number >= {int(rows[0])} AND "
                             f"file_row_number < {int(rows[1])}")
            row_id = f"'{ROW_ID_PREFIX}' || CAST(file_row_number + 1 AS VARCHAR)"
        else:
            with open(src, encoding="utf-8") as fh:
                present = set(next(csv.reader(fh), []))
            # in CSV a list or struct is JSON text, read as such and decoded below
            types = ", ".join(
                f"{string(f.name)}: "
                f"{string('VARCHAR' if _nested(f.type) else DUCKDB.sql_type(f.type))}"
                for f in schema if f.name in present)
            relation = f"read_csv({path}, header = true, columns = {{{types}}})"
            row_id = f"'{ROW_ID_PREFIX}' || CAST(row_number() OVER () AS VARCHAR)"
        cols = [f"{q(CASE_ID)}" if CASE_ID in present else f"{row_id} AS {q(CASE_ID)}"]
        for name in self.plan.inputs:
            t = schema.field(name).type
            sql_type = DUCKDB.sql_type(t)
            if name not in present:
                cols.append(f"CAST(NULL AS {sql_type}) AS {q(name)}")
            elif fmt == "csv" and _nested(t):
                # in CSV a list or struct is JSON text
                cols.append(f"from_json({q(name)}, {string(_json_structure(t))}) AS {q(name)}")
            else:
                cols.append(f"CAST({q(name)} AS {sql_type}) AS {q(name)}")
        return f"(SELECT {', '.join(cols)} FROM {relation})"

    def screen_file(self, src: str | Path, fmt: InputFormat, dst: str | Path, *,
                    progress: Progress | None = None) -> int:
        done = 0
        # the lists written from dictionary arrays, and the file's Arrow schema recorded as
        # the plain one's, so that the file is the one the plain schema would give. The list
        # columns carry no min/max statistics: their names' least and greatest are the same
        # in every row group, so they would prune nothing, and computing them was half the
        # cost of writing those columns.
        lists = {c.name for c in self.plan.lists}
        with self.connect() as con, pq.ParquetWriter(
                str(dst), self.file_schema(), compression=COMPRESSION,
                compression_level=COMPRESSION_LEVEL, store_schema=False,
                write_statistics=[n for n in self.schema.names if n not in lists]) as writer:
            writer.add_key_value_metadata({ARROW_SCHEMA: arrow_schema(self.schema)})
            batches = (self.parquet_batches(src, dictionary=True) if fmt == "parquet" else
                       self.batches(con, self.source_sql(src, fmt), dictionary=True))
            try:
                for batch in batches:
                    if self._cancel.is_set():
                        raise ScreenCancelled
                    writer.write_batch(batch)
                    done += batch.num_rows
                    if progress is not None:
                        progress(done)
            finally:
                self._cancel.clear()
        return done


ARROW_SCHEMA = "ARROW:schema"
"""The Parquet file's key under which Arrow records the file's Arrow schema."""


def arrow_schema(schema: pa.Schema) -> str:
    """``schema`` as Arrow's Parquet writer records it under :data:`ARROW_SCHEMA`: its IPC
    serialisation in base64."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def query_threads() -> int:
    """DuckDB's threads for a screen: every core but one, which unpacks and writes the batches
    the query streams. (Streamed in order, the query spends more CPU per row with more threads
    than it saves in wall time on a small machine: two threads cost half as much again as one,
    measured on two cores.)"""
    return max(1, (os.cpu_count() or 1) - 1)


def _parts(connect: Callable[[], duckdb.DuckDBPyConnection], sqls: list[str], workers: int,
           cancel: threading.Event | None = None) -> Iterator[pa.Table]:
    """The results of the queries ``sqls``, in order, run ``workers`` at a time by helper
    threads, each on a connection of its own; at most ``workers`` results wait beyond the one
    being consumed, while the next ``workers`` run. If the consumer stops early, or ``cancel``
    is set (:class:`ScreenCancelled`), the queries running are interrupted."""
    tasks: queue.Queue[int | None] = queue.Queue()
    slots = [Future[pa.Table]() for _ in sqls]
    # the connections running, each removed under the lock before it closes, so that an
    # interruption never meets a connection being closed
    running: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()
    stopping = threading.Event()

    def work() -> None:
        con = connect()
        with lock:
            running.append(con)
        try:
            while (i := tasks.get()) is not None and not stopping.is_set():
                try:
                    slots[i].set_result(con.execute(sqls[i]).to_arrow_table())
                except BaseException as exc:  # handed to the consumer
                    slots[i].set_exception(exc)
                    return
        finally:
            with lock:
                running.remove(con)
            con.close()

    for i in range(min(len(sqls), workers)):
        tasks.put(i)
    threads = [threading.Thread(target=work, name=f"screen-part-{n}", daemon=True)
               for n in range(min(workers, len(sqls)))]
    for t in threads:
        t.start()
    finished = False
    try:
        for i, slot in enumerate(slots):
            while True:
                try:
                    table = slot.result(timeout=0.1)
                    break
                except TimeoutError:
                    if cancel is not None and cancel.is_set():
                        raise ScreenCancelled from None
            slots[i] = Future()  # the table is the consumer's alone
            if i + workers < len(sqls):
                tasks.put(i + workers)
            yield table
        finished = True
    finally:
        if not finished:
            stopping.set()  # no part started from now on, the queued ones dropped
            while not tasks.empty():
                tasks.get_nowait()
            with lock:
                for con in running:
                    con.interrupt()
        for _ in threads:
            tasks.put(None)
        # the helpers end at once (done, or interrupted): a native query left running
        # when the interpreter exits would abort it
        for t in threads:
            t.join()


def _exact_batches(table: pa.Table, rows: int) -> Iterator[pa.RecordBatch]:
    """``table`` in record batches of ``rows`` rows (the last may be shorter), whatever its
    chunks."""
    for start in range(0, table.num_rows, rows):
        part = table.slice(start, rows)
        batches = part.to_batches()
        yield batches[0] if len(batches) == 1 else part.combine_chunks().to_batches()[0]


def _ahead(reader: pa.RecordBatchReader, depth: int = 2) -> Iterator[pa.RecordBatch]:
    """The reader's batches, read ahead by a helper thread (DuckDB computes the next batches
    while this thread unpacks and writes the last); at most ``depth`` wait. If the consumer
    stops early the helper is told to stop and the reader is closed."""
    done = object()
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        box.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(done)
        except BaseException as exc:  # handed to the consumer
            box.put(exc)

    worker = threading.Thread(target=produce, name="screen-query", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get(timeout=0.1)
            except queue.Empty:
                continue
        reader.close()


def _json_structure(t: pa.DataType) -> str:
    """DuckDB's ``from_json`` structure for a column type."""
    if pa.types.is_list(t):
        return f"[{_json_structure(t.value_type)}]"
    if pa.types.is_struct(t):
        return "{" + ", ".join(f'"{f.name}": {_json_structure(f.type)}' for f in t) + "}"
    return '"' + DUCKDB.sql_type(t) + '"'


class SparkEngine:
    """The same compiled knowledge as PySpark Column expressions (Spark SQL's dialect of the
    plan, each expression made a Column by ``F.expr``), run by Spark: local mode on every core
    by default, or the cluster at ``master``. pyspark (the ``spark`` extra) and a Java 17
    runtime are needed only for this engine."""

    name = "spark"

    def __init__(self, knowledge: Knowledge | None = None, *, master: str = "local[*]",
                 session: Any = None, app_name: str = "spinecare-screen"):
        self.knowledge = knowledge or default_knowledge()
        self.plan = compile_knowledge(self.knowledge, SPARK)
        self.schema = self.plan.schema
        self.master = master
        self.app_name = app_name
        self._session = session

    @property
    def session(self) -> Any:
        if self._session is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:  # an optional engine: say how to get it
                raise ScreenError("the spark engine needs pyspark: "
                                  "pip install 'spinecare[spark]' (and a Java 17 runtime)"
                                  ) from exc
            self._session = (SparkSession.builder.master(self.master).appName(self.app_name)
                             .config("spark.sql.session.timeZone", "UTC")
                             .config("spark.ui.enabled", "false")
                             .getOrCreate())
        return self._session

    def frame(self, df: Any, carry: tuple[str, ...] = ()) -> Any:
        """The output columns of the DataFrame ``df`` (``case_id`` and input columns), and
        the columns ``carry`` as they are."""
        from pyspark.sql import functions as F

        present = set(df.columns)
        schema = input_schema()
        cols = [F.col(SPARK.quote(c)) for c in carry]
        for name in (CASE_ID, *self.plan.inputs):
            t = SPARK.sql_type(schema.field(name).type)
            if name in present:
                cols.append(F.expr(f"CAST({SPARK.quote(name)} AS {t})").alias(name))
            elif name == CASE_ID:
                cols.append(F.expr(f"concat('{ROW_ID_PREFIX}', "
                                   f"CAST(monotonically_increasing_id() + 1 AS STRING))"
                                   ).alias(name))
            else:
                cols.append(F.expr(f"CAST(NULL AS {t})").alias(name))
        df = df.select(*cols)
        for stage, keep in zip(self.plan.stages, self.plan.layout(), strict=True):
            df = df.select(*(F.col(SPARK.quote(c)) for c in (*carry, *keep)),
                           *(F.expr(e).alias(n) for n, e in stage))
        return df.select(*(F.col(SPARK.quote(c)) for c in carry),
                         *(F.expr(e).alias(n) for n, e in self.plan.outputs))

    def screen_table(self, table: pa.Table) -> pa.Table:
        with tempfile.TemporaryDirectory(prefix="spinecare-spark-") as tmp:
            src, dst = Path(tmp) / "in.parquet", Path(tmp) / "out"
            # each row's place, to give the output back in the input's order
            order = pa.array(range(table.num_rows), pa.int64())
            pq.write_table(table.append_column(_ORDER, order), src)
            df = self.session.read.parquet(str(src))
            self.frame(df, carry=(_ORDER,)).write.parquet(str(dst))
            result = pq.read_table(str(dst)).sort_by(_ORDER).drop_columns([_ORDER])
        return result.select(self.schema.names).cast(self.schema)

    def screen_file(self, src: str | Path, fmt: InputFormat, dst: str | Path, *,
                    progress: Progress | None = None) -> int:
        """Writes ``dst`` as a Parquet dataset (a folder of part files, Spark's way), the parts
        in the input's order."""
        reader = self.session.read
        df = reader.parquet(str(src)) if fmt == "parquet" else reader.option(
            "header", True).csv(str(src))
        out = self.frame(df)
        out.write.mode("error").parquet(str(dst))
        done = int(self.session.read.parquet(str(dst)).count())
        if progress is not None:
            progress(done)
        return done


class ScreenError(RuntimeError):
    """A screen that cannot run (an engine that is not installed)."""


class ScreenCancelled(RuntimeError):
    """A screen stopped by :meth:`DuckDBEngine.cancel`."""


_ORDER = "__spinecare_order"


def get_engine(name: str, **options: Any) -> ScreenEngine:
    """The engine called ``name`` (``python``, ``duckdb`` or ``spark``); ``options`` go to its
    constructor (``knowledge=``; for Spark ``master=``)."""
    if name == "python":
        return PythonEngine(**options)
    if name == "duckdb":
        return DuckDBEngine(**options)
    if name == "spark":
        return SparkEngine(**options)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
