"""The criteria tree: the typed nodes every evaluator reads, and walks over them.

The tree is the contract between the knowledge and its evaluators (the interpreter, the compiler,
and later the columnar compilers for screening). See :mod:`spinecare.criteria` for the language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CmpOp = Literal["==", "!=", "<", "<=", ">", ">="]
RefKind = Literal["finding", "flag", "likely", "high"]


@dataclass(frozen=True, slots=True)
class Const:
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class Fact:
    section: str
    field: str


@dataclass(frozen=True, slots=True)
class ItemFact:
    field: str


@dataclass(frozen=True, slots=True)
class Ref:
    kind: RefKind
    name: str


@dataclass(frozen=True, slots=True)
class Cmp:
    op: CmpOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class In:
    operand: Node
    values: tuple[str | int | float | bool, ...]
    negate: bool


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class Count:
    """``at_least(k, ...)`` (``most=False``) or ``at_most(k, ...)`` (``most=True``)."""

    k: int
    most: bool
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyItem:
    """Any element of a case list that passes ``where`` satisfies ``pred``."""

    collection: Literal["imaging", "motor_deficits"]
    where: Node
    pred: Node


Node = Const | Fact | ItemFact | Ref | Cmp | In | And | Or | Not | Count | AnyItem

def refs(node: Node) -> list[Ref]:
    """Every reference in ``node`` (findings, flags, likelihoods), in order, without repeats."""
    out: dict[Ref, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            out[n] = None
        elif isinstance(n, Cmp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, In):
            walk(n.operand)
        elif isinstance(n, Not):
            walk(n.arg)
        elif isinstance(n, And | Or | Count):
            for a in n.args:
                walk(a)
        elif isinstance(n, AnyItem):
            walk(n.where)
            walk(n.pred)

    walk(node)
    return list(out)


def facts(node: Node) -> list[Fact]:
    """Every case fact ``node`` reads directly."""
    out: dict[Fact, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Fact):
            out[n] = None
        for child in _children(n):
            walk(child)

    walk(node)
    return list(out)


def _children(n: Node) -> tuple[Node, ...]:
    if isinstance(n, Cmp):
        return (n.left, n.right)
    if isinstance(n, In):
        return (n.operand,)
    if isinstance(n, Not):
        return (n.arg,)
    if isinstance(n, And | Or | Count):
        return n.args
    if isinstance(n, AnyItem):
        return (n.where, n.pred)
    return ()


