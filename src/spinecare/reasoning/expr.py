"""The knowledge expression language: parsed once into a small typed tree, then evaluated.

Knowledge files write criteria as short expressions::

    saddle_anaesthesia or symptoms.bladder in ('new_retention', 'new_incontinence')
    at_least(3, gait_deviation, hoffmann_sign, inverted_supinator, babinski_sign, age_over_45)
    any_imaging(item.region == 'lumbar', item.canal_ap_diameter_mm < 10)

Names:
- ``section.field`` reads a case fact (``patient``, ``history``, ``symptoms``, ``exam``);
- a bare name is a *finding* (a named, labelled predicate from ``findings.toml``);
- ``flag.CODE`` is whether a red flag was raised; ``likely.CODE`` whether a condition is at least
  moderately likely; ``high.CODE`` whether it is highly likely;
- ``item.field`` is a field of the current element inside ``any_imaging`` / ``any_deficit``.

The tree is the contract between the knowledge and its evaluators. Two evaluate it here: the
reference interpreter :func:`evaluate` (plain recursion, easy to trust) and the compiler
:func:`compile_batch`, which turns a batch of expressions into one Python function (fast, used on
the hot path). A test checks that both agree on generated cases. The same tree can be compiled to
columnar expressions for cohort screening.

Comparisons with an unknown operand are unknown; ``and``/``or``/``not`` are Kleene
(:mod:`spinecare.reasoning.logic`).
"""

from __future__ import annotations

import ast
import keyword
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from spinecare.case import Case, Exam, Imaging, MotorDeficit
from spinecare.errors import KnowledgeError
from spinecare.reasoning import logic

# --- the tree ---------------------------------------------------------------------------------

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


# --- parsing ----------------------------------------------------------------------------------


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


# --- the reference interpreter ----------------------------------------------------------------

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
        return _any_item(items, node.collection,
                         lambda it: evaluate(node.where, case, values, it),
                         lambda it: evaluate(node.pred, case, values, it))
    raise TypeError(node)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _any_item(items: list[Any] | None, collection: str, where: Callable[[Any], logic.Tri],
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


# --- the compiler -----------------------------------------------------------------------------


class _Codegen:
    def __init__(self, local_refs: Mapping[Ref, str], ref_sources: Mapping[str, str]):
        self.local_refs = local_refs
        self.ref_sources = ref_sources  # kind -> the name of the dict argument holding it
        self.facts: dict[Fact, str] = {}  # case facts read once, at the top of the function
        # Values from earlier batches, likewise read once: rules share findings (spinal_pain
        # appears in a dozen red-flag rules), and a local is cheaper than a dict lookup.
        self.inputs: dict[Ref, str] = {}
        self.n_inputs = 0
        self.n = 0

    def tmp(self) -> str:
        self.n += 1
        return f"_t{self.n}"

    def prologue(self) -> list[str]:
        sections = sorted({f.section for f in self.facts})
        # Fields are read from the section's __dict__, where pydantic keeps them: a model's
        # attribute access goes through its __getattr__ hook, several times dearer than a
        # dict lookup, and every case reads some sixty facts.
        lines = [f"    _{s} = c.{s}.__dict__" for s in sections]
        lines += [f"    {var} = _{f.section}[{f.field!r}]" for f, var in self.facts.items()]
        return lines

    def input_lines(self) -> list[str]:
        return [f"    {var} = {self.ref_sources[r.kind]}[{r.name!r}]"
                for r, var in self.inputs.items()]

    def simple(self, n: Node, item: str | None) -> str | None:
        """A bare name that can be read twice at no cost, if ``n`` compiles to one."""
        if isinstance(n, Fact):
            if n not in self.facts:
                self.facts[n] = f"_f{len(self.facts)}"
            return self.facts[n]
        if isinstance(n, Ref):
            if n in self.local_refs:
                return self.local_refs[n]
            if n.kind in self.ref_sources:
                if n not in self.inputs:
                    # named across the whole function: a batch's values may be these names
                    self.n_inputs += 1
                    self.inputs[n] = f"_r{self.n_inputs}"
                return self.inputs[n]
        return None

    def bind(self, n: Node, item: str | None) -> tuple[str, str]:
        """``(first_use, later_uses)``: the operand evaluated once, named for re-use."""
        name = self.simple(n, item)
        if name is not None:
            return name, name
        t = self.tmp()
        return f"({t} := {self.expr(n, item)})", t

    def expr(self, n: Node, item: str | None = None) -> str:
        name = self.simple(n, item)
        if name is not None:
            return name
        if isinstance(n, Const):
            return repr(n.value)
        if isinstance(n, ItemFact):
            return f"{item}.{n.field}"
        if isinstance(n, Ref):
            raise KnowledgeError(f"{n.kind}.{n.name} is not available here")
        if isinstance(n, Cmp):
            first, a = self.bind(n.left, item)
            if isinstance(n.right, Const):
                return f"(None if {first} is None else ({a} {n.op} {n.right.value!r}))"
            rfirst, b = self.bind(n.right, item)
            return f"(None if ({first} is None or {rfirst} is None) else ({a} {n.op} {b}))"
        if isinstance(n, In):
            first, a = self.bind(n.operand, item)
            test = "not in" if n.negate else "in"
            values = repr(frozenset(n.values)) if len(n.values) > 3 else repr(n.values)
            return f"(None if {first} is None else ({a} {test} {values}))"
        if isinstance(n, And | Or):
            bound = [self.bind(a, item) for a in n.args]
            stop, other = ("False", "True") if isinstance(n, And) else ("True", "False")
            first = " or ".join(f"{f} is {stop}" for f, _ in bound)
            unknown = " or ".join(f"{t} is None" for _, t in bound)
            return f"({stop} if ({first}) else (None if ({unknown}) else {other}))"
        if isinstance(n, Not):
            first, a = self.bind(n.arg, item)
            return f"(None if {first} is None else not {a})"
        if isinstance(n, Count):
            fn = "_at_most" if n.most else "_at_least"
            return f"{fn}({n.k}, ({', '.join(self.expr(a, item) for a in n.args)},))"
        if isinstance(n, AnyItem):
            source = "c.imaging" if n.collection == "imaging" else "c.exam.motor_deficits"
            it, items = self.tmp(), self.tmp()
            where, pred = self.expr(n.where, it), self.expr(n.pred, it)
            # Most cases list no imaging: decide that without building the two closures.
            return (f"(None if ({items} := {source}) is None else _any_item({items}, "
                    f"{n.collection!r}, lambda {it}: {where}, lambda {it}: {pred}))")
        raise TypeError(n)


Batch = Callable[..., dict[str, logic.Tri]]


class Program:
    """Batches of expressions compiled, in order, into the body of one Python function.

    Each value is a local of the function, so a later batch reads the findings (or flags,
    likelihoods) of an earlier one as a local instead of looking it up in a dict, and no
    intermediate dict is built. The caller may also bind references to its own code
    (:meth:`let`) and splice in lines (:meth:`emit`). Case facts are read once, at the top.
    """

    def __init__(self, inputs: tuple[RefKind, ...] = ()):
        self.local: dict[Ref, str] = {}
        self.inputs = inputs
        self.gen = _Codegen(self.local, {k: f"in_{k}" for k in inputs})
        self.lines: list[str] = []
        self.n = 0

    def var(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    def batch(self, named: list[tuple[str, Node]], *, local_kind: RefKind | None) -> list[str]:
        """Append ``named`` in order; returns the local holding each value. When ``local_kind``
        is set, later expressions may refer to each as a reference of that kind."""
        self.gen.inputs = {}
        body = []
        out = []
        for name, node in named:
            for r in refs(node):
                if r.kind == local_kind and r not in self.local:
                    raise KnowledgeError(f"{name}: refers to {r.name!r} before it is defined")
            code = self.gen.expr(node)
            if code.isidentifier() and not keyword.iskeyword(code):
                var = code  # a fact or an earlier value as it is: no need to copy it
            else:
                var = self.var()
                body.append(f"    {var} = {code}")
            if local_kind is not None:
                self.local[Ref(local_kind, name)] = var
            out.append(var)
        self.lines += self.gen.input_lines() + body
        return out

    def let(self, ref: Ref, code: str) -> str:
        """Bind ``ref`` to the value of the Python expression ``code``."""
        var = self.var()
        self.lines.append(f"    {var} = {code}")
        self.local[ref] = var
        return var

    def emit(self, lines: list[str]) -> None:
        self.lines += lines

    def function(self, returns: str, name: str = "<spinecare knowledge>",
                 namespace: Mapping[str, Any] | None = None) -> Callable[..., Any]:
        """The compiled function of ``(c, in_KIND...)``, returning the expression ``returns``."""
        lines = [f"def _program(c{''.join(', in_' + k for k in self.inputs)}):",
                 *self.gen.prologue(), *self.lines, f"    return {returns}"]
        ns: dict[str, Any] = {
            "_at_least": logic.at_least, "_at_most": logic.at_most, "_any_item": _any_item,
            **(namespace or {}),
        }
        exec(compile("\n".join(lines), name, "exec"), ns)
        fn: Callable[..., Any] = ns["_program"]
        return fn


def compile_batch(named: list[tuple[str, Node]], *, local_kind: RefKind | None,
                  inputs: tuple[RefKind, ...] = ()) -> Batch:
    """Compile ``named`` expressions, in order, into one function.

    The function takes the case and one dict per kind in ``inputs`` (values computed by earlier
    batches) and returns ``{name: value}``. When ``local_kind`` is set, expressions may refer to
    earlier members of the batch as references of that kind.
    """
    prog = Program(inputs)
    out = prog.batch(named, local_kind=local_kind)
    fn: Batch = prog.function(
        "{" + ", ".join(f"{name!r}: {var}" for (name, _), var in zip(named, out, strict=True))
        + "}")
    return fn
