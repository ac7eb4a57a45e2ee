"""Comparing two screens of the same input, column by column."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

#: Probabilities may differ by this much (they are computed with the same operations in the
#: same order, so in practice they are equal).
TOLERANCE = 1e-9


def disagreements(expected: pa.Table, actual: pa.Table, limit: int = 10) -> list[str]:
    """Where ``actual`` differs from ``expected``: row, case id, column and both values."""
    assert actual.schema == expected.schema, (actual.schema, expected.schema)
    assert actual.num_rows == expected.num_rows
    out: list[str] = []
    ids = expected.column("case_id").to_pylist()
    for name in expected.column_names:
        for i, (a, b) in enumerate(zip(expected.column(name).to_pylist(),
                                       actual.column(name).to_pylist(), strict=True)):
            if not _same(a, b):
                out.append(f"row {i} ({ids[i]}) {name}: expected {a!r}, got {b!r}")
                if len(out) >= limit:
                    return out
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=TOLERANCE)
    return bool(a == b)
