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
    Call,
    Cmp,
    Const,
    Fact,
    In,
    ItemFact,
    Node,
    Not,
    Or,
    Ref,
    children,
)

Values = Mapping[Ref, Any]
"""The value of each reference: mostly a truth value (``flag.x``), for some kinds a code
(``situation.triage``), ``None`` when unknown."""


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
    if isinstance(node, Call):
        return node.fn.reference(case, *(
            _per_item(a, case, values) if kind == "item" else evaluate(a, case, values, item)
            for kind, a in zip(node.fn.kinds(len(node.args)), node.args, strict=True)))
    raise TypeError(node)


def unknowns(node: Node, case: Case, values: Values) -> list[Fact | Ref]:
    """The case facts and references, left unknown, that make ``node`` unknown: what to ask for
    to settle it. Empty when ``node`` is known.

    Only the unknown parts of an unknown whole are followed (in ``a and b`` with ``a`` false the
    whole is false, and nothing is missing). A criterion over the elements of a case list is not
    followed into its elements; it names nothing.
    """
    out: dict[Fact | Ref, None] = {}

    def walk(n: Node) -> None:
        if evaluate(n, case, values) is not None:
            return
        if isinstance(n, Fact | Ref):
            out[n] = None
            return
        if isinstance(n, Call):
            for kind, a in zip(n.fn.kinds(len(n.args)), n.args, strict=True):
                if kind in ("criterion", "value"):
                    walk(a)
            return
        for child in children(n):
            walk(child)

    walk(node)
    return list(out)


def _per_item(node: Node, case: Case, values: Values) -> Callable[[BaseModel], Any]:
    return lambda it: evaluate(node, case, values, it)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}

