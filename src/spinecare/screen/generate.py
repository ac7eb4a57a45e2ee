"""Generated input tables: schema-valid cases in bulk, for the differential tests and the
benchmarks (``make bench-screen`` calls :func:`generate_table` / :func:`write_parquet`).

Every value is drawn inside the case schema's ranges and vocabularies (taken from the column
specs of :mod:`spinecare.screen.columns`, so a new case field is generated with no change
here), with Arrow's vectorised random numbers: ten million rows take seconds, not the hours a
per-row generator would.

Each row has its own share of unknowns, from none to nearly all, so that every pattern of
known and unknown fields turns up (unknown is NULL, in a list-of-structs column too: a NULL
list is "not examined", an empty one "examined, nothing found"). Yes/no findings are true less
often than not, so that the red flags and the rules built from several findings fire in a
share of rows, as a health system's records would make them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spinecare import criteria
from spinecare.reasoning.knowledge import Knowledge, default_knowledge
from spinecare.screen.columns import CASE_ID, Spec, input_columns, input_schema

#: Values for the string fields with a pattern, checked against it when used.
PATTERN_VALUES: dict[str, tuple[str, ...]] = {
    "myotome": ("C5", "C6", "C7", "C8", "L2", "L3", "L4", "L5", "S1"),
    "level": ("C3-C4", "C4-C5", "C5-C6", "C6-C7", "T11-T12", "L2-L3", "L3-L4", "L4-L5",
              "L5-S1"),
}
#: The most items a generated list holds (the schema allows more; screening cost grows with
#: them, and no rule counts past three).
MAX_ITEMS = 3
#: How often a yes/no field is true when known.
TRUE_SHARE = 0.3
BATCH_ROWS = 262_144


class _Draw:
    """Independent uniform streams on [0, 1) from one seed."""

    def __init__(self, seed: int):
        self.seed = seed
        self.n = 0

    def uniform(self, n: int) -> pa.Array:
        self.n += 1
        return pc.random(n, initializer=self.seed * 100_003 + self.n)


def _free_strings(k: Knowledge) -> dict[str, tuple[str, ...]]:
    """For the free-text fields the criteria compare with constants (``item.treatment ==
    'exercise_therapy'``): those constants and one more, by field name."""
    out: dict[str, dict[str, None]] = {}
    texts = [f.when for f in k.findings.values()]
    texts += [r.when for r in k.red_flag_rules] + [r.when for r in k.triage_rules]
    texts += [r.when for r in k.lbp_rules] + [r.when for r in k.considerations]
    names = frozenset(k.findings)
    for text in texts:
        for node in criteria.nodes.walk(criteria.parse(text, "generate", names)):
            if isinstance(node, criteria.Cmp):
                pair = (node.left, node.right)
                for a, b in (pair, pair[::-1]):
                    if isinstance(a, criteria.ItemFact | criteria.Fact) and isinstance(
                            b, criteria.Const) and isinstance(b.value, str):
                        out.setdefault(a.field, {})[b.value] = None
            elif isinstance(node, criteria.In) and isinstance(
                    node.operand, criteria.ItemFact | criteria.Fact):
                for v in node.values:
                    if isinstance(v, str):
                        out.setdefault(node.operand.field, {})[v] = None
    return {name: (*values, "other") for name, values in out.items()}


class _Generator:
    def __init__(self, seed: int, knowledge: Knowledge):
        self.draw = _Draw(seed)
        self.free = _free_strings(knowledge)

    def nulls(self, known: pa.Array) -> pa.Array:
        """Where a value is unknown: with the probability of each row's own share."""
        return pc.greater_equal(self.draw.uniform(len(known)), known)

    def column(self, spec: Spec, name: str, known: pa.Array) -> pa.Array:
        n = len(known)
        unknown = self.nulls(known)
        values = self.values(spec, name, n, known)
        if spec.kind in ("struct", "list"):
            return values if not pc.any(unknown).as_py() else _with_nulls(values, unknown)
        return pc.if_else(unknown, pa.scalar(None, spec.type), values)

    def values(self, spec: Spec, name: str, n: int, known: pa.Array) -> pa.Array:
        u = self.draw.uniform(n)
        if spec.kind == "bool":
            return pc.less(u, TRUE_SHARE)
        if spec.kind == "str":
            pool = spec.literals or PATTERN_VALUES.get(name) or self.free.get(name) or ("other",)
            if spec.pattern:
                bad = [v for v in pool if not re.fullmatch(spec.pattern.strip("^$"), v)]
                if bad:
                    raise ValueError(f"{name}: {bad[0]!r} does not match {spec.pattern}")
            index = pc.cast(pc.floor(pc.multiply(u, len(pool))), pa.int32())
            return pc.take(pa.array(pool, pa.string()), index)
        if spec.kind == "int":
            lo, hi = int(spec.minimum or 0), int(spec.maximum if spec.maximum is not None
                                                 else 100)
            return pc.cast(pc.floor(pc.add(pc.multiply(u, hi - lo + 1), lo)), pa.int64())
        if spec.kind == "float":
            flo, fhi = float(spec.minimum or 0), float(spec.maximum if spec.maximum is not None
                                                       else 100)
            # one decimal: values land on the knowledge's thresholds as well as between them
            raw = pc.add(pc.multiply(u, fhi - flo), flo)
            return pc.divide(pc.floor(pc.multiply(raw, 10.0)), 10.0)
        if spec.kind == "struct":
            children = []
            for fname, fspec, required in spec.fields:
                if required:
                    children.append(self.values(fspec, fname, n, known))
                else:
                    children.append(self.column(fspec, fname, known))
            return pa.StructArray.from_arrays(children, fields=list(spec.type))
        if spec.kind == "list" and spec.item is not None:
            low = spec.min_length or 0
            fixed = spec.min_length is not None and spec.min_length == spec.max_length
            high = low if fixed else min(spec.max_length or MAX_ITEMS, MAX_ITEMS)
            lengths = pc.cast(pc.floor(pc.add(pc.multiply(u, high - low + 1), low)), pa.int32())
            total = pc.sum(lengths).as_py() or 0
            offsets = pa.concat_arrays([pa.array([0], pa.int32()),
                                        pc.cumulative_sum(lengths)])
            # an item has its row's share of known fields
            parents = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, pa.nulls(total)))
            item_known = pc.take(known, parents)
            items = self.values(spec.item, name, total, item_known) \
                if spec.item.kind == "struct" else self.column(spec.item, name, item_known)
            return pa.ListArray.from_arrays(offsets, items, type=spec.type)
        raise ValueError(spec.kind)


def _with_nulls(values: pa.Array, unknown: pa.Array) -> pa.Array:
    if isinstance(values, pa.StructArray):
        return pa.StructArray.from_arrays(values.flatten(), fields=list(values.type),
                                          mask=unknown)
    return pa.ListArray.from_arrays(values.offsets, values.values, type=values.type,
                                    mask=unknown)


def generate_table(rows: int, seed: int = 0, *, first_id: int = 1,
                   knowledge: Knowledge | None = None) -> pa.Table:
    """``rows`` generated cases as an input table (:func:`input_schema`), ids ``gen-N``."""
    g = _Generator(seed, knowledge or default_knowledge())
    # each row's share of known fields: from nothing known to everything known
    known = g.draw.uniform(rows)
    arrays = [pa.array([f"gen-{i}" for i in range(first_id, first_id + rows)], pa.string())]
    for col in input_columns():
        arrays.append(g.column(col.spec, col.path[-1], known))
    return pa.Table.from_arrays(arrays, schema=input_schema())


def generate_batches(rows: int, seed: int = 0, batch_rows: int = BATCH_ROWS,
                     knowledge: Knowledge | None = None) -> Iterator[pa.Table]:
    """:func:`generate_table` in batches (bounded memory), each batch its own seed."""
    k = knowledge or default_knowledge()
    done = 0
    while done < rows:
        n = min(batch_rows, rows - done)
        yield generate_table(n, seed * 1_000_003 + done, first_id=done + 1, knowledge=k)
        done += n


def write_parquet(path: str | Path, rows: int, seed: int = 0) -> int:
    """Write ``rows`` generated cases to the Parquet file ``path``; the number written."""
    with pq.ParquetWriter(str(path), input_schema(), compression="zstd") as writer:
        for batch in generate_batches(rows, seed):
            writer.write_table(batch)
    return rows


__all__ = ["CASE_ID", "generate_batches", "generate_table", "write_parquet"]
