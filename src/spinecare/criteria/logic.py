"""Three-valued (Kleene) logic: ``True``, ``False`` and ``None`` for *unknown*.

An unknown finding is neither evidence for nor against anything, so a criterion built on it is
unknown unless the known parts already decide it (``False and unknown`` is ``False``).
Every cell of every truth table is tested in ``tests/reasoning/test_logic.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

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


def counts(values: Iterable[Tri]) -> tuple[int, int]:
    """How many of ``values`` are true, and how many unknown."""
    true = unknown = 0
    for v in values:
        if v is True:
            true += 1
        elif v is None:
            unknown += 1
    return true, unknown


def at_least(k: int, values: Iterable[Tri]) -> Tri:
    """Whether at least ``k`` of ``values`` are true, as far as the known ones decide it."""
    true, unknown = counts(values)
    if true >= k:
        return True
    if true + unknown < k:
        return False
    return None


def at_most(k: int, values: Iterable[Tri]) -> Tri:
    """Whether at most ``k`` of ``values`` are true, as far as the known ones decide it."""
    true, unknown = counts(values)
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


CountDecision = Literal["rule_in", "rule_out", "neither", "incomplete"]


def count_rule(values: Iterable[Tri], rule_in_at_least: int,
               rule_out_at_most: int) -> tuple[int, int, CountDecision]:
    """A counting prediction rule (Cook 2010, Cook 2011) on three-valued items: the number of
    positive items, the number unknown, and the decision the known items allow. With unknown
    items the count is a range; it rules in only when the known positives already reach the
    threshold, and rules out only when even every unknown item being positive would not."""
    positive, unknown = counts(values)
    return positive, unknown, count_decision(positive, unknown, rule_in_at_least,
                                             rule_out_at_most)


def count_decision(positive: int, unknown: int, rule_in_at_least: int,
                   rule_out_at_most: int) -> CountDecision:
    """The decision of :func:`count_rule` from its counts."""
    low, high = positive, positive + unknown
    decision: CountDecision
    if low >= rule_in_at_least:
        decision = "rule_in"
    elif high <= rule_out_at_most:
        decision = "rule_out"
    elif unknown == 0 or (high < rule_in_at_least and low > rule_out_at_most):
        decision = "neither"
    else:
        decision = "incomplete"
    return decision
