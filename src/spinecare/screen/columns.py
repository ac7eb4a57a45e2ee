"""The input table of a screen: one column per case field, named by its dotted case path.

The columns are derived from the case model (:mod:`spinecare.case`), never typed by hand, so a
field added to the case is a column here with no change to this module:

- each field of ``patient``, ``history``, ``symptoms``, ``exam`` and ``instruments`` is a column
  named ``section.field`` (``patient.age``, ``symptoms.leg_pain``);
- a list of objects (``exam.motor_deficits``, ``history.prior_treatments``, ``imaging``) is one
  column, a list of structs; an instrument (``instruments.mjoa``, ``instruments.odi``) is one
  column, a struct or a list of its items, so that "not given" stays apart from "given, items
  unknown";
- ``case_id`` (a string) is optional; a row without it is named by its place in the input.

A NULL is *unknown*, exactly as an omitted or ``null`` field of a case: :func:`row_to_case` drops
it, and :func:`case_to_row` writes one for every field a case leaves out, so a row and its case
say the same thing both ways.

:func:`check_table` names what is wrong with a table before anything is screened: a column the
case does not have, a column of the wrong type, a value outside the case schema's range or
vocabulary, each with its column, the first bad row and the reason.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import annotated_types
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from spinecare.case import CASE_SCHEMA_ID, Case

CASE_ID = "case_id"
#: The sections whose fields become columns; ``imaging`` is a column of its own.
SECTIONS = ("patient", "history", "symptoms", "exam", "instruments")
#: Where a case without an id gets one: the row's place in its input, from 1.
ROW_ID_PREFIX = "row-"


@dataclass(frozen=True, slots=True)
class Spec:
    """What one value (a column, a struct field or a list item) may be, from the case model."""

    type: pa.DataType
    kind: Literal["bool", "int", "float", "str", "struct", "list"]
    minimum: float | None = None
    maximum: float | None = None
    literals: tuple[str, ...] | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    #: a struct's fields, with whether each is required within a present struct
    fields: tuple[tuple[str, Spec, bool], ...] = ()
    item: Spec | None = None


@dataclass(frozen=True, slots=True)
class InputColumn:
    name: str  # the dotted case path
    path: tuple[str, ...]  # where it is in a case document
    spec: Spec


@dataclass(frozen=True, slots=True)
class ColumnProblem:
    """One thing wrong with an input table: the column, the first bad row (from 0; None when
    the whole column is wrong) and why."""

    column: str
    row: int | None
    reason: str
    #: how many rows share the problem (0 when the column is wrong as a whole)
    count: int = field(default=0, compare=False)

    def __str__(self) -> str:
        where = "" if self.row is None else f" (row {self.row + 1}" + (
            f" and {self.count - 1} more)" if self.count > 1 else ")")
        return f"{self.column}{where}: {self.reason}"


def _flatten(annotation: Any) -> tuple[list[Any], list[Any]]:
    """The types a field may hold (``None`` left out), and the metadata met on the way."""
    meta: list[Any] = []
    kinds: list[Any] = []

    def walk(a: Any) -> None:
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            inner, *extra = typing.get_args(a)
            meta.extend(extra)
            walk(inner)
        elif origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(a):
                walk(arg)
        elif a is not type(None):
            kinds.append(a)

    walk(annotation)
    return kinds, meta


def _constraints(meta: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in meta:
        items = list(getattr(m, "metadata", ())) if hasattr(m, "metadata") else [m]
        for x in [m, *items]:
            if isinstance(x, annotated_types.Ge):
                out["minimum"] = x.ge
            elif isinstance(x, annotated_types.Le):
                out["maximum"] = x.le
            elif isinstance(x, annotated_types.MinLen):
                out["min_length"] = x.min_length
            elif isinstance(x, annotated_types.MaxLen):
                out["max_length"] = x.max_length
            elif getattr(x, "pattern", None) is not None:
                out["pattern"] = x.pattern
    return out


def _spec(annotation: Any, extra: Iterable[Any] = ()) -> Spec:
    kinds, meta = _flatten(annotation)
    limits = _constraints([*extra, *meta])
    literals = [v for k in kinds if typing.get_origin(k) is Literal for v in typing.get_args(k)]
    if literals:
        return Spec(pa.string(), "str", literals=tuple(str(v) for v in literals), **limits)
    (kind,) = kinds
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return _model_spec(kind)
    if typing.get_origin(kind) is list:
        (inner,) = typing.get_args(kind)
        item = _spec(inner)
        return Spec(pa.list_(item.type), "list", item=item, **limits)
    if kind is bool:
        return Spec(pa.bool_(), "bool")
    if kind is int:
        return Spec(pa.int64(), "int", **limits)
    if kind is float:
        return Spec(pa.float64(), "float", **limits)
    if kind is str:
        return Spec(pa.string(), "str", **limits)
    raise TypeError(f"no column type for {annotation!r}")


def _model_spec(model: type[BaseModel]) -> Spec:
    fields = tuple((name, _spec(f.annotation, f.metadata), f.is_required())
                   for name, f in model.model_fields.items())
    return Spec(pa.struct([(name, s.type) for name, s, _ in fields]), "struct", fields=fields)


@lru_cache(maxsize=1)
def input_columns() -> tuple[InputColumn, ...]:
    """Every input column but ``case_id``, in the case model's order."""
    out = []
    for section in SECTIONS:
        model = _model_spec(_section_model(section))
        out += [InputColumn(f"{section}.{name}", (section, name), s)
                for name, s, _ in model.fields]
    imaging = Case.model_fields["imaging"]
    out.append(InputColumn("imaging", ("imaging",), _spec(imaging.annotation)))
    return tuple(out)


def _section_model(section: str) -> type[BaseModel]:
    kinds, _ = _flatten(Case.model_fields[section].annotation)
    model: type[BaseModel] = kinds[0]
    return model


def input_schema(case_id: bool = True) -> pa.Schema:
    """The input columns and their Arrow types (``case_id`` first, when asked for)."""
    cols = [pa.field(c.name, c.spec.type) for c in input_columns()]
    if case_id:
        cols.insert(0, pa.field(CASE_ID, pa.string()))
    return pa.schema(cols)


def column_names() -> tuple[str, ...]:
    return tuple(c.name for c in input_columns())


# --- rows and cases ----------------------------------------------------------------------


def _to_value(value: Any, spec: Spec) -> Any:
    """A case's JSON value in its column's form: every struct field present (NULL if left out),
    integral floats of integer fields as ints (JSON Schema counts 5.0 as an integer)."""
    if value is None:
        return None
    if spec.kind == "struct" and isinstance(value, Mapping):
        return {name: _to_value(value.get(name), s) for name, s, _ in spec.fields}
    if spec.kind == "list" and isinstance(value, list) and spec.item is not None:
        return [_to_value(v, spec.item) for v in value]
    if spec.kind == "int" and type(value) is float and value.is_integer():
        return int(value)
    return value


def _from_value(value: Any, spec: Spec) -> Any:
    """The inverse of :func:`_to_value`: NULL struct fields left out (unknown, as in a case)."""
    if value is None:
        return None
    if spec.kind == "struct":
        out = {}
        for name, s, _ in spec.fields:
            v = _from_value(value.get(name), s)
            if v is not None:
                out[name] = v
        return out
    if spec.kind == "list" and spec.item is not None:
        return [_from_value(v, spec.item) for v in value]
    return value


def case_to_row(case: Mapping[str, Any]) -> dict[str, Any]:
    """A case document (``spinecare.case/1``, as JSON gives it) as one row: every column, NULL
    for what the case leaves unknown."""
    row: dict[str, Any] = {CASE_ID: case.get("id")}
    for col in input_columns():
        value: Any = case
        for part in col.path:
            value = value.get(part) if isinstance(value, Mapping) else None
        row[col.name] = _to_value(value, col.spec)
    return row


def row_to_case(row: Mapping[str, Any], number: int | None = None) -> dict[str, Any]:
    """One row as a case document. A missing or NULL column is an unknown field; a row without
    a ``case_id`` is called ``row-N`` after its ``number`` (from 1)."""
    case_id = row.get(CASE_ID)
    if case_id is None:
        case_id = f"{ROW_ID_PREFIX}{number if number is not None else 1}"
    doc: dict[str, Any] = {"schema": CASE_SCHEMA_ID, "id": case_id, "patient": {"age": None}}
    for col in input_columns():
        value = _from_value(row.get(col.name), col.spec)
        if value is None:
            continue
        if len(col.path) == 1:
            doc[col.path[0]] = value
        else:
            doc.setdefault(col.path[0], {})[col.path[1]] = value
    return doc


def rows_to_table(rows: Iterable[Mapping[str, Any]], case_id: bool = True) -> pa.Table:
    """Rows (as :func:`case_to_row` makes them) as a table of :func:`input_schema`."""
    schema = input_schema(case_id)
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema)


def table_rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The rows of an input table as dicts of Python values."""
    for batch in table.to_batches():
        yield from batch.to_pylist()


# --- checking a table --------------------------------------------------------------------

_NUMERIC = (pa.types.is_integer, pa.types.is_floating)


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether values of ``actual`` can stand for ``expected`` without loss of meaning: the
    same type, any integer for an integer, any number for a number, all-NULL for anything."""
    if actual == expected or pa.types.is_null(actual):
        return True
    if pa.types.is_integer(expected):
        return bool(pa.types.is_integer(actual))
    if pa.types.is_floating(expected):
        return any(t(actual) for t in _NUMERIC)
    if pa.types.is_string(expected):
        return bool(pa.types.is_string(actual) or pa.types.is_large_string(actual)
                    or (pa.types.is_dictionary(actual)
                        and pa.types.is_string(actual.value_type)))
    if pa.types.is_list(expected):
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)) and _compatible(
            actual.value_type, expected.value_type)
    if pa.types.is_struct(expected) and pa.types.is_struct(actual):
        names = {f.name: f.type for f in expected}
        return all(f.name in names and _compatible(f.type, names[f.name]) for f in actual)
    return False


def _type_name(t: pa.DataType) -> str:
    return str(t).replace("large_string", "string")


def check_schema(schema: pa.Schema) -> list[ColumnProblem]:
    """The problems with a table's columns as a whole: unknown names (with the nearest known
    one) and wrong types."""
    import difflib

    known = {c.name: c for c in input_columns()}
    problems = []
    for f in schema:
        if f.name == CASE_ID:
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                    or pa.types.is_null(f.type)):
                problems.append(ColumnProblem(f.name, None,
                                              f"must be a string column, not {f.type}"))
            continue
        col = known.get(f.name)
        if col is None:
            near = difflib.get_close_matches(f.name, list(known), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(ColumnProblem(f.name, None, f"is not a case field{hint}"))
        elif not _compatible(f.type, col.spec.type):
            problems.append(ColumnProblem(
                f.name, None, f"must be {_type_name(col.spec.type)}, not {_type_name(f.type)}"))
    return problems


def check_table(table: pa.Table | pa.RecordBatch, first_row: int = 0) -> list[ColumnProblem]:
    """Every problem with ``table``: its columns (:func:`check_schema`), then, for the columns
    of the right type, each kind of bad value with the first row that has it. ``first_row``
    is the number of rows before this batch in its input, for the row numbers reported."""
    problems = check_schema(table.schema)
    if problems:
        return problems
    known = {c.name: c for c in input_columns()}
    for name in table.schema.names:
        if name == CASE_ID:
            problems += _check_ids(table.column(name), first_row)
            continue
        column = table.column(name)
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        problems += _check_array(arr, known[name].spec, name, None, first_row)
    return problems


def _check_ids(column: Any, first_row: int) -> list[ColumnProblem]:
    lengths = pc.utf8_length(column)
    out = []
    for bad, reason in ((pc.less(lengths, 1), "must not be empty"),
                        (pc.greater(lengths, 128), "must have at most 128 characters")):
        problem = _first(bad, CASE_ID, reason, None, first_row)
        if problem:
            out.append(problem)
    return out


def _first(bad: Any, name: str, reason: str, rows: pa.Array | None,
           first_row: int) -> ColumnProblem | None:
    """The problem at the first true place of ``bad`` (NULL is not bad), if any."""
    # the sum, index and filter all pass over NULL: no copy with NULL made false (it was a
    # quarter of the check's time)
    count = pc.sum(bad).as_py() or 0
    if not count:
        return None
    index = pc.index(bad, True).as_py()
    row = index if rows is None else rows[index].as_py()
    # rows holding several bad items count once each
    if rows is not None:
        count = len(pc.unique(pc.filter(rows, bad)))
    return ColumnProblem(name, first_row + row, reason, count)


def _check_array(arr: pa.Array, spec: Spec, name: str, rows: pa.Array | None,
                 first_row: int) -> list[ColumnProblem]:
    """The bad values of ``arr`` (a column, or the items or fields under one); ``rows`` maps
    each element to its row (None: the element is the row)."""
    out: list[ColumnProblem | None] = []
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return []
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if spec.kind in ("int", "float"):
        if spec.kind == "int" and pa.types.is_floating(arr.type):
            out.append(_first(pc.not_equal(pc.floor(arr), arr), name,
                              "must be a whole number", rows, first_row))
        if spec.minimum is not None:
            out.append(_first(pc.less(arr, spec.minimum), name,
                              f"must be >= {spec.minimum} (the case schema's range)", rows,
                              first_row))
        if spec.maximum is not None:
            out.append(_first(pc.greater(arr, spec.maximum), name,
                              f"must be <= {spec.maximum} (the case schema's range)", rows,
                              first_row))
    elif spec.kind == "str":
        if spec.literals is not None:
            values = pa.array(spec.literals, pa.string())
            outside = pc.invert(pc.is_in(arr, value_set=values))
            out.append(_first(pc.and_(arr.is_valid(), outside), name,
                              f"must be one of {', '.join(spec.literals)}", rows, first_row))
        if spec.pattern is not None:
            # the schema's patterns are anchored ECMA ones; RE2 reads these few alike
            out.append(_first(pc.invert(pc.match_substring_regex(arr, spec.pattern)), name,
                              f"must match the pattern {spec.pattern}", rows, first_row))
        if spec.min_length is not None:
            out.append(_first(pc.less(pc.utf8_length(arr), spec.min_length), name,
                              f"must have at least {spec.min_length} characters", rows,
                              first_row))
        if spec.max_length is not None:
            out.append(_first(pc.greater(pc.utf8_length(arr), spec.max_length), name,
                              f"must have at most {spec.max_length} characters", rows,
                              first_row))
    elif spec.kind == "list" and spec.item is not None:
        lengths = pc.list_value_length(arr)
        if spec.min_length is not None:
            out.append(_first(pc.less(lengths, spec.min_length), name,
                              f"must have at least {spec.min_length} items", rows, first_row))
        if spec.max_length is not None:
            out.append(_first(pc.greater(lengths, spec.max_length), name,
                              f"must have at most {spec.max_length} items", rows, first_row))
        items = pc.list_flatten(arr)
        parents = pc.list_parent_indices(arr)
        item_rows = parents if rows is None else pc.take(rows, parents)
        return [p for p in out if p] + _check_array(items, spec.item, f"{name}[]", item_rows,
                                                    first_row)
    elif spec.kind == "struct":
        present = arr.is_valid()
        result = [p for p in out if p]
        for fname, fspec, required in spec.fields:
            if arr.type.get_field_index(fname) < 0:
                if required:
                    result.append(ColumnProblem(f"{name}.{fname}", None, "is required"))
                continue
            child = pc.struct_field(arr, fname)
            if required:
                missing = _first(pc.and_(present, pc.is_null(child)), f"{name}.{fname}",
                                 "is required", rows, first_row)
                if missing:
                    result.append(missing)
            result += _check_array(child, fspec, f"{name}.{fname}", rows, first_row)
        return result
    return [p for p in out if p]


def schema_text() -> str:
    """The input columns, one a line, with their types and ranges: what ``spinecare screen
    --schema`` prints."""
    lines = [f"{CASE_ID}  string  (optional; rows without it are named row-N)"]
    for col in input_columns():
        lines.append(f"{col.name}  {_type_name(col.spec.type)}{_limits(col.spec)}")
    return "\n".join(lines)


def _limits(spec: Spec) -> str:
    parts = []
    if spec.literals:
        parts.append("one of " + "|".join(spec.literals))
    if spec.minimum is not None or spec.maximum is not None:
        parts.append(f"{spec.minimum}..{spec.maximum}")
    if spec.pattern:
        parts.append(f"pattern {spec.pattern}")
    return f"  ({'; '.join(parts)})" if parts else ""

