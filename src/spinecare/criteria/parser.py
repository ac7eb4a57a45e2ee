"""Parsing criteria text (a small subset of Python expressions) into the typed tree.

Every name is checked when the knowledge is loaded: case facts against the case model (with their
closed vocabularies, so ``'bilateral'`` for ``'both'`` is refused), findings against the set the
caller names, functions against the function table.
"""

from __future__ import annotations

import ast
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from spinecare.case import Case, Exam, Imaging, MotorDeficit
from spinecare.criteria.nodes import (
    And,
    AnyItem,
    Cmp,
    CmpOp,
    Const,
    Count,
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
_COLLECTIONS: dict[str, tuple[Literal["imaging", "motor_deficits"], type[BaseModel], bool]] = {
    # name in expressions: (case attribute, element model, empty-or-no-match counts as false)
    "any_imaging": ("imaging", Imaging, False),
    "any_deficit": ("motor_deficits", MotorDeficit, True),
}
_REF_KINDS: dict[str, RefKind] = {"flag": "flag", "likely": "likely", "high": "high"}


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
    def __init__(self, where: str, findings: frozenset[str] | None):
        self.where = where
        self.findings = findings
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
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            head, name = node.value.id, node.attr
            if head in _REF_KINDS:
                return Ref(_REF_KINDS[head], name), None
            if head == "item":
                if self.item_model is None:
                    raise self.fail("item.* is only meaningful inside any_imaging/any_deficit")
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
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments")
        if name in ("at_least", "at_most"):
            if len(node.args) < 2 or not (
                isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int
            ):
                raise self.fail(f"{name}(k, ...) needs an integer k and criteria")
            k = node.args[0].value
            return Count(k, name == "at_most", tuple(self.truth(a) for a in node.args[1:]))
        if name in _COLLECTIONS:
            if len(node.args) != 2:
                raise self.fail(f"{name}(where, criterion) takes two arguments")
            if self.item_model is not None:
                raise self.fail(f"{name}() cannot be nested")
            attr, model, _ = _COLLECTIONS[name]
            self.item_model = model
            try:
                where, pred = self.truth(node.args[0]), self.truth(node.args[1])
            finally:
                self.item_model = None
            return AnyItem(attr, where, pred)
        raise self.fail(f"unknown function {name}()")


def parse(text: str, where: str, findings: frozenset[str] | None = None) -> Node:
    """Parse a criterion. ``where`` names the knowledge item for error messages; ``findings``,
    when given, is the closed set of finding names the expression may use."""
    try:
        tree = ast.parse("(" + text.strip() + "\n)", mode="eval")
    except SyntaxError as exc:
        raise KnowledgeError(f"{where}: cannot parse {text!r}: {exc.msg}") from None
    return _Parser(where, findings).truth(tree.body)


