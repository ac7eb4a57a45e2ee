"""The list outputs of a screen (``rules``, ``findings``, ``red_flags``, ``consider``), returned
by the query as one column per candidate and made into Arrow lists beside it.

A list output is a fixed set of candidate names, each with the condition under which it is in
a row's list (:class:`ListColumn`). Built in SQL, each row's list is a list of every candidate
filtered by a lambda: for ``rules`` that is some 190 strings made, filtered and freed per row,
and it was most of the compiled query's time. Instead the query returns each candidate's
condition as a ``BOOLEAN`` column (Arrow holds it as bits, NULL counting as false), and
:func:`unpack` turns the columns of a whole batch into the list column with a handful of NumPy
operations: the candidates' names are shared, never rebuilt per row. (Summing the conditions'
bits into 62-bit words in SQL, as before, cost a ``CASE`` and an addition per candidate and row:
a sixth of the query's CPU.)

A list ordered by something other than the candidates' order (``red_flags``: by the first of
each flag's rules that fired) gives each candidate an integer ``key`` instead, NULL when it is
absent; the query returns the keys, and the list is the present candidates by key.

The Spark dialect builds the same lists in SQL from the same :class:`ListColumn`
(:mod:`spinecare.screen.compiler`): there the lambdas run on the cluster's executors, and a
Python step per batch on the driver would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa


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
        """The query's columns that carry this list: one per candidate."""
        return [f"{self.name}#{i}" for i in range(len(self.whens))]

    def packed_sql(self) -> list[str]:
        """The expressions of :meth:`packed_names`, in order: each candidate's condition (or
        key) as it is."""
        return list(self.whens)


DICTIONARY = pa.dictionary(pa.int32(), pa.string())
"""The element type of a list made with ``dictionary=True``."""


@lru_cache(maxsize=64)
def _labels(labels: tuple[str, ...]) -> pa.Array:
    # one array per list for the whole run: a Parquet writer given dictionary arrays writes
    # their indices as they are while the dictionary stays the same
    return pa.array(labels, pa.string())


def unpack(column: ListColumn, packed: Sequence[pa.Array | pa.ChunkedArray], n: int, *,
           dictionary: bool = False) -> pa.Array:
    """The list column (``list<string>``) of a batch of ``n`` rows from the query's
    :meth:`ListColumn.packed_names` columns; with ``dictionary``, the same lists as
    ``list<dictionary<int32, string>>`` (:data:`DICTIONARY`): indices into the candidates'
    names, which are never copied. (Made into strings, a batch's ``rules`` and ``findings``
    are some 800 bytes a row, copied here and then hashed again by the Parquet writer's own
    dictionary encoding: two fifths of the consumer's time at ten million rows.)"""
    labels = _labels(column.labels)
    if not column.labels:
        empty = labels.dictionary_encode() if dictionary else labels
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), empty)
    if column.keyed:
        missing = np.iinfo(np.int64).max
        keys = np.column_stack([_numpy(a, missing) for a in packed])
        order = np.argsort(keys, axis=1, kind="stable")
        present = np.take_along_axis(keys, order, axis=1) != missing
        picked = order[present]
    else:
        # the conditions' bits, a row of bytes per candidate, turned to a row of bytes per
        # eight rows, each byte unpacked to eight rows: row by row, each in candidate order
        nbytes = -(-n // 8)
        by_candidate = np.stack([_bitmap(a, n, nbytes) for a in packed])
        present = np.unpackbits(np.ascontiguousarray(by_candidate.T)[:, None, :], axis=1,
                                bitorder="little").reshape(nbytes * 8, -1)[:n].view(np.bool_)
        picked = np.flatnonzero(present) % len(column.labels)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    indices = pa.array(picked.astype(np.int32))
    values = (pa.DictionaryArray.from_arrays(indices, labels) if dictionary else
              labels.take(indices))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _numpy(array: pa.Array | pa.ChunkedArray, fill: int) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.int64():
        array = array.cast(pa.int64())
    if array.null_count:
        array = array.fill_null(fill)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _bitmap(array: pa.Array | pa.ChunkedArray, n: int, nbytes: int) -> np.ndarray:
    """A condition's column as its ``nbytes`` bytes of bits, lowest bit first, NULL as 0
    (the bits past ``n`` are any)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.bool_():
        array = array.cast(pa.bool_())
    if array.offset % 8:  # a slice not on a byte: its bits made again from the first
        flags = array.fill_null(False).to_numpy(zero_copy_only=False)
        return np.packbits(np.asarray(flags, np.bool_), bitorder="little")
    validity, values = array.buffers()[:2]
    start = array.offset // 8
    assert values is not None
    bits = np.frombuffer(values, np.uint8, nbytes, start)
    if validity is not None and array.null_count:
        bits = bits & np.frombuffer(validity, np.uint8, nbytes, start)
    return bits
