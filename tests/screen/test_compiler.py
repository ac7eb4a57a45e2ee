"""The columnar compiler's contract: every function of the criteria language has a columnar form
that means what its reference implementation means (each function's example criterion through
DuckDB and through the interpreter, row by row, on generated cases), and a function without one
is refused naming the function and the rule."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from spinecare import criteria
from spinecare.case import parse_case
from spinecare.criteria import FUNCTIONS, Function
from spinecare.errors import KnowledgeError
from spinecare.reasoning.knowledge import default_knowledge
from spinecare.screen.columns import row_to_case
from spinecare.screen.compiler import (
    COLUMNAR,
    DUCKDB,
    SPARK,
    Columnar,
    Passes,
    compile_knowledge,
    double,
)
from spinecare.screen.engines import conform
from spinecare.screen.generate import generate_table

TABLE = generate_table(3000, seed=3)


def test_every_function_of_the_language_has_a_columnar_form() -> None:
    assert set(FUNCTIONS) <= set(COLUMNAR)


@pytest.mark.parametrize("hoisted", [False, True], ids=["inline", "hoisted"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_functions_columnar_form_means_its_reference(name: str, hoisted: bool) -> None:
    # inline: the function walks its list itself; hoisted: it reads the bits of its list's
    # pass (compiler.Passes), computed in a query of its own before it
    fn = FUNCTIONS[name]
    node = criteria.parse(fn.example, f"example of {name}")
    used: set[str] = set()
    passes = Passes(DUCKDB) if hoisted else None
    sql = Columnar(DUCKDB, {}, used, passes).expr(node, f"example of {name}")
    relation = "t"
    if passes is not None and (name.startswith("any_") or name == "imaged"):
        assert passes.words, "the example was not hoisted"
    if passes is not None and passes.words:
        words = ", ".join(f"{e} AS {DUCKDB.quote(n)}" for n, e in passes.stage())
        relation = f"(SELECT *, {words} FROM t)"
    data = conform(TABLE, tuple(sorted(used)))
    with duckdb.connect() as con:
        con.register("t", data)
        got = [r[0] for r in con.execute(f"SELECT {sql} FROM {relation}").fetchall()]
    rows = TABLE.to_pylist()
    outcomes = set()
    for i, (row, value) in enumerate(zip(rows, got, strict=True)):
        case = parse_case(row_to_case(row, i + 1))
        expected = criteria.evaluate(node, case, {})
        assert value is expected, f"{name}, row {i}: {value!r} != {expected!r}"
        outcomes.add(expected)
    # the generated rows reach more than one outcome, or the comparison proves little
    assert len(outcomes) >= 2, outcomes


def test_a_function_without_a_columnar_form_is_refused_naming_it_and_the_rule() -> None:
    mystery = Function(name="mystery", params=("integer",), variadic=False,
                       reference=lambda case, k: True, generate=lambda args, tmp: "True")
    node = criteria.parse("mystery(3)", "rf.example", functions={**FUNCTIONS,
                                                                 "mystery": mystery})
    with pytest.raises(KnowledgeError, match=r"rf\.example: the function mystery\(\) has no "
                                             r"columnar form"):
        Columnar(DUCKDB, {}, set()).expr(node, "rf.example")


def test_a_double_literal_reads_back_as_the_same_double() -> None:
    values = [0.1, 0.35, 1 / 3, 20.0, 1e-05, 0.002 / (1 - 0.002), 123456.789]
    with duckdb.connect() as con:
        got = con.execute("SELECT " + ", ".join(double(v) for v in values)).fetchone()
    assert got is not None and list(got) == values


@pytest.mark.parametrize("dialect", [DUCKDB, SPARK], ids=lambda d: d.name)
def test_the_packaged_knowledge_compiles_in_each_dialect(dialect: Any) -> None:
    plan = compile_knowledge(default_knowledge(), dialect)
    assert [n for n, _ in plan.outputs] == plan.schema.names
    assert "symptoms.saddle_anesthesia" in plan.inputs
    # a stage keeps only what later stages read: the input lists are gone by the end
    assert "imaging" not in plan.layout()[-1]
