"""The columnar compiler: the assessment knowledge as column expressions over a table of cases.

The same parsed trees the per-case engine runs (:mod:`spinecare.criteria`) are compiled, node
by node, into SQL expressions over the input columns (:mod:`spinecare.screen.columns`). SQL's
NULL is Kleene's unknown: ``AND``, ``OR`` and ``NOT`` of SQL are the three-valued connectives of
:mod:`spinecare.criteria.logic`, and a comparison with a NULL operand is NULL, as in the
interpreter. Two dialects differ only in how lists and lambdas are written: DuckDB's SQL (run by
DuckDB) and Spark SQL (made PySpark Columns with ``F.expr``).

The knowledge becomes a :class:`Plan`: stages of named columns, each stage reading the columns
of the stages before it (findings layer by layer, the red-flag rules, the flags and the floors'
and caps' criteria, the differential, the triage and low back pain rules, the diagnoses to
consider), then the output columns (:data:`spinecare.screen.output.OUTPUT_SCHEMA`).

The differential is computed as the engine computes it, with the same floating-point
operations in the same order (:mod:`spinecare.reasoning.differential`): the prior odds times
each applicable ratio (ungrouped in the knowledge's order, then each group's strongest in the
order the groups are first mentioned; a ratio that does not apply multiplies by 1, which is
exact), ``p = o / (1 + o)``, floors, diagnoses of exclusion last, likelihood bands and caps, and
the ordering that puts the first condition first.

Every function of the criteria language needs a columnar form (:data:`COLUMNAR`); a criterion
using one without it is refused when the knowledge is compiled, naming the function and the
rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from spinecare import criteria
from spinecare.criteria import Call, Cmp, Const, Fact, In, ItemFact, Node, Not, Ref
from spinecare.criteria.nodes import And, Or, element_only
from spinecare.errors import KnowledgeError
from spinecare.reasoning.knowledge import LEVEL_RANK, RED_FLAG_CODES, Cap, Floor, Knowledge
from spinecare.screen.columns import CASE_ID, input_columns
from spinecare.screen.lists import ListColumn
from spinecare.screen.output import BAND_PREFIX, PROBABILITY_PREFIX, output_schema

LIKELIHOOD_NAMES = ("low", "moderate", "high")


# --- dialects ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine writes the few things SQL engines write differently."""

    name: str
    quote_char: str
    filter_fn: str
    transform_fn: str
    length_fn: str
    distinct_fn: str
    sort_fn: str
    lambda_style: str  # "python": lambda x: body; "arrow": x -> body
    type_names: Mapping[str, str] = field(default_factory=dict)

    def quote(self, name: str) -> str:
        q = self.quote_char
        return q + name.replace(q, q + q) + q

    def unquote(self, quoted: str) -> str:
        q = self.quote_char
        return quoted[1:-1].replace(q + q, q)

    def lam(self, var: str, body: str) -> str:
        return f"lambda {var}: {body}" if self.lambda_style == "python" else f"{var} -> {body}"

    def filter(self, items: str, var: str, body: str) -> str:
        return f"{self.filter_fn}({items}, {self.lam(var, body)})"

    def transform(self, items: str, var: str, body: str) -> str:
        return f"{self.transform_fn}({items}, {self.lam(var, body)})"

    def length(self, items: str) -> str:
        return f"{self.length_fn}({items})"

    def bits_or(self, items: str, var: str, body: str) -> str:
        """The bitwise OR of the BIGINT ``body`` over the elements: NULL for a NULL list, 0
        for an empty one."""
        each = self.transform(items, var, body)
        if self.name == "duckdb":
            return (f"(CASE WHEN {items} IS NULL THEN NULL ELSE "
                    f"coalesce(list_bit_or({each}), CAST(0 AS BIGINT)) END)")
        return f"aggregate({each}, CAST(0 AS BIGINT), (a, b) -> a | b)"

    def array(self, items: list[str], element: pa.DataType) -> str:
        if not items:
            return f"CAST({self.array_literal([])} AS {self.sql_type(pa.list_(element))})"
        return self.array_literal(items)

    def array_literal(self, items: list[str]) -> str:
        inner = ", ".join(items)
        return f"[{inner}]" if self.name == "duckdb" else f"array({inner})"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        if self.name == "duckdb":
            return "{" + ", ".join(f"'{k}': {v}" for k, v in fields) + "}"
        return "named_struct(" + ", ".join(f"'{k}', {v}" for k, v in fields) + ")"

    def sql_type(self, t: pa.DataType) -> str:
        if pa.types.is_list(t):
            inner = self.sql_type(t.value_type)
            return f"{inner}[]" if self.name == "duckdb" else f"ARRAY<{inner}>"
        if pa.types.is_struct(t):
            if self.name == "duckdb":
                return "STRUCT(" + ", ".join(f"{self.quote(f.name)} {self.sql_type(f.type)}"
                                             for f in t) + ")"
            return "STRUCT<" + ", ".join(f"{self.quote(f.name)}: {self.sql_type(f.type)}"
                                         for f in t) + ">"
        return self.type_names[str(t)]


DUCKDB = Dialect("duckdb", '"', "list_filter", "list_transform", "len", "list_distinct",
                 "list_sort", "python",
                 {"bool": "BOOLEAN", "int64": "BIGINT", "double": "DOUBLE", "string": "VARCHAR"})
SPARK = Dialect("spark", "`", "filter", "transform", "size", "array_distinct", "array_sort",
                "arrow",
                {"bool": "BOOLEAN", "int64": "BIGINT", "double": "DOUBLE", "string": "STRING"})


def double(x: float) -> str:
    """A float as a SQL literal of type DOUBLE that reads back as the same double (a plain
    ``0.35`` is a DECIMAL in both dialects)."""
    if not math.isfinite(x):
        raise ValueError(x)
    text = repr(float(x))
    return text if "e" in text else f"{text}e0"


def string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _const(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return double(value)
    return string(value)


# --- criteria to columns -----------------------------------------------------------------

#: The input column of each collection a function of the criteria language walks.
COLLECTION_COLUMNS = {"imaging": "imaging", "motor_deficits": "exam.motor_deficits",
                      "prior_treatments": "history.prior_treatments"}


class Passes:
    """One pass over each input list for every list function over it that looks only at the
    list's elements (:func:`_item_only`).

    A list function compiled inline walks its list with a lambda two or three times, and each
    walk copies every field of every element (the imaging list's element has a dozen): with
    some fifty such walks per row, it was a fifth of the query's time. Hoisted, each function
    asks instead for the per-element conditions it needs (:meth:`bit`); each distinct condition
    gets a bit of a BIGINT word, each word is one column computed first, in one walk of its
    list (the bitwise OR over the elements of each element's bits: whether any element meets
    the condition), and the function tests the bits. A word is NULL for a NULL list and 0 for
    an empty one."""

    #: bits per word: a BIGINT's, less the sign bit
    WORD = 63
    VAR = "item"

    def __init__(self, dialect: Dialect):
        self.d = dialect
        # per list column (its quoted name): the conditions of each word, in bit order
        self.words: dict[str, list[list[str]]] = {}
        self.where: dict[tuple[str, str], tuple[str, int]] = {}

    def bit(self, items: str, condition: str) -> tuple[str, int]:
        """The word column (quoted) and bit mask that say whether any element of the list
        ``items`` meets ``condition`` (over :attr:`VAR`; NULL counts as not)."""
        key = (items, condition)
        found = self.where.get(key)
        if found is None:
            words = self.words.setdefault(items, [])
            if not words or len(words[-1]) == self.WORD:
                words.append([])
            words[-1].append(condition)
            found = (self.column(items, len(words) - 1), 1 << (len(words[-1]) - 1))
            self.where[key] = found
        return found

    def column(self, items: str, i: int) -> str:
        name = self.d.quote(f"__w__{self.d.unquote(items)}#{i}")
        return name

    def stage(self) -> list[tuple[str, str]]:
        """The word columns and their expressions, over the input columns."""
        out = []
        for items, words in self.words.items():
            for i, conditions in enumerate(words):
                body = " + ".join(
                    f"(CASE WHEN {c} THEN CAST({1 << b} AS BIGINT) ELSE CAST(0 AS BIGINT) END)"
                    for b, c in enumerate(conditions))
                out.append((self.d.unquote(self.column(items, i)),
                            self.d.bits_or(items, self.VAR, body)))
        return out


def _item_only(node: Node) -> bool:
    """Whether ``node`` reads nothing but the current element's fields and constants, known()
    aside (so it can be computed in the list's own pass, before any other column)."""
    return element_only(node, _ITEM_CALLS)


_ITEM_CALLS = frozenset({"known"})


def _has(word: str, mask: int) -> str:
    return f"(({word} & CAST({mask} AS BIGINT)) <> 0)"


class Columnar:
    """Compiles criteria trees to SQL expressions of one dialect. ``env`` gives the column
    expression of each reference already computed; ``used`` collects the input columns
    read; with ``passes`` the list functions that look only at the elements read the bits of
    their lists' passes (:class:`Passes`) instead of walking the lists themselves."""

    def __init__(self, dialect: Dialect, env: Mapping[Ref, str], used: set[str],
                 passes: Passes | None = None):
        self.d = dialect
        self.env = env
        self.used = used
        self.passes = passes
        self.n = 0

    def fact(self, name: str) -> str:
        self.used.add(name)
        return self.d.quote(name)

    def var(self) -> str:
        self.n += 1
        return f"it{self.n}"

    def expr(self, node: Node, where: str, item: str | None = None) -> str:
        if isinstance(node, Const):
            return _const(node.value)
        if isinstance(node, Fact):
            return self.fact(f"{node.section}.{node.field}")
        if isinstance(node, ItemFact):
            if item is None:
                raise KnowledgeError(f"{where}: item.{node.field} outside a list function")
            return f"{item}.{node.field}"
        if isinstance(node, Ref):
            column = self.env.get(node)
            if column is None:
                raise KnowledgeError(f"{where}: {node.kind}.{node.name} is not available here")
            return column
        if isinstance(node, Cmp):
            op = "=" if node.op == "==" else "<>" if node.op == "!=" else node.op
            return f"({self.expr(node.left, where, item)} {op} " \
                   f"{self.expr(node.right, where, item)})"
        if isinstance(node, In):
            values = ", ".join(_const(v) for v in node.values)
            word = "NOT IN" if node.negate else "IN"
            return f"({self.expr(node.operand, where, item)} {word} ({values}))"
        if isinstance(node, And | Or):
            if not node.args:
                return "TRUE" if isinstance(node, And) else "FALSE"
            word = " AND " if isinstance(node, And) else " OR "
            return "(" + word.join(self.expr(a, where, item) for a in node.args) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.expr(node.arg, where, item)})"
        if isinstance(node, Call):
            form = COLUMNAR.get(node.fn.name)
            if form is None:
                raise KnowledgeError(
                    f"{where}: the function {node.fn.name}() has no columnar form, so this "
                    f"knowledge cannot be screened; add one to "
                    f"spinecare.screen.compiler.COLUMNAR")
            return form(self, node, where, item)
        raise TypeError(node)

    def items(self, node: Call) -> str:
        collection = node.fn.collection
        if collection is None:
            raise KnowledgeError(f"{node.fn.name}() walks no collection")
        return self.fact(COLLECTION_COLUMNS[collection])


def _is_true(x: str) -> str:
    return f"coalesce({x}, FALSE)"


def _count(most: bool) -> Callable[[Columnar, Call, str, str | None], str]:
    def form(c: Columnar, node: Call, where: str, item: str | None) -> str:
        k = c.expr(node.args[0], where, item)
        args = [c.expr(a, where, item) for a in node.args[1:]]
        true = " + ".join(f"(CASE WHEN {_is_true(a)} THEN 1 ELSE 0 END)" for a in args)
        unknown = " + ".join(f"(CASE WHEN {a} IS NULL THEN 1 ELSE 0 END)" for a in args)
        if most:  # logic.at_most
            return (f"(CASE WHEN ({true}) + ({unknown}) <= {k} THEN TRUE "
                    f"WHEN ({true}) > {k} THEN FALSE ELSE NULL END)")
        return (f"(CASE WHEN ({true}) >= {k} THEN TRUE "  # logic.at_least
                f"WHEN ({true}) + ({unknown}) < {k} THEN FALSE ELSE NULL END)")

    return form


def _any_item(c: Columnar, node: Call, where: str, item: str | None) -> str:
    """functions.any_item: over the elements whose ``where`` is not false, the Kleene
    disjunction of ``where and pred``; with no element looked at, unknown for imaging (no scan
    of a region says nothing about it) and false for the other lists."""
    d = c.d
    items = c.items(node)
    empty = "NULL" if node.fn.collection == "imaging" else "FALSE"
    if c.passes is not None and item is None and all(_item_only(a) for a in node.args):
        # the counts below, each only as "any", from the list's pass
        v = c.passes.VAR
        w = c.expr(node.args[0], where, v)
        both = f"({w} AND {c.expr(node.args[1], where, v)})"
        word, true = c.passes.bit(items, both)
        _, kept = c.passes.bit(items, f"coalesce({w}, TRUE)")
        _, unknown = c.passes.bit(items, f"{both} IS NULL")
        return (f"(CASE WHEN {word} IS NULL THEN NULL WHEN {_has(word, true)} THEN TRUE "
                f"WHEN NOT {_has(word, kept)} THEN {empty} WHEN {_has(word, unknown)} "
                f"THEN NULL ELSE FALSE END)")
    v = c.var()
    w = c.expr(node.args[0], where, v)
    both = f"({w} AND {c.expr(node.args[1], where, v)})"
    n_true = d.length(d.filter(items, v, _is_true(both)))
    n_kept = d.length(d.filter(items, v, f"coalesce({w}, TRUE)"))
    n_unknown = d.length(d.filter(items, v, f"{both} IS NULL"))
    return (f"(CASE WHEN {items} IS NULL THEN NULL WHEN {n_true} > 0 THEN TRUE "
            f"WHEN {n_kept} = 0 THEN {empty} WHEN {n_unknown} > 0 THEN NULL ELSE FALSE END)")


def _distinct_myotomes(c: Columnar, node: Call, where: str, item: str | None) -> str:
    """functions.distinct_myotomes: the distinct recorded myotomes of the deficits whose
    ``where`` holds, and those that might be another (``where`` unknown or no myotome)."""
    d = c.d
    items = c.items(node)
    k = c.expr(node.args[0], where, item)
    v = c.var()
    w = c.expr(node.args[1], where, v)
    sure = f"({_is_true(w)} AND {v}.myotome IS NOT NULL)"
    seen = d.length(f"{d.distinct_fn}({d.transform(d.filter(items, v, sure), v, f'{v}.myotome')})")
    maybe = d.length(d.filter(items, v, f"(coalesce({w}, TRUE) AND NOT {sure})"))
    return (f"(CASE WHEN {items} IS NULL THEN NULL WHEN {seen} >= {k} THEN TRUE "
            f"WHEN {seen} + {maybe} >= {k} THEN NULL ELSE FALSE END)")


def _imaged(c: Columnar, node: Call, where: str, item: str | None) -> str:
    """functions.imaged: whether the case lists the scan; never unknown."""
    d = c.d
    images = c.fact(COLLECTION_COLUMNS["imaging"])
    if c.passes is not None and item is None and all(_item_only(a) for a in node.args):
        v = c.passes.VAR
        region, modality = (c.expr(a, where, v) for a in node.args)
        word, bit = c.passes.bit(
            images, f"(({v}.region = {region} AND {v}.modality = {modality}))")
        return f"coalesce({_has(word, bit)}, FALSE)"
    v = c.var()
    region, modality = (c.expr(a, where, item) for a in node.args)
    match = f"({v}.region = {region} AND {v}.modality = {modality})"
    return f"coalesce({d.length(d.filter(images, v, _is_true(match)))} > 0, FALSE)"


def _known(c: Columnar, node: Call, where: str, item: str | None) -> str:
    return f"({c.expr(node.args[0], where, item)} IS NOT NULL)"


def _mjoa_at_most(c: Columnar, node: Call, where: str, item: str | None) -> str:
    """functions.mjoa_total: the four domains' sum (each required when the mJOA is given)."""
    m = c.fact("instruments.mjoa")
    k = c.expr(node.args[0], where, item)
    total = " + ".join(f"{m}.{part}" for part in (
        "upper_extremity_motor", "lower_extremity_motor", "upper_extremity_sensation",
        "micturition"))
    return f"(CASE WHEN {m} IS NULL THEN NULL ELSE ({total}) <= {k} END)"


Form = Callable[[Columnar, Call, str, str | None], str]
COLUMNAR: dict[str, Form] = {
    "at_least": _count(most=False),
    "at_most": _count(most=True),
    "any_imaging": _any_item,
    "any_deficit": _any_item,
    "any_prior_treatment": _any_item,
    "imaged": _imaged,
    "known": _known,
    "distinct_myotomes": _distinct_myotomes,
    "mjoa_at_most": _mjoa_at_most,
}
"""The columnar form of each function of :data:`spinecare.criteria.FUNCTIONS`, by name: the
same meaning as its reference implementation (``tests/screen`` holds them equal)."""


# --- the plan ----------------------------------------------------------------------------


@dataclass
class Plan:
    """The compiled knowledge: stages of ``(column, expression)``, each over the columns before
    it, then the output columns."""

    dialect: Dialect
    knowledge: str
    stages: list[list[tuple[str, str]]]
    outputs: list[tuple[str, str]]
    schema: pa.Schema
    #: the input columns the knowledge reads
    inputs: tuple[str, ...]
    #: the list outputs, each also in :attr:`outputs` as one SQL expression
    lists: tuple[ListColumn, ...] = ()

    def referenced(self, expression: str) -> set[str]:
        """The column names an expression of this plan reads (its quoted identifiers)."""
        q = re.escape(self.dialect.quote_char)
        return {m.replace(self.dialect.quote_char * 2, self.dialect.quote_char)
                for m in re.findall(f"{q}((?:[^{q}]|{q}{q})*){q}", expression)}

    def layout(self) -> list[list[str]]:
        """For each stage, the columns of the stages before it that it keeps: only those a
        later stage or an output reads (carrying every input list through every stage would
        copy it each time)."""
        needed: set[str] = set()
        for _, e in self.outputs:
            needed |= self.referenced(e)
        after: list[set[str]] = []
        for stage in reversed(self.stages):
            after.append(set(needed))
            for _, e in stage:
                needed |= self.referenced(e)
            needed -= {n for n, _ in stage}
        after.reverse()
        available = [CASE_ID, *self.inputs]
        kept = []
        for stage, later in zip(self.stages, after, strict=True):
            keep = [c for c in available if c in later]
            kept.append(keep)
            available = keep + [n for n, _ in stage]
        return kept

    def sql(self, source: str) -> str:
        """One query from the relation ``source`` (with ``case_id`` and the input columns) to
        the output columns."""
        return self._query(source, self.outputs)

    def packed_outputs(self) -> list[tuple[str, str]]:
        """The outputs with each list output replaced by its packed columns
        (:mod:`spinecare.screen.lists`), in the same places."""
        lists = {c.name: c for c in self.lists}
        out: list[tuple[str, str]] = []
        for name, e in self.outputs:
            column = lists.get(name)
            if column is None:
                out.append((name, e))
            else:
                out += zip(column.packed_names(), column.packed_sql(), strict=True)
        return out

    def packed_sql(self, source: str) -> str:
        """:meth:`sql` with the list outputs packed (:meth:`packed_outputs`)."""
        return self._query(source, self.packed_outputs())

    def _query(self, source: str, outputs: list[tuple[str, str]]) -> str:
        q = self.dialect.quote
        cols = ", ".join(q(c) for c in (CASE_ID, *self.inputs))
        query = f"SELECT {cols} FROM {source}"
        for i, (stage, keep) in enumerate(zip(self.stages, self.layout(), strict=True)):
            exprs = ",\n  ".join([*(q(c) for c in keep),
                                   *(f"{e} AS {q(name)}" for name, e in stage)])
            query = f"SELECT\n  {exprs}\nFROM ({query}) AS s{i}"
        outs = ",\n  ".join(f"{e} AS {q(name)}" for name, e in outputs)
        return f"SELECT\n  {outs}\nFROM ({query}) AS s"


class _Builder:
    def __init__(self, k: Knowledge, dialect: Dialect):
        self.k = k
        self.d = dialect
        self.env: dict[Ref, str] = {}
        self.used: set[str] = set()
        self.passes = Passes(dialect)
        self.stages: list[list[tuple[str, str]]] = []
        self.names: set[str] = set()
        self.names_of: dict[str, str] = {}
        self.findings = frozenset(k.findings)

    def col(self, kind: str, name: str) -> str:
        """A new internal column; its quoted name."""
        column = f"__{kind}__{name}"
        if column in self.names:
            raise KnowledgeError(f"{name}: named twice")
        self.names.add(column)
        return column

    def stage(self, items: list[tuple[str, str]]) -> None:
        if items:
            self.stages.append(items)

    def compile(self, text: str, where: str) -> str:
        node = criteria.parse(text, where, self.findings)
        return Columnar(self.d, self.env, self.used, self.passes).expr(node, where)

    def q(self, column: str) -> str:
        return self.d.quote(column)


def compile_knowledge(k: Knowledge, dialect: Dialect) -> Plan:
    """The whole assessment knowledge as a :class:`Plan` in ``dialect``."""
    b = _Builder(k, dialect)
    q = b.q
    d = dialect

    # findings, layer by layer: a finding reads only those of earlier layers
    parsed = {n: criteria.parse(f.when, f"findings.toml: {n}", b.findings)
              for n, f in k.findings.items()}
    depth: dict[str, int] = {}

    def layer(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in trail:
            raise KnowledgeError(f"findings.toml: cycle {' -> '.join((*trail, name))}")
        if name not in depth:
            deps = [r.name for r in criteria.refs(parsed[name]) if r.kind == "finding"]
            depth[name] = 1 + max((layer(x, (*trail, name)) for x in deps), default=-1)
        return depth[name]

    for n in k.findings:
        layer(n)
    finding_col = {n: b.col("f", n) for n in k.findings}
    for level in range(max(depth.values(), default=-1) + 1):
        stage = []
        for n in k.findings:
            if depth[n] == level:
                stage.append((finding_col[n], Columnar(d, b.env, b.used, b.passes).expr(
                    parsed[n], f"findings.toml: {n}")))
        b.stage(stage)
        for n in k.findings:
            if depth[n] == level:
                b.env[Ref("finding", n)] = q(finding_col[n])

    def finding(n: str) -> str:
        return q(finding_col[n])

    # red-flag rules, then the flags they raise, and the floors' and caps' criteria
    rule_col: dict[str, str] = {}
    red = []
    for r in k.red_flag_rules:
        rule_col[r.id] = b.col("r", r.id)
        red.append((rule_col[r.id], b.compile(r.when, f"red_flags.toml: {r.id}")))
    b.stage(red)
    flag_col = {code: b.col("flag", code) for code in RED_FLAG_CODES}
    b.stage([(flag_col[code], " OR ".join(
        [_is_true(q(rule_col[r.id])) for r in k.red_flag_rules if r.flag == code] or ["FALSE"]))
        for code in RED_FLAG_CODES])
    for code in RED_FLAG_CODES:
        b.env[Ref("flag", code)] = q(flag_col[code])
    bound_col: dict[str, str] = {}
    bounds = []
    for c in k.conditions.values():
        bounded: list[Floor | Cap] = [*c.floor, *c.cap]
        for item in bounded:
            bound_col[item.id] = b.col("b", item.id)
            bounds.append((bound_col[item.id], _is_true(
                b.compile(item.when, f"conditions.toml: {item.id}"))))
    b.stage(bounds)

    def bound(bid: str) -> str:
        return q(bound_col[bid])

    # the differential: the odds, the probability, floors (reference.Reference.differential)
    rules_fired: dict[str, list[str]] = {}

    def fired(rid: str, when: str) -> None:
        rules_fired.setdefault(rid, []).append(when)

    plain = [code for code, c in k.conditions.items() if c.exclusion is None]
    excluded = [code for code, c in k.conditions.items() if c.exclusion is not None]
    odds_col = {code: b.col("o", code) for code in plain}
    p0_col = {code: b.col("p0", code) for code in plain}
    p_col = {code: b.col("p", code) for code in k.conditions}
    odds_stage = []
    for code in plain:
        c = k.conditions[code]
        fired(f"{code}.prior", "TRUE")
        factors = [double(c.prior / (1 - c.prior))]
        groups: dict[str, list[tuple[float, int, str, float, str]]] = {}
        for i, e in enumerate(c.evidence):
            given = f"{_is_true(finding(e.given))} AND " if e.given else ""
            options = [(True, e.lr_present), (False, e.lr_absent)]
            if e.group is None:
                whens = []
                for present, lr in options:
                    if lr is None:
                        continue
                    test = f"{given}{finding(e.finding)} = {_const(present)}"
                    whens.append(f"WHEN {test} THEN {double(lr)}")
                    fired(e.id, test)
                factors.append(f"(CASE {' '.join(whens)} ELSE 1.0e0 END)")
            else:
                for present, lr in options:
                    if lr is None:
                        continue
                    test = f"{given}{finding(e.finding)} = {_const(present)}"
                    groups.setdefault(e.group, []).append(
                        (-abs(math.log(lr)), i, test, lr, e.id))
        for members in groups.values():
            # the strongest applicable ratio (furthest from 1 on the log scale); the first
            # listed wins a tie, as in the engine's strictly-greater comparison
            members.sort(key=lambda m: (m[0], m[1]))
            whens = []
            earlier: list[str] = []
            for _, _, test, lr, eid in members:
                whens.append(f"WHEN {test} THEN {double(lr)}")
                fired(eid, " AND ".join([f"NOT {_is_true(t)}" for t in earlier]
                                        + [_is_true(f"({test})")]))
                earlier.append(f"({test})")
            factors.append(f"(CASE {' '.join(whens)} ELSE 1.0e0 END)")
        odds_stage.append((odds_col[code], " * ".join(factors)))
    b.stage(odds_stage)
    b.stage([(p0_col[code], f"{q(odds_col[code])} / (1.0e0 + {q(odds_col[code])})")
             for code in plain])
    floor_stage = []
    flagged: dict[str, str] = {}
    for code in plain:
        c = k.conditions[code]
        p0 = q(p0_col[code])
        if not c.floor:
            floor_stage.append((p_col[code], p0))
            continue
        raised = [f"CASE WHEN {bound(fl.id)} THEN {double(fl.probability)} ELSE -1.0e0 END"
                  for fl in c.floor]
        floor_stage.append((p_col[code], f"greatest({p0}, {', '.join(raised)})"))
        for i, fl in enumerate(c.floor):
            fired(fl.id, f"{bound(fl.id)} AND {double(fl.probability)} > "
                         f"{_extreme('greatest', [p0, *raised[:i]])}")
        flag_floors = [fl for fl in c.floor
                       if any(r.kind == "flag" for r in criteria.refs(
                           criteria.parse(fl.when, fl.id, b.findings)))]
        if flag_floors:
            flagged[code] = "(CASE WHEN " + " OR ".join(bound(fl.id) for fl in flag_floors) \
                + " THEN 1 ELSE 0 END)"
    b.stage(floor_stage)
    # diagnoses of exclusion: each reads the probabilities before it
    for code in excluded:
        ex = k.conditions[code].exclusion
        assert ex is not None
        fired(f"{code}.exclusion", "TRUE")
        v = finding(ex.requires)
        base = (f"(CASE WHEN {v} IS NULL THEN {double(ex.base * ex.if_unknown)} "
                f"WHEN {v} THEN {double(ex.base)} ELSE {double(ex.base * ex.if_absent)} END)")
        factors = [base, *(f"(1.0e0 - {q(p_col[o])})" for o in ex.excluded_by)]
        b.stage([(p_col[code], " * ".join(factors))])
    # bands, then caps
    rank0_col = {code: b.col("k0", code) for code in k.conditions}
    rank_col = {code: b.col("k", code) for code in k.conditions}
    hi, mid = double(k.bands.high), double(k.bands.moderate)
    b.stage([(rank0_col[code], f"(CASE WHEN {q(p_col[code])} >= {hi} THEN 2 "
              f"WHEN {q(p_col[code])} >= {mid} THEN 1 ELSE 0 END)") for code in k.conditions])
    cap_stage = []
    held: dict[str, str] = {}
    for code, c in k.conditions.items():
        r0 = q(rank0_col[code])
        if not c.cap:
            cap_stage.append((rank_col[code], r0))
            continue
        lowered = [f"CASE WHEN {bound(cap.id)} THEN {LIKELIHOOD_NAMES.index(cap.likelihood)} "
                   f"ELSE 2 END" for cap in c.cap]
        cap_stage.append((rank_col[code], f"least({r0}, {', '.join(lowered)})"))
        for i, cap in enumerate(c.cap):
            fired(cap.id, f"{bound(cap.id)} AND "
                          f"{LIKELIHOOD_NAMES.index(cap.likelihood)} < "
                          f"{_extreme('least', [r0, *lowered[:i]])}")
        held[code] = "(CASE WHEN " + " OR ".join(bound(cap.id) for cap in c.cap) \
            + " THEN 1 ELSE 0 END)"
    b.stage(cap_stage)
    for code in k.conditions:
        b.env[Ref("likely", code)] = f"({q(rank_col[code])} >= 1)"
        b.env[Ref("high", code)] = f"({q(rank_col[code])} = 2)"

    # the triage and low back pain rules, and the diagnoses to consider
    late = []
    for t in k.triage_rules:
        rule_col[t.id] = b.col("r", t.id)
        late.append((rule_col[t.id], b.compile(t.when, f"triage.toml: {t.id}")))
    for lr_ in k.lbp_rules:
        rule_col[lr_.id] = b.col("r", lr_.id)
        late.append((rule_col[lr_.id], b.compile(lr_.when, f"lbp_source.toml: {lr_.id}")))
    consider_col = {}
    for x in k.considerations:
        consider_col[x.id] = b.col("x", x.id)
        late.append((consider_col[x.id],
                     _is_true(b.compile(x.when, f"considerations.toml: {x.id}"))))
    # the level: the highest of the rules that hold (-1: none, the default's)
    setting: list[tuple[str, str]] = [(r.id, r.triage) for r in k.red_flag_rules]
    setting += [(t.id, t.level) for t in k.triage_rules]
    top_col = b.col("t", "level")
    b.stage(late)
    b.stage([(top_col, "greatest(" + ", ".join(
        f"CASE WHEN {_is_true(q(rule_col[rid]))} THEN {LEVEL_RANK[lvl]} ELSE -1 END"
        for rid, lvl in setting) + ", -1)")])
    top = q(top_col)
    for rid, lvl in setting:
        fired(rid, f"{_is_true(q(rule_col[rid]))} AND {top} = {LEVEL_RANK[lvl]}")
    for r in k.red_flag_rules:
        fired(r.id, _is_true(q(rule_col[r.id])))
    fired("tr.default", f"{top} = -1")
    for i, lr_ in enumerate(k.lbp_rules):
        earlier = [f"NOT {_is_true(q(rule_col[x.id]))}" for x in k.lbp_rules[:i]]
        fired(lr_.id, " AND ".join([*earlier, _is_true(q(rule_col[lr_.id]))]))

    # the outputs
    outputs: list[tuple[str, str]] = [(CASE_ID, q(CASE_ID))]
    levels = {rank: level for level, rank in LEVEL_RANK.items()}
    outputs.append(("triage", f"(CASE {top} " + " ".join(
        f"WHEN {rank} THEN {string(level)}" for rank, level in sorted(levels.items()))
        + f" ELSE {string(k.triage_default.level)} END)"))
    # the flags in the order of the first of each flag's rules that held
    firsts = []
    for code in RED_FLAG_CODES:
        order = [(i, r) for i, r in enumerate(k.red_flag_rules) if r.flag == code]
        if order:
            firsts.append((code, "(CASE " + " ".join(
                f"WHEN {_is_true(q(rule_col[r.id]))} THEN {i}" for i, r in order) + " END)"))
    lists = [ListColumn("red_flags", tuple(c for c, _ in firsts), tuple(f for _, f in firsts),
                        keyed=True)]
    outputs.append(("red_flags", _list_sql(d, lists[-1])))
    # the first condition: the least sort key (engine: band, flagged, provisional,
    # probability as shown, priority), packed in one integer
    by_priority = sorted(k.conditions, key=lambda code: k.conditions[code].priority)
    shown = {code: f"CAST(floor({q(p_col[code])} * 1.0e3 + 0.5e0) AS BIGINT)"
             for code in k.conditions}
    keys = {}
    for code in k.conditions:
        key = (f"((((2 - {q(rank_col[code])}) * 2 + (1 - {flagged.get(code, '0')})) * 2 + "
               f"{held.get(code, '0')}) * 1001 + (1000 - {shown[code]})) * 1024 + "
               f"{by_priority.index(code)}")
        keys[code] = key
    least = "least(" + ", ".join(keys.values()) + ")"
    outputs.append(("first_condition", f"(CASE ({least}) % 1024 " + " ".join(
        f"WHEN {i} THEN {string(code)}" for i, code in enumerate(by_priority)) + " END)"))
    schema = output_schema(k.conditions)
    for name in schema.names:
        if name.startswith(PROBABILITY_PREFIX):
            code = name[len(PROBABILITY_PREFIX):]
            outputs.append((name, f"({shown[code]} / 1.0e3)"))
    for name in schema.names:
        if name.startswith(BAND_PREFIX):
            code = name[len(BAND_PREFIX):]
            outputs.append((name, f"(CASE {q(rank_col[code])} " + " ".join(
                f"WHEN {i} THEN {string(n)}" for i, n in enumerate(LIKELIHOOD_NAMES)) + " END)"))
    outputs.append(("low_back_pain_source", "(CASE " + " ".join(
        f"WHEN {_is_true(q(rule_col[r.id]))} THEN {string(r.source)}" for r in k.lbp_rules)
        + " ELSE 'undetermined' END)"))
    for name, candidates in (
            ("rules", sorted((rid, " OR ".join(f"({w})" for w in whens))
                             for rid, whens in rules_fired.items())),
            # a list's condition may be NULL (counted false): the finding's column as it is
            ("findings", sorted((n, finding(n)) for n in k.findings)),
            ("consider", [(x.id, q(consider_col[x.id])) for x in k.considerations])):
        lists.append(ListColumn(name, tuple(n for n, _ in candidates),
                                tuple(w for _, w in candidates)))
        outputs.append((name, _list_sql(d, lists[-1])))
    # the lists' passes first: they read only the input lists
    stages = [b.passes.stage(), *b.stages] if b.passes.words else b.stages
    return Plan(dialect, k.version, stages, outputs, schema,
                tuple(c.name for c in input_columns() if c.name in b.used), tuple(lists))


def _extreme(fn: str, args: list[str]) -> str:
    """``greatest``/``least`` of ``args``; one argument is itself (Spark wants two or more)."""
    return args[0] if len(args) == 1 else f"{fn}({', '.join(args)})"


def _list_sql(d: Dialect, column: ListColumn) -> str:
    """A list output as one SQL expression: the names whose condition holds, in the order
    given, or for a keyed list the names whose key is not NULL, by key."""
    if column.keyed:
        v = "f"
        structs = [d.struct([("i", key), ("c", string(name))])
                   for name, key in zip(column.labels, column.whens, strict=True)]
        return d.transform(
            f"{d.sort_fn}({d.filter(d.array_literal(structs), v, f'{v}.i IS NOT NULL')})", v,
            f"{v}.c")
    v = "n"
    items = [f"CASE WHEN {when} THEN {string(name)} END"
             for name, when in zip(column.labels, column.whens, strict=True)]
    return d.filter(d.array(items, pa.string()), v, f"{v} IS NOT NULL")


def columnar_forms() -> Mapping[str, Any]:
    """The columnar forms by function name (for the contract test of the function table)."""
    return COLUMNAR
