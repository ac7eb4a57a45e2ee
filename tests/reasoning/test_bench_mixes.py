"""The benchmark's two mixes (``make bench``) assessed as the plain reference does.

The speed-ups of the generated function (loops written out for the scans and the motor
deficits, populations tested once, the differential's order as one number) are exercised most
by the dense mix: complete clinic visits with scans, deficits and every instrument, which the
generic case strategy reaches less often. The cases come from the benchmark's own generators,
so what is timed is what is checked."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from spinecare.case import parse_case
from spinecare.reasoning.engine import default_engine
from tests.reasoning.test_reference import disagreement

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_assess.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_assess", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("mix", "n"), [("generate", 150), ("generate_dense", 150)])
def test_the_benchmark_cases_are_assessed_as_the_reference_does(mix: str, n: int) -> None:
    engine = default_engine()
    problems = []
    for line in getattr(_bench(), mix)(n):
        case = parse_case(line)
        problem = disagreement(engine, case)
        if problem is not None:
            problems.append(f"{case.id}: {problem}")
    assert problems == []


def test_the_dense_mix_reaches_the_loops_over_scans_and_deficits() -> None:
    # without scans and deficits the loops written out for them would go unchecked here
    docs = [orjson.loads(line) for line in _bench().generate_dense(300)]
    assert sum(bool(d.get("imaging")) for d in docs) > 100
    assert sum(bool(d["exam"]["motor_deficits"]) for d in docs) > 30
