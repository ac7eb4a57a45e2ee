"""The compiler: batches of criteria turned into the body of one Python function (the hot path).

The generated code is meant to be read: each value is a local named after what it is
(``f_saddle_anaesthesia`` for a finding, ``rf_ces_saddle_anaesthesia`` for a rule,
``symptoms_bladder`` for a case fact), each line that computes a named item ends with its id as
a comment, and the source is registered in :mod:`linecache` under the program's file name, so a
traceback shows the lines. :meth:`Program.error` turns an exception raised inside the function
into an :class:`EvaluationError` naming the rule of the line it came from and the knowledge
version (as cql-execution annotates its errors with the library and expression).
"""

from __future__ import annotations

import keyword
import linecache
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from spinecare.criteria import codecache, logic, native
from spinecare.criteria.functions import Loop
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
    RefKind,
    element_only,
    refs,
)
from spinecare.errors import KnowledgeError, SpinecareError


class EvaluationError(SpinecareError, RuntimeError):
    """An error raised while compiled knowledge ran, pointing at the rule (not the engine):
    ``rule`` is the id of the item whose line raised, ``knowledge`` the knowledge version,
    ``line`` the line of the generated source (registered in :mod:`linecache` as
    ``filename``), ``cause`` the exception raised there (raise this one from it)."""

    def __init__(self, rule: str, knowledge: str, filename: str, line: int, cause: BaseException):
        self.rule, self.knowledge, self.filename, self.line = rule, knowledge, filename, line
        self.cause = cause
        super().__init__(f"{rule} (knowledge {knowledge}): {type(cause).__name__}: {cause} "
                         f"[{filename}, line {line}]")


_NOT_WORD = re.compile(r"\W")
# a line's own tag: what it computes, after two spaces and a hash
_TAG = re.compile(r"  # ([^ ]+)$")
# a section of the program: the lines under it belong to the item it names
_SECTION = re.compile(r"^\s*# --- ([^ ]+)$")


def identifier(text: str) -> str:
    """``text`` (an id such as ``rf.ces.saddle_anaesthesia``) as a Python name."""
    name = _NOT_WORD.sub("_", text)
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"_{name}"


class Names:
    """The names taken in one generated function: each readable name is given once."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        name = identifier(wanted)
        candidate, n = name, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{name}_{n}"
        self.taken.add(candidate)
        return candidate


class _Codegen:
    def __init__(self, local_refs: Mapping[Ref, str], ref_sources: Mapping[str, str],
                 names: Names | None = None):
        self.names = names or Names()
        self.local_refs = local_refs
        self.ref_sources = ref_sources  # kind -> the name of the dict argument holding it
        self.facts: dict[Fact, str] = {}  # case facts read once, at the top of the function
        # Values from earlier batches, likewise read once: rules share findings (spinal_pain
        # appears in a dozen red-flag rules), and a local is cheaper than a dict lookup.
        self.inputs: dict[Ref, str] = {}
        self.n_inputs = 0
        self.n = 0
        self.runtime: dict[str, Any] = {}  # helpers the table's functions call, by name
        # Functions of their own, defined before the main one: the loops of calls over a
        # collection (Function.loop), each tagged with the item it belongs to.
        self.helpers: list[str] = []
        self.current = "item"  # the name of the item being compiled

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
                self.facts[n] = self.names.claim(f"{n.section}_{n.field}")
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
        if isinstance(n, Call):
            if n.fn.loop is not None and all(element_only(a) for a in n.args):
                return self.loop(n, n.fn.loop)
            self.runtime.update(n.fn.runtime)
            args: list[str] = []
            for kind, arg in zip(n.fn.kinds(len(n.args)), n.args, strict=True):
                if kind == "item":
                    it = self.tmp()
                    args.append(f"lambda {it}: {self.expr(arg, it)}")
                else:
                    args.append(self.expr(arg, item))
            return n.fn.generate(tuple(args), self.tmp)
        raise TypeError(n)


    def loop(self, n: Call, loop: Loop) -> str:
        """A call walking its collection in a function of its own, defined once (a closure
        per argument, made on every call, and a generic walker cost more than the test)."""
        it = self.tmp()
        body, call = loop(it, tuple(self.expr(a, it) for a in n.args))
        helper = self.names.claim(f"{n.fn.name}_{self.current}")
        self.helpers += [f"def {helper}(items):  # {self.current}", f"    # --- {self.current}",
                         *(f"    {line}" for line in body)]
        return call.format(helper=helper, items=self.tmp())


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
        self.names = Names()
        self.names.taken.update(("c", *(f"in_{k}" for k in inputs)))
        self.gen = _Codegen(self.local, {k: f"in_{k}" for k in inputs}, self.names)
        self.lines: list[str] = []
        self.n = 0
        self.source = ""
        self.filename = ""
        self.rule_of_line: dict[int, str] = {}
        # the Python function, and whether function() gave the native build of it instead
        self.python: Callable[..., Any] | None = None
        self.native = False
        self.globals: tuple[str, ...] = ()

    def var(self, name: str | None = None) -> str:
        """A new local: ``name`` made a unique identifier, or a numbered one."""
        if name is not None:
            return self.names.claim(name)
        self.n += 1
        return f"_v{self.n}"

    def batch(self, named: list[tuple[str, Node]], *, local_kind: RefKind | None,
              prefix: str | None = None) -> list[str]:
        """Append ``named`` in order; returns the local holding each value. When ``local_kind``
        is set, later expressions may refer to each as a reference of that kind. With
        ``prefix`` each value gets a local named ``prefix`` + its name, on a line tagged with
        the name (so an error there names it). A value that is merely a fact or an earlier
        value is not copied (a local more costs every case), only noted in a comment."""
        self.gen.inputs = {}
        body = []
        out = []
        for name, node in named:
            self.gen.current = name
            for r in refs(node):
                if r.kind == local_kind and r not in self.local:
                    raise KnowledgeError(f"{name}: refers to {r.name!r} before it is defined")
            code = self.gen.expr(node)
            if code.isidentifier() and not keyword.iskeyword(code):
                var = code  # a fact or an earlier value as it is: no need to copy it
                if prefix is not None:
                    body.append(f"    # {name} is {code}  # {name}")
            elif prefix is not None:
                var = self.var(prefix + name)
                body.append(f"    {var} = {code}  # {name}")
            else:
                var = self.var()
                body.append(f"    {var} = {code}")
            if local_kind is not None:
                self.local[Ref(local_kind, name)] = var
            out.append(var)
        self.lines += self.gen.input_lines() + body
        return out

    def let(self, ref: Ref, code: str, name: str | None = None) -> str:
        """Bind ``ref`` to the value of the Python expression ``code`` (in a local called
        ``name``, when given)."""
        var = self.var(name)
        self.lines.append(f"    {var} = {code}")
        self.local[ref] = var
        return var

    def emit(self, lines: list[str]) -> None:
        self.lines += lines

    def function(self, returns: str, name: str = "<spinecare knowledge>",
                 namespace: Mapping[str, Any] | None = None, hot: tuple[str, ...] = (),
                 options: tuple[str, ...] = ()) -> Callable[..., Any]:
        """The compiled function of ``(c, in_KIND..., OPTION=False...)``, returning the
        expression ``returns`` (which may read the ``options``); ``hot`` names the locals used
        most. Its source is registered in :mod:`linecache` as ``name``: a traceback through it
        shows the generated lines."""
        # Locals are numbered in order of first mention, and one numbered above 255 costs an
        # extra instruction at every use: the ``hot`` ones (read in every part of the
        # function) are mentioned first.
        first = [f"    {' = '.join(hot)} = None"] if hot else []
        lines = [*self.gen.helpers,
                 f"def _program(c{''.join(', in_' + k for k in self.inputs)}"
                 f"{''.join(f', {o}=False' for o in options)}):",
                 *first, *self.gen.prologue(), *self.lines, f"    return {returns}"]
        ns: dict[str, Any] = {**self.gen.runtime, **(namespace or {})}
        self.source = "\n".join(lines) + "\n"
        self.filename = name
        # Each line's item: its own tag, else the section it is in (lines are numbered from 1).
        section = None
        for number, text in enumerate(self.source.splitlines(), 1):
            if text.startswith("def "):
                section = None  # a function's sections are its own
            heading = _SECTION.match(text)
            if heading:
                section = heading.group(1)
            tag = _TAG.search(text)
            if tag or section:
                self.rule_of_line[number] = tag.group(1) if tag else str(section)
        self.globals = tuple(ns)
        given = dict(ns)
        exec(codecache.compiled(self.source, name), ns)
        # mtime None: linecache.checkcache keeps the entry (there is no file to compare with)
        linecache.cache[name] = (len(self.source), None, self.source.splitlines(True), name)
        fn: Callable[..., Any] = ns["_program"]
        self.python = fn
        # The same source built as an extension, where `spinecare knowledge native` built it.
        module = native.load(self.source, given)
        self.native = module is not None
        return fn if module is None else module._program

    def build_native(self) -> Path:
        """Build the extension of this program's source (after :meth:`function`); where it
        is kept. Raises :class:`native.NativeBuildError`."""
        return native.build(self.source, self.globals)

    def error(self, exc: BaseException, knowledge: str, args: tuple[Any, ...] = ()
              ) -> EvaluationError | None:
        """``exc``, raised while the function ran (given ``args``), as an error naming the
        rule of the generated line it came from and the ``knowledge`` version; None when it did
        not come from a tagged line. The native build's traceback has no generated lines: the
        same arguments are run through the Python function, whose lines name the rule."""
        found = self._error_at(exc, knowledge)
        if found is None and self.native and self.python is not None and args:
            try:
                self.python(*args)
            except Exception as again:
                return self._error_at(again, knowledge)
        return found

    def _error_at(self, exc: BaseException, knowledge: str) -> EvaluationError | None:
        tb: TracebackType | None = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno  # the innermost generated line (a lambda's, for any_item)
            tb = tb.tb_next
        if line is None or line not in self.rule_of_line:
            return None
        return EvaluationError(self.rule_of_line[line], knowledge, self.filename, line, exc)


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
