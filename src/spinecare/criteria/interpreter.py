"""The reference interpreter: plain recursion over the tree, easy to trust.

The compiler (:mod:`spinecare.criteria.compiler`) is checked against it on generated cases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from spinecare.case import Case
from spinecare.criteria import logic
from spinecare.criteria.nodes import (
    And,
    AnyItem,
    Cmp,
    Const,
    Count,
    Fact,
    In,
    ItemFact,
    Node,
    Not,
    Or,
    Ref,
)

Values = Mapping[Ref, logic.Tri]


def evaluate(node: Node, case: Case, values: Values, item: BaseModel | None = None) -> Any:
    """Evaluate ``node`` on ``case``; ``values`` holds the already known references."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Fact):
        return getattr(getattr(case, node.section), node.field)
    if isinstance(node, ItemFact):
        return getattr(item, node.field)
    if isinstance(node, Ref):
        return values[node]
    if isinstance(node, Cmp):
        a = evaluate(node.left, case, values, item)
        b = evaluate(node.right, case, values, item)
        if a is None or b is None:
            return None
        return _OPS[node.op](a, b)
    if isinstance(node, In):
        v = evaluate(node.operand, case, values, item)
        return None if v is None else (v in node.values) != node.negate
    if isinstance(node, And):
        return logic.and_(*(evaluate(a, case, values, item) for a in node.args))
    if isinstance(node, Or):
        return logic.or_(*(evaluate(a, case, values, item) for a in node.args))
    if isinstance(node, Not):
        return logic.not_(evaluate(node.arg, case, values, item))
    if isinstance(node, Count):
        counted = [evaluate(a, case, values, item) for a in node.args]
        return logic.at_most(node.k, counted) if node.most else logic.at_least(node.k, counted)
    if isinstance(node, AnyItem):
        items = case.imaging if node.collection == "imaging" else case.exam.motor_deficits
        return any_item(items, node.collection,
                         lambda it: evaluate(node.where, case, values, it),
                         lambda it: evaluate(node.pred, case, values, it))
    raise TypeError(node)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def any_item(items: list[Any] | None, collection: str, where: Callable[[Any], logic.Tri],
              pred: Callable[[Any], logic.Tri]) -> logic.Tri:
    if items is None:
        return None
    results = []
    for it in items:
        w = where(it)
        if w is False:
            continue
        results.append(logic.and_(w, pred(it)))
    if not results:
        # No element was looked at: an examination that lists no weakness found none, but no
        # lumbar scan says nothing about the lumbar canal.
        return False if collection == "motor_deficits" else None
    return logic.or_(*results)


