"""The inputs of ``spinecare screen``, read in batches and checked before anything is screened.

An input is one of:

- a Parquet file (``.parquet``, ``.pq``): the columns of :func:`~spinecare.screen.columns.
  input_schema`, typed;
- a CSV file (``.csv``): a header of the same dotted column names; every cell is text, an empty
  cell is unknown, a boolean is ``true``/``false`` (or ``1``/``0``), and a list or struct column
  (``exam.motor_deficits``, ``instruments.odi``, ``imaging``) holds its value as JSON text;
- a JSON Lines file of ``spinecare.case/1`` documents (``.jsonl``, ``.ndjson``);
- a FHIR Bulk Data export folder, when the FHIR mapping (``spinecare.fhir.incoming``) exists.

Besides the case columns a table may carry what the report's worklists need to know about care
already arranged (:data:`CARE_COLUMNS`): ``care.referral`` (a specialist referral has been made)
and ``care.plan`` (a care plan is in place), booleans, NULL or absent meaning "not recorded".

Each batch comes out as an :class:`InputBatch`: the case columns, checked against the case
schema, and the care columns beside them. A problem is a :class:`BadInput` naming the column
(or the JSON path), the first bad row and the reason. Rows are counted from 1, header excluded;
for JSON Lines the row is the line number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from spinecare.case import parse_case
from spinecare.errors import CaseError
from spinecare.screen.columns import (
    CASE_ID,
    ColumnProblem,
    Spec,
    case_to_row,
    check_schema,
    check_table,
    input_columns,
    input_schema,
    row_to_case,
)

Format = Literal["parquet", "csv", "jsonl", "fhir"]
FORMATS: tuple[Format, ...] = ("parquet", "csv", "jsonl", "fhir")
SUFFIXES: dict[str, Format] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
                               ".jsonl": "jsonl", ".ndjson": "jsonl"}

CARE_REFERRAL = "care.referral"
CARE_PLAN = "care.plan"
#: Optional columns that say what care is already arranged; the worklists leave out a patient
#: whose referral (or plan) is recorded as made, and show "not recorded" where it is unknown.
CARE_COLUMNS: tuple[str, ...] = (CARE_REFERRAL, CARE_PLAN)
CARE_SCHEMA = pa.schema([(CARE_REFERRAL, pa.bool_()), (CARE_PLAN, pa.bool_())])

_TRUE = ("true", "True", "TRUE", "1")
_FALSE = ("false", "False", "FALSE", "0")
_INT = r"^\s*[+-]?[0-9]+\s*$"
_FLOAT = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


@dataclass(frozen=True, slots=True)
class BadRow:
    """One input row left out of the screen (``--skip-invalid``), with why."""

    row: int  # from 1
    case_id: str | None
    reasons: tuple[str, ...]
    values: dict[str, Any] | None = None

    def as_json(self) -> bytes:
        return orjson.dumps({"row": self.row, "case_id": self.case_id,
                             "reasons": list(self.reasons), "values": self.values},
                            default=str)


class BadInput(Exception):
    """An input that cannot be screened as it is; ``lines`` are the problems, one a line."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("; ".join(lines))


@dataclass(slots=True)
class InputBatch:
    """Consecutive rows of an input: ``first_row`` (from 1), the case columns, the care
    columns (same rows), and the rows of this stretch that were left out."""

    first_row: int
    cases: pa.Table
    care: pa.Table
    rejected: list[BadRow] = field(default_factory=list)
    #: rows read from the input for this batch (kept and rejected)
    rows_read: int = 0


def detect_format(path: str) -> Format:
    """The input's format from its name (a folder is a FHIR Bulk Data export)."""
    if os.path.isdir(path):
        return "fhir"
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise BadInput([f"{path}: cannot tell the input's format from its name; give a .parquet, "
                    ".csv, .jsonl or .ndjson file, or a FHIR Bulk Data export folder"])


class Input:
    """One input, read in batches of about ``batch_rows`` rows.

    With ``skip_invalid`` a bad row is set aside (:attr:`InputBatch.rejected`) and the rest go
    on; without it the first batch with a problem raises :class:`BadInput` naming every problem
    it has. A column of the wrong type or a column the case does not have is a problem of the
    whole input: no row can be kept, so it is raised either way.
    """

    def __init__(self, path: str, *, fmt: Format | None = None, batch_rows: int = 65_536,
                 skip_invalid: bool = False):
        self.path = path
        self.format: Format = fmt or detect_format(path)
        self.batch_rows = batch_rows
        self.skip_invalid = skip_invalid
        if not os.path.exists(path):
            raise BadInput([f"{path}: no such file or folder"])
        if self.format == "fhir" and fhir_to_case() is None:
            raise BadInput([f"{path}: FHIR Bulk Data input is not available in this build: it "
                            "needs the FHIR mapping (spinecare.fhir.incoming.to_case); convert "
                            "the export to JSON Lines of cases, or to Parquet"])

    def total_rows(self) -> int | None:
        """The number of rows when the input says so without being read (Parquet)."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return None

    def batches(self) -> Iterator[InputBatch]:
        raw = {"parquet": self._parquet, "csv": self._csv, "jsonl": self._jsonl,
               "fhir": self._fhir}[self.format]
        yield from raw()

    def checked_batches(self) -> Iterator[InputBatch]:
        """:meth:`batches` for a caller that only needs the input checked and its care
        columns (an engine reads the file itself): the same problems raised and the same rows
        counted, but of a Parquet file only the columns whose values have something to check
        are read (a boolean has nothing beyond its type, which the file's schema says), on
        this thread alone. Its ``cases`` then lack the boolean columns."""
        if self.format != "parquet":
            yield from self.batches()
            return
        yield from self._parquet(checked_only=True)

    # --- Parquet ------------------------------------------------------------------------

    def _parquet(self, checked_only: bool = False) -> Iterator[InputBatch]:
        import pyarrow.parquet as pq

        try:
            reader = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadInput([f"{self.path}: not a readable Parquet file ({exc})"]) from None
        cases_schema = _split_schema(reader.schema_arrow, self.path)
        columns = None
        if checked_only:
            specs = {c.name: c.spec for c in input_columns()}
            columns = [n for n in reader.schema_arrow.names
                       if n not in specs or specs[n].kind != "bool"]
        first = 1
        for batch in reader.iter_batches(batch_size=self.batch_rows, columns=columns,
                                         use_threads=not checked_only):
            yield self._checked(pa.Table.from_batches([batch]), first, cases_schema)
            first += batch.num_rows

    # --- CSV ----------------------------------------------------------------------------

    def _csv(self) -> Iterator[InputBatch]:
        import pyarrow.csv as pacsv

        try:
            with open(self.path, "rb") as fh:
                header = fh.readline().decode("utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput([f"{self.path}: cannot read the header ({exc})"]) from None
        if not header:
            raise BadInput([f"{self.path}: empty; the first line must name the columns"])
        names = next(iter(_csv_rows(header)))
        known = {c.name: c.spec for c in input_columns()}
        problems = [str(p) for p in check_schema(pa.schema(
            [(n, pa.string()) for n in names if n not in CARE_COLUMNS]))
            if p.row is None and "not a case field" in p.reason]
        dupes = sorted({n for n in names if names.count(n) > 1})
        problems += [f"{n}: appears more than once in the header" for n in dupes]
        if problems:
            raise BadInput([f"{self.path}: {p}" for p in problems])
        options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                       strings_can_be_null=True, null_values=[""],
                                       quoted_strings_can_be_null=True)
        # about batch_rows rows per block, judged from the header's width
        block = max(1 << 20, min(1 << 26, self.batch_rows * max(64, 8 * len(names))))
        try:
            reader = pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(
                block_size=block), convert_options=options)
            first = 1
            for raw in reader:
                table = pa.Table.from_batches([raw])
                converted, rejected = _convert_csv(table, known, first)
                if rejected and not self.skip_invalid:
                    raise BadInput([f"{self.path}: {line}" for line in _first_per_column(
                        rejected)])
                batch = self._checked(converted, first, None, rejected)
                batch.rows_read = table.num_rows
                yield batch
                first += table.num_rows
        except pa.ArrowInvalid as exc:
            raise BadInput([f"{self.path}: not readable as CSV ({exc})"]) from None

    # --- JSON Lines ---------------------------------------------------------------------

    def _jsonl(self) -> Iterator[InputBatch]:
        schema = input_schema()
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below, the generator may pause
        except OSError as exc:
            raise BadInput([f"{self.path}: cannot read: {exc.strerror}"]) from None
        with fh:
            rows: list[dict[str, Any]] = []
            rejected: list[BadRow] = []
            first = 1
            number = 0
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = parse_case(line)
                except CaseError as exc:
                    reasons = tuple(str(p) for p in exc.problems)
                    if not self.skip_invalid:
                        raise BadInput([f"{self.path}:{number}: {r}" for r in reasons]) from None
                    rejected.append(BadRow(number, _loose_id(line), reasons,
                                           _loose_doc(line)))
                    continue
                row = case_to_row(doc.model_dump(mode="json", exclude_none=True))
                row["_row"] = number
                rows.append(row)
                if len(rows) >= self.batch_rows:
                    yield self._jsonl_batch(rows, rejected, first, number, schema)
                    rows, rejected, first = [], [], number + 1
            if rows or rejected:
                yield self._jsonl_batch(rows, rejected, first, number, schema)

    def _jsonl_batch(self, rows: list[dict[str, Any]], rejected: list[BadRow], first: int,
                     last: int, schema: pa.Schema) -> InputBatch:
        cases = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows],
                                     schema)
        care = pa.Table.from_pylist([{} for _ in rows], CARE_SCHEMA) if rows \
            else CARE_SCHEMA.empty_table()
        return InputBatch(first, cases, care, rejected, last - first + 1)

    # --- FHIR Bulk Data -----------------------------------------------------------------

    def _fhir(self) -> Iterator[InputBatch]:
        """A Bulk Data export folder (``Patient.ndjson``, ``Observation.ndjson``, ...): each
        patient's resources made one case by the FHIR mapping, then screened as JSON Lines.

        An export is ordered by resource type, not by patient, so the resources are first
        grouped by patient in a temporary SQLite file (on disk: memory stays bounded)."""
        import sqlite3
        import tempfile

        to_case = fhir_to_case()
        assert to_case is not None
        files = sorted(Path(self.path).glob("*.ndjson"))
        if not files:
            raise BadInput([f"{self.path}: no .ndjson files (a FHIR Bulk Data export holds "
                            "Patient.ndjson, Observation.ndjson, ...)"])
        with tempfile.TemporaryDirectory(prefix="spinecare-fhir-") as tmp:
            db = sqlite3.connect(Path(tmp) / "group.db")
            db.execute("CREATE TABLE r (patient TEXT, body BLOB)")
            for file in files:
                with file.open("rb") as fh:
                    for number, line in enumerate(fh, 1):
                        if not line.strip():
                            continue
                        try:
                            resource = orjson.loads(line)
                        except orjson.JSONDecodeError as exc:
                            raise BadInput([f"{file}:{number}: not JSON ({exc})"]) from None
                        patient = _patient_of(resource)
                        if patient is not None:
                            db.execute("INSERT INTO r VALUES (?, ?)", (patient, line))
            db.execute("CREATE INDEX r_patient ON r (patient)")
            schema = input_schema()
            rows: list[dict[str, Any]] = []
            rejected: list[BadRow] = []
            number = first = 1
            current: str | None = None
            resources: list[Any] = []
            cursor = db.execute("SELECT patient, body FROM r ORDER BY patient, rowid")
            for patient, body in [*cursor, (None, None)]:
                if patient != current and current is not None:
                    try:
                        doc = parse_case(to_case(resources, patient_id=current).case)
                    except (CaseError, ValueError) as exc:
                        rejected.append(BadRow(number, f"fhir-{current}", (str(exc),), None))
                        if not self.skip_invalid:
                            raise BadInput([f"{self.path}: Patient/{current}: {exc}"]) from None
                    else:
                        rows.append(case_to_row(doc.model_dump(mode="json",
                                                               exclude_none=True)))
                    number += 1
                    resources = []
                    if len(rows) >= self.batch_rows:
                        yield self._jsonl_batch(rows, rejected, first, number - 1, schema)
                        rows, rejected, first = [], [], number
                current = patient
                if body is not None:
                    resources.append(orjson.loads(body))
            db.close()
            if rows or rejected:
                yield self._jsonl_batch(rows, rejected, first, number - 1, schema)

    # --- checking -----------------------------------------------------------------------

    def _checked(self, table: pa.Table, first: int, cases_schema: pa.Schema | None,
                 rejected: list[BadRow] | None = None) -> InputBatch:
        """Split ``table`` into its case and care columns and check both; bad rows are set
        aside (``--skip-invalid``) or raised."""
        rejected = list(rejected or [])
        care = _care_columns(table, self.path, first)
        cases = table.drop_columns([n for n in table.column_names if n in CARE_COLUMNS])
        if cases_schema is None:
            whole = [p for p in check_schema(cases.schema) if p.row is None]
            if whole:
                raise BadInput([f"{self.path}: {p}" for p in whole])
        problems = check_table(cases, first - 1)
        if problems and not self.skip_invalid:
            raise BadInput([f"{self.path}: {p}" for p in problems])
        if problems:
            if any(p.row is None for p in problems):
                raise BadInput([f"{self.path}: {p}" for p in problems if p.row is None])
            keep, bad = _sift(cases, first)
            rejected += bad
            if bad:
                mask = pa.array(keep)
                cases, care = cases.filter(mask), care.filter(mask)
        rejected.sort(key=lambda b: b.row)
        return InputBatch(first, cases, care, rejected, table.num_rows)


def fhir_to_case() -> Any:
    """The FHIR mapping's ``to_case`` (``spinecare.fhir.incoming``), or None in a build
    without it."""
    import importlib

    try:
        module = importlib.import_module("spinecare.fhir.incoming")
    except ImportError:
        return None
    return getattr(module, "to_case", None)


def _patient_of(resource: Any) -> str | None:
    """The id of the patient a resource is about (its own id for a Patient)."""
    if not isinstance(resource, dict):
        return None
    if resource.get("resourceType") == "Patient":
        value = resource.get("id")
        return value if isinstance(value, str) else None
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return str(ref["reference"]).rsplit("/", 1)[-1]
    return None


def _split_schema(schema: pa.Schema, path: str) -> pa.Schema:
    """The case columns of a Parquet file's schema, after checking them and the care columns
    as a whole (names and types)."""
    lines = []
    for name in CARE_COLUMNS:
        index = schema.get_field_index(name)
        if index >= 0 and not (pa.types.is_boolean(schema.field(index).type)
                               or pa.types.is_null(schema.field(index).type)):
            lines.append(f"{name}: must be bool, not {schema.field(index).type}")
    cases = pa.schema([f for f in schema if f.name not in CARE_COLUMNS])
    lines += [str(p) for p in check_schema(cases)]
    if lines:
        raise BadInput([f"{path}: {line}" for line in lines])
    return cases


def _care_columns(table: pa.Table, path: str, first: int) -> pa.Table:
    arrays = []
    for name in CARE_COLUMNS:
        if name in table.column_names:
            column = table.column(name)
            if pa.types.is_string(column.type):  # CSV text
                column = _csv_bool(column.combine_chunks(), name, first, path)
            arrays.append(column.cast(pa.bool_()))
        else:
            arrays.append(pa.nulls(table.num_rows, pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=CARE_SCHEMA)


def _csv_bool(arr: pa.Array, name: str, first: int, path: str) -> pa.Array:
    bad = pc.fill_null(pc.and_(arr.is_valid(), pc.invert(
        pc.is_in(arr, value_set=pa.array(_TRUE + _FALSE)))), False)
    if pc.any(bad).as_py():
        index = pc.index(bad, True).as_py()
        raise BadInput([f"{path}: {name} (row {first + index}): must be true or false, "
                        f"not {arr[index].as_py()!r}"])
    return pc.if_else(arr.is_null(), pa.scalar(None, pa.bool_()),
                      pc.is_in(arr, value_set=pa.array(_TRUE)))


def _csv_rows(text: str) -> Iterator[list[str]]:
    import csv

    yield from csv.reader([text])


def _convert_csv(table: pa.Table, known: dict[str, Spec], first: int
                 ) -> tuple[pa.Table, list[BadRow]]:
    """CSV text columns in their case types. A cell that is not of its column's type makes
    its row bad (the cell is left NULL); the bad rows come back with their reasons."""
    reasons: dict[int, list[str]] = {}
    arrays = []
    for name in table.column_names:
        arr = table.column(name).combine_chunks()
        spec = known.get(name)
        if spec is None:  # case_id or a care column: text as it is
            arrays.append(arr)
            continue
        converted, bad = _convert_column(arr, spec)
        for index, reason in bad:
            reasons.setdefault(index, []).append(f"{name} (row {first + index}): {reason}")
        arrays.append(converted)
    out = pa.Table.from_arrays(arrays, names=table.column_names)
    ids = table.column(CASE_ID).to_pylist() if CASE_ID in table.column_names else None
    rejected = [BadRow(first + i, ids[i] if ids else None, tuple(r),
                       _row_values(table, i)) for i, r in sorted(reasons.items())]
    return out, rejected


def _row_values(table: pa.Table, index: int) -> dict[str, Any]:
    values: dict[str, Any] = table.slice(index, 1).to_pylist()[0]
    return values


def _convert_column(arr: pa.Array, spec: Spec) -> tuple[pa.Array, list[tuple[int, str]]]:
    """One CSV column in its type: the array, and the (index, reason) of each cell that is
    not of it (NULL in the array)."""
    if spec.kind in ("list", "struct"):
        values: list[Any] = []
        bad: list[tuple[int, str]] = []
        for i, text in enumerate(arr.to_pylist()):
            if text is None:
                values.append(None)
                continue
            try:
                value = orjson.loads(text)
                pa.array([value], spec.type)
            except orjson.JSONDecodeError as exc:
                bad.append((i, f"is not JSON text ({exc})"))
                value = None
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, KeyError):
                bad.append((i, f"must be JSON of {spec.type}, not {_short(text)}"))
                value = None
            values.append(value)
        return pa.array(values, spec.type), bad
    if spec.kind == "bool":
        ok = pc.is_in(arr, value_set=pa.array(_TRUE + _FALSE))
        what = "true or false"
    elif spec.kind == "int":
        ok = pc.match_substring_regex(arr, _INT)
        what = "a whole number"
    elif spec.kind == "float":
        ok = pc.match_substring_regex(arr, _FLOAT)
        what = "a number"
    else:
        return arr, []
    bad_mask = pc.fill_null(pc.and_(arr.is_valid(), pc.invert(ok)), False)
    bad_list: list[tuple[int, str]] = []
    if pc.any(bad_mask).as_py():
        indices = pc.indices_nonzero(bad_mask).to_pylist()
        bad_list = [(i, f"must be {what}, not {_short(arr[i].as_py())}") for i in indices]
        arr = pc.if_else(bad_mask, pa.scalar(None, pa.string()), arr)
    if spec.kind == "bool":
        return pc.if_else(arr.is_null(), pa.scalar(None, pa.bool_()),
                          pc.is_in(arr, value_set=pa.array(_TRUE))), bad_list
    return pc.cast(pc.utf8_trim_whitespace(arr), spec.type), bad_list


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _first_per_column(rejected: list[BadRow]) -> list[str]:
    """Without --skip-invalid: one line per column and kind of problem, at its first row,
    with how many other rows share it."""
    first: dict[str, tuple[str, int]] = {}
    for bad in rejected:
        for reason in bad.reasons:
            column, _, rest = reason.partition(" (row ")
            what = rest.partition("): ")[2]
            key = f"{column}: {what.split(', not ')[0]}"
            if key in first:
                first[key] = (first[key][0], first[key][1] + 1)
            else:
                first[key] = (reason, 1)
    lines = []
    for reason, count in first.values():
        lines.append(reason if count == 1 else f"{reason} (and {count - 1} more rows)")
    return lines


def _sift(cases: pa.Table, first: int) -> tuple[list[bool], list[BadRow]]:
    """Which rows of a batch with problems to keep, and the bad ones with their reasons.

    Each row is validated as the case it stands for (the case model is what the columns are
    derived from, so its problems name the JSON path); whatever the table check still finds
    among the kept rows is then set aside row by row."""
    rows = cases.to_pylist()
    keep = [True] * len(rows)
    bad: dict[int, list[str]] = {}
    for i, row in enumerate(rows):
        try:
            parse_case(row_to_case(row, first + i))
        except CaseError as exc:
            keep[i] = False
            bad[i] = [str(p) for p in exc.problems]
    while True:
        kept = [i for i, k in enumerate(keep) if k]
        problems: list[ColumnProblem] = check_table(cases.take(pa.array(kept, pa.int64())), 0) \
            if kept else []
        if not problems:
            break
        for p in problems:
            assert p.row is not None  # whole-column problems were raised before
            index = kept[p.row]
            keep[index] = False
            bad.setdefault(index, []).append(f"{p.column}: {p.reason}")
    return keep, [BadRow(first + i, rows[i].get(CASE_ID), tuple(r), rows[i])
                  for i, r in sorted(bad.items())]


def _loose_id(line: bytes) -> str | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _loose_doc(line: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"text": line.decode("utf-8", "replace").rstrip("\n")}
    return doc if isinstance(doc, dict) else {"value": doc}
