"""The criteria tree: the typed nodes every evaluator reads, and walks over them.

The tree is the contract between the knowledge and its evaluators (the interpreter, the compiler,
and later the columnar compilers for screening). See :mod:`spinecare.criteria` for the language.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from spinecare.criteria.functions import Function

CmpOp = Literal["==", "!=", "<", "<=", ">", ">="]
RefKind = Literal[
    # the assessment's own stages
    "finding", "flag", "likely", "high",
    # what the care plan reads from a finished assessment (spinecare.plan.select)
    "unlikely", "flag_level", "triage_rule", "lbp_source", "contraindication", "situation",
    "band", "score",
]


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
class Call:
    """A function of the table (:mod:`spinecare.criteria.functions`) applied to its arguments;
    an ``integer`` argument is a :class:`Const`."""

    fn: Function
    args: tuple[Node, ...]


Node = Const | Fact | ItemFact | Ref | Cmp | In | And | Or | Not | Call

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
        elif isinstance(n, And | Or | Call):
            for a in n.args:
                walk(a)

    walk(node)
    return list(out)


def facts(node: Node) -> list[Fact]:
    """Every case fact ``node`` reads directly."""
    out: dict[Fact, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Fact):
            out[n] = None
        for child in children(n):
            walk(child)

    walk(node)
    return list(out)


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, parents before their children."""
    yield node
    for child in children(node):
        yield from walk(child)


def element_only(node: Node, calls: frozenset[str] = frozenset()) -> bool:
    """Whether ``node`` reads nothing but a collection's current element (``item.*``) and
    constants, calling no function but those named in ``calls``: a test of one element, which
    a compiler may evaluate within the collection's own loop."""
    for n in walk(node):
        if isinstance(n, Call):
            if n.fn.name not in calls:
                return False
        elif not isinstance(n, Const | ItemFact | Cmp | In | Not | And | Or):
            return False
    return True


def children(n: Node) -> tuple[Node, ...]:
    """The nodes directly below ``n``."""
    if isinstance(n, Cmp):
        return (n.left, n.right)
    if isinstance(n, In):
        return (n.operand,)
    if isinstance(n, Not):
        return (n.arg,)
    if isinstance(n, And | Or | Call):
        return n.args
    return ()


