"""The compiled engine against the plain reference of the whole assessment.

The reference (``spinecare.reasoning.reference``) shares no code with the code generator, so
agreement here checks the compiler, the engine's precomputed tables and the generated
differential together. The probabilities are compared exactly: the reference multiplies the
same ratios in the same order. A deliberately broken compiler must be caught (the harness is
tested too)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from spinecare import criteria
from spinecare.case import Case, parse_case
from spinecare.criteria import compiler
from spinecare.reasoning.engine import Engine, default_engine
from spinecare.reasoning.knowledge import default_knowledge
from spinecare.reasoning.reference import Reference
from tests.conftest import CASES
from tests.strategies import valid_case_documents

REFERENCE = Reference(default_knowledge())
EXAMPLES = sorted(CASES.glob("*.case.json"))


def disagreement(engine: Engine, case: Case) -> str | None:
    """Where the compiled engine and the reference differ on ``case``, or None."""
    compiled, expected = engine.assess(case), REFERENCE.assess(case)
    if orjson.dumps(compiled) == orjson.dumps(expected):
        # and every finding and rule, even those that change nothing shown
        F = engine.findings(case)
        reference_F = REFERENCE.findings(case)
        for name in engine.finding_order:
            if F[name] is not reference_F[name]:
                return f"finding {name}: {F[name]} != {reference_F[name]}"
        status, reference_status = engine.rule_values(case), REFERENCE.rule_values(case)
        if list(status) != list(reference_status):
            return "the rules' order"
        for rid, v in status.items():
            if v is not reference_status[rid]:
                return f"rule {rid}: {v} != {reference_status[rid]}"
        return None
    a, b = orjson.loads(orjson.dumps(compiled)), orjson.loads(orjson.dumps(expected))
    for key in b:
        if a.get(key) != b[key]:
            return f"{key}: compiled {a.get(key)!r} != reference {b[key]!r}"
    return "key order"


def check(engine: Engine, doc: dict[str, Any]) -> None:
    case = parse_case(orjson.dumps(doc))
    problem = disagreement(engine, case)
    assert problem is None, problem


@settings(max_examples=400, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_compiled_assessment_equals_the_plain_reference(doc: dict[str, Any]) -> None:
    check(default_engine(), doc)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name.removesuffix(".case.json"))
def test_every_example_case_is_assessed_as_the_reference_does(path: Any) -> None:
    check(default_engine(), orjson.loads(path.read_bytes()))


def _thresholds(n: criteria.Node) -> Iterator[tuple[criteria.Node, float]]:
    """Every numeric comparison of a fact with a constant in ``n``."""
    if isinstance(n, criteria.Cmp):
        if (isinstance(n.left, criteria.Fact | criteria.ItemFact)
                and isinstance(n.right, criteria.Const)
                and type(n.right.value) in (int, float)):
            yield n.left, float(n.right.value)
        return
    for child in ((n.arg,) if isinstance(n, criteria.Not) else
                  n.args if isinstance(n, criteria.And | criteria.Or | criteria.Call) else ()):
        yield from _thresholds(child)


def threshold_cases() -> list[dict[str, Any]]:
    """Each example case with one fact set exactly to a threshold some criterion compares it
    with (random cases almost never land on one, and an off-by-one bug lives only there)."""
    k = default_knowledge()
    texts = [f.when for f in k.findings.values()]
    texts += [r.when for r in k.red_flag_rules] + [t.when for t in k.triage_rules]
    texts += [r.when for r in k.lbp_rules]
    for c in k.conditions.values():
        texts += [f.when for f in c.floor] + [x.when for x in c.cap]
    found: dict[tuple[criteria.Node, float], None] = {}
    for text in texts:
        found.update(dict.fromkeys(_thresholds(criteria.parse(text, "test"))))
    out = []
    for path in EXAMPLES:
        base = orjson.loads(path.read_bytes())
        for fact, value in found:
            doc = orjson.loads(orjson.dumps(base))
            v = int(value) if value.is_integer() else value
            if isinstance(fact, criteria.Fact):
                doc.setdefault(fact.section, {})[fact.field] = v
            elif doc.get("imaging"):
                for item in doc["imaging"]:
                    item[fact.field] = v
            else:
                continue
            doc["id"] = f"{doc['id']}-{getattr(fact, 'section', 'imaging')}.{fact.field}-{v}"
            out.append(doc)
    return out


def valid(doc: dict[str, Any]) -> Case | None:
    try:
        return parse_case(orjson.dumps(doc))
    except ValueError:
        return None


def test_cases_on_every_threshold_are_assessed_as_the_reference_does() -> None:
    engine = default_engine()
    cases = [case for case in map(valid, threshold_cases()) if case is not None]
    assert len(cases) > 50
    for case in cases:
        assert disagreement(engine, case) is None, case.id


@contextmanager
def broken_compiler(alter: Callable[[criteria.Node], criteria.Node]) -> Iterator[None]:
    """The code generator with one deliberate bug: each node passes through ``alter`` first."""
    original = compiler._Codegen.expr

    def expr(self: Any, n: criteria.Node, item: str | None = None) -> str:
        return original(self, alter(n), item)

    compiler._Codegen.expr = expr  # type: ignore[method-assign]
    try:
        yield
    finally:
        compiler._Codegen.expr = original  # type: ignore[method-assign]


def _equals_becomes_differs(n: criteria.Node) -> criteria.Node:
    if isinstance(n, criteria.Cmp) and n.op == "==":
        return criteria.Cmp("!=", n.left, n.right)
    return n


def _more_than_becomes_at_least(n: criteria.Node) -> criteria.Node:
    # off by one: only a case on the threshold tells them apart
    if isinstance(n, criteria.Cmp) and n.op == ">":
        return criteria.Cmp(">=", n.left, n.right)
    return n


@pytest.mark.parametrize("alter", [_equals_becomes_differs, _more_than_becomes_at_least])
def test_a_compiler_with_one_comparison_altered_is_caught(
        alter: Callable[[criteria.Node], criteria.Node]) -> None:
    with broken_compiler(alter):
        broken = Engine(default_knowledge())
    caught: list[str] = []

    @settings(max_examples=300, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(valid_case_documents)
    def run(doc: dict[str, Any]) -> None:
        problem = disagreement(broken, parse_case(orjson.dumps(doc)))
        if problem:
            caught.append(problem)

    for case in [parse_case(p.read_bytes()) for p in EXAMPLES] + [
            c for c in map(valid, threshold_cases()) if c is not None]:
        problem = disagreement(broken, case)
        if problem:
            caught.append(problem)
    run()
    assert caught, "the broken compiler went unnoticed"
