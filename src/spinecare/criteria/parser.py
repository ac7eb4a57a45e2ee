"""Parsing criteria text (a small subset of Python expressions) into the typed tree.

Every name is checked when the knowledge is loaded: case facts against the case model (with their
closed vocabularies, so ``'bilateral'`` for ``'both'`` is refused), findings against the set the
caller names, functions against the function table.
"""

from __future__ import annotations

import ast
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from spinecare.case import Case, Exam
from spinecare.criteria.functions import FUNCTIONS, Function
from spinecare.criteria.nodes import (
    And,
    Call,
    Cmp,
    CmpOp,
    Const,
    Fact,
    In,
    ItemFact,
    Node,
    Not,
    Or,
    Ref,
    RefKind,
)
from spinecare.errors import KnowledgeError

_SECTIONS: dict[str, type[BaseModel]] = {
    name: typing.get_args(field.annotation)[0] if typing.get_args(field.annotation)
    else field.annotation  # type: ignore[misc]
    for name, field in Case.model_fields.items()
    if name in ("patient", "history", "symptoms", "exam")
}
#: The references the assessment's own knowledge may use (its earlier stages' conclusions).
ASSESSMENT_REFERENCES: frozenset[RefKind] = frozenset({"flag", "likely", "high"})
#: The references a care-plan rule may use: the finished assessment and the plan's own findings.
PLAN_REFERENCES: frozenset[RefKind] = frozenset(typing.get_args(RefKind)) - {"finding"}


@dataclass(frozen=True, slots=True)
class _FieldType:
    truth: bool  # a boolean field: usable directly as a criterion
    literals: frozenset[str] | None  # closed vocabulary of a string field
    numeric: bool


def _field_type(model: type[BaseModel], name: str) -> _FieldType | None:
    field = model.model_fields.get(name)
    if field is None:
        return None
    args = _flatten(field.annotation)
    literals = {a for t in args if typing.get_origin(t) is Literal for a in typing.get_args(t)}
    return _FieldType(
        truth=bool in args and not literals,
        literals=frozenset(str(x) for x in literals) if literals else None,
        numeric=any(t in (int, float) for t in args),
    )


def _flatten(annotation: Any) -> set[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: set[Any] = set()
        for a in typing.get_args(annotation):
            out |= _flatten(a)
        return out
    return {annotation}


class _Parser:
    def __init__(self, where: str, findings: frozenset[str] | None,
                 functions: Mapping[str, Function], references: frozenset[RefKind]):
        self.where = where
        self.findings = findings
        self.functions = functions
        self.references = references
        self.item_model: type[BaseModel] | None = None

    def fail(self, message: str) -> KnowledgeError:
        return KnowledgeError(f"{self.where}: {message}")

    def truth(self, node: ast.expr) -> Node:
        """Parse ``node`` where a criterion (true/false/unknown) is expected."""
        if isinstance(node, ast.BoolOp):
            args = tuple(self.truth(v) for v in node.values)
            return And(args) if isinstance(node.op, ast.And) else Or(args)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Not(self.truth(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return Const(node.value)
        operand, ftype = self.operand(node)
        if isinstance(operand, Ref):
            return operand
        if ftype is None or not ftype.truth:
            raise self.fail(f"{ast.unparse(node)} is not a yes/no finding; compare it to a value")
        return operand

    def operand(self, node: ast.expr) -> tuple[Node, _FieldType | None]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
            return Const(node.value), None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, int | float):
            return Const(-node.operand.value), None
        if isinstance(node, ast.Name):
            if self.findings is not None and node.id not in self.findings:
                raise self.fail(f"unknown finding {node.id!r}")
            return Ref("finding", node.id), None
        dotted = _dotted(node)
        if dotted is not None and dotted[0] in self.references and len(dotted) > 1:
            # rule ids have dots of their own: triage_rule.tr.routine.cord_compression_imaging
            return Ref(dotted[0], ".".join(dotted[1:])), None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            head, name = node.value.id, node.attr
            if head == "item":
                if self.item_model is None:
                    over_items = "/".join(
                        n for n, f in self.functions.items() if "item" in f.params)
                    raise self.fail(f"item.* is only meaningful inside {over_items}")
                ftype = _field_type(self.item_model, name)
                if ftype is None:
                    raise self.fail(f"unknown field item.{name}")
                return ItemFact(name), ftype
            model = _SECTIONS.get(head)
            if model is None:
                raise self.fail(f"unknown section {head!r} in {ast.unparse(node)}")
            ftype = _field_type(model, name)
            if ftype is None or (model is Exam and name == "motor_deficits"):
                raise self.fail(f"unknown case fact {head}.{name}")
            return Fact(head, name), ftype
        raise self.fail(f"unsupported expression {ast.unparse(node)!r}")

    def compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(self.compare_one(left, op, right))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def compare_one(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> Node:
        lnode, ltype = self.operand(left)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.Tuple | ast.List) or not all(
                isinstance(e, ast.Constant) for e in right.elts
            ):
                raise self.fail(f"'in' needs a tuple of constants: {ast.unparse(right)}")
            values = tuple(e.value for e in right.elts if isinstance(e, ast.Constant)
                           and isinstance(e.value, str | int | float))
            self.check_literals(ltype, values, left)
            return In(lnode, values, isinstance(op, ast.NotIn))
        ops: dict[type[ast.cmpop], CmpOp] = {
            ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        }
        cmp = ops.get(type(op))
        if cmp is None:
            raise self.fail(f"unsupported comparison in {ast.unparse(left)}")
        rnode, rtype = self.operand(right)
        if isinstance(rnode, Const):
            self.check_literals(ltype, (rnode.value,), left)
        if isinstance(lnode, Const):
            self.check_literals(rtype, (lnode.value,), right)
        for n, t in ((lnode, ltype), (rnode, rtype)):
            if cmp in ("<", "<=", ">", ">=") and t is not None and not t.numeric:
                raise self.fail(f"{cmp} needs a number, not {n}")
        return Cmp(cmp, lnode, rnode)

    def check_literals(self, ftype: _FieldType | None, values: tuple[Any, ...],
                       node: ast.expr) -> None:
        # A typo in a category ('bilateral' for 'both') would make a rule that can never fire.
        if ftype is not None and ftype.literals is not None:
            bad = [v for v in values if v not in ftype.literals]
            if bad:
                raise self.fail(
                    f"{ast.unparse(node)} is never {bad[0]!r}; it is one of "
                    f"{sorted(ftype.literals)}"
                )

    def call(self, node: ast.Call) -> Node:
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        fn = self.functions.get(name)
        if fn is None:
            raise self.fail(f"unknown function {name}()")
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments")
        if not fn.accepts(len(node.args)):
            raise self.fail(f"{name}() is called as {fn.usage()}")
        args: list[Node] = []
        for kind, a in zip(fn.kinds(len(node.args)), node.args, strict=True):
            if kind == "integer":
                if not (isinstance(a, ast.Constant) and type(a.value) is int):
                    raise self.fail(f"{fn.usage()} needs a whole number, not {ast.unparse(a)}")
                args.append(Const(a.value))
            elif kind == "criterion":
                args.append(self.truth(a))
            elif kind == "value":
                args.append(self.operand(a)[0])
            else:
                args.append(self.per_item(fn, a))
        return Call(fn, tuple(args))

    def per_item(self, fn: Function, node: ast.expr) -> Node:
        if self.item_model is not None:
            raise self.fail(f"{fn.name}() cannot be nested")
        self.item_model = fn.item_model
        try:
            return self.truth(node)
        finally:
            self.item_model = None


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``['a', 'b', 'c']``; None for anything but names joined by dots."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def unparse(node: Node) -> str:
    """``node`` as criteria text that :func:`parse` reads back into the same tree."""
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Fact):
        return f"{node.section}.{node.field}"
    if isinstance(node, ItemFact):
        return f"item.{node.field}"
    if isinstance(node, Ref):
        return node.name if node.kind == "finding" else f"{node.kind}.{node.name}"
    if isinstance(node, Cmp):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, In):
        values = ", ".join(repr(v) for v in node.values) + ("," if len(node.values) == 1 else "")
        return f"{unparse(node.operand)} {'not in' if node.negate else 'in'} ({values})"
    if isinstance(node, And | Or):
        if not node.args:
            return "True" if isinstance(node, And) else "False"
        word = " and " if isinstance(node, And) else " or "
        return word.join(_grouped(a) for a in node.args)
    if isinstance(node, Not):
        return f"not {_grouped(node.arg)}"
    return f"{node.fn.name}({', '.join(unparse(a) for a in node.args)})"


def _grouped(node: Node) -> str:
    # Parentheses keep the tree's grouping: (a or b) and c, not a or (b and c).
    text = unparse(node)
    return f"({text})" if isinstance(node, And | Or) else text


def parse(text: str, where: str, findings: frozenset[str] | None = None,
          functions: Mapping[str, Function] = FUNCTIONS,
          references: frozenset[RefKind] = ASSESSMENT_REFERENCES) -> Node:
    """Parse a criterion. ``where`` names the knowledge item for error messages; ``findings``,
    when given, is the closed set of finding names the expression may use; ``functions`` is the
    function table (tests pass a deliberately broken one); ``references`` the kinds of
    ``kind.name`` references allowed (:data:`PLAN_REFERENCES` for care-plan rules)."""
    try:
        tree = ast.parse("(" + text.strip() + "\n)", mode="eval")
    except SyntaxError as exc:
        raise KnowledgeError(f"{where}: cannot parse {text!r}: {exc.msg}") from None
    return _Parser(where, findings, functions, references).truth(tree.body)


