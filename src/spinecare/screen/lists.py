"""The list outputs of a screen (``rules``, ``findings``, ``red_flags``, ``consider``), packed
into integers by the query and unpacked into Arrow lists beside it.

A list output is a fixed set of candidate names, each with the condition under which it is in
a row's list (:class:`ListColumn`). Built in SQL, each row's list is a list of every candidate
filtered by a lambda: for ``rules`` that is some 150 strings made, filtered and freed per row,
and it was most of the compiled query's time. Packed, the query only sums each candidate's bit
into 62-bit ``BIGINT`` words (a few integer additions per row), and :func:`unpack` turns the
words of a whole batch into the list column with a handful of NumPy operations: the candidates'
names are shared, never rebuilt per row.

A list ordered by something other than the candidates' order (``red_flags``: by the first of
each flag's rules that fired) gives each candidate an integer ``key`` instead, NULL when it is
absent; the packed query returns the keys, and the list is the present candidates by key.

The Spark dialect builds the same lists in SQL from the same :class:`ListColumn`
(:mod:`spinecare.screen.compiler`): there the lambdas run on the cluster's executors, and a
Python step per batch on the driver would cost more than it saves.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

#: Bits per packed word: the sign bit is left alone, and one more so that a literal of the
#: highest bit stays a positive BIGINT in both dialects.
WORD_BITS = 62


@dataclass(frozen=True)
class ListColumn:
    """One list output: its candidates' names and, for each, a SQL condition (NULL counts as
    false) or, for a list ordered by key, a SQL integer (NULL: absent)."""

    name: str
    labels: tuple[str, ...]
    whens: tuple[str, ...]
    keyed: bool = False

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.whens):
            raise ValueError(f"{self.name}: {len(self.labels)} names, {len(self.whens)} "
                             "conditions")

    def packed_names(self) -> list[str]:
        """The query's columns that carry this list."""
        count = len(self.whens) if self.keyed else -(-len(self.whens) // WORD_BITS)
        return [f"{self.name}#{i}" for i in range(count)]

    def packed_sql(self) -> list[str]:
        """The expressions of :meth:`packed_names`, in order."""
        if self.keyed:
            return list(self.whens)
        words = []
        for start in range(0, len(self.whens), WORD_BITS):
            bits = [f"(CASE WHEN {w} THEN CAST({1 << i} AS BIGINT) ELSE CAST(0 AS BIGINT) END)"
                    for i, w in enumerate(self.whens[start:start + WORD_BITS])]
            words.append("(" + " + ".join(bits) + ")")
        return words


def unpack(column: ListColumn, packed: Sequence[pa.Array | pa.ChunkedArray], n: int
           ) -> pa.Array:
    """The list column (``list<string>``) of a batch of ``n`` rows from the query's
    :meth:`ListColumn.packed_names` columns."""
    labels = pa.array(column.labels, pa.string())
    if not column.labels:
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)),
                                        labels)
    if column.keyed:
        missing = np.iinfo(np.int64).max
        keys = np.column_stack([_numpy(a, missing) for a in packed])
        order = np.argsort(keys, axis=1, kind="stable")
        present = np.take_along_axis(keys, order, axis=1) != missing
        picked = order[present]
    else:
        bits = np.concatenate([_bits(_numpy(a, 0))[:, :WORD_BITS] for a in packed], axis=1)
        present = bits[:, :len(column.labels)].astype(bool)
        # row by row, each row's in candidate order
        picked = np.flatnonzero(present) % len(column.labels)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    values = labels.take(pa.array(picked.astype(np.int32)))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _numpy(array: pa.Array | pa.ChunkedArray, fill: int) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.int64():
        array = array.cast(pa.int64())
    if array.null_count:
        array = array.fill_null(fill)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _bits(words: np.ndarray) -> np.ndarray:
    """Each word's 64 bits as a row of 0/1 bytes, lowest bit first."""
    little = words.astype("<i8", copy=False) if sys.byteorder != "little" else words
    return np.unpackbits(little.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")

