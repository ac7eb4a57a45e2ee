"""Three-valued (Kleene) logic: ``True``, ``False`` and ``None`` for *unknown*.

An unknown finding is neither evidence for nor against anything, so a criterion built on it is
unknown unless the known parts already decide it (``False and unknown`` is ``False``).
Every cell of every truth table is tested in ``tests/reasoning/test_logic.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

Tri = bool | None
"""A three-valued truth value; ``None`` is unknown."""


def and_(*values: Tri) -> Tri:
    """Kleene conjunction: false if any is false, else unknown if any is unknown, else true."""
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def or_(*values: Tri) -> Tri:
    """Kleene disjunction: true if any is true, else unknown if any is unknown, else false."""
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def not_(value: Tri) -> Tri:
    return None if value is None else not value


def at_least(k: int, values: Iterable[Tri]) -> Tri:
    """Whether at least ``k`` of ``values`` are true, as far as the known ones decide it."""
    true = unknown = 0
    for v in values:
        if v is True:
            true += 1
        elif v is None:
            unknown += 1
    if true >= k:
        return True
    if true + unknown < k:
        return False
    return None


def at_most(k: int, values: Iterable[Tri]) -> Tri:
    """Whether at most ``k`` of ``values`` are true, as far as the known ones decide it."""
    true = unknown = 0
    for v in values:
        if v is True:
            true += 1
        elif v is None:
            unknown += 1
    if true + unknown <= k:
        return True
    if true > k:
        return False
    return None


def any_of(values: Iterable[Tri]) -> Tri:
    """Kleene disjunction over items; ``None`` when there are no items (nothing was looked at)."""
    seen = False
    unknown = False
    for v in values:
        seen = True
        if v is True:
            return True
        if v is None:
            unknown = True
    if not seen or unknown:
        return None
    return False
