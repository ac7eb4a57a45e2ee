"""The generated program built natively: the same results as the Python function, loaded only
when it is this source's, this user's and wanted, and its errors still name the rule."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from spinecare.case import Case, parse_case
from spinecare.criteria import EvaluationError, Program, codecache, native, parse
from spinecare.reasoning.engine import Engine, default_engine
from spinecare.reasoning.knowledge import default_knowledge

CASES = Path(__file__).resolve().parent.parent / "data" / "cases"
FINDINGS = frozenset({"pain", "old", "pain_young", "narrow_lumbar"})
CRITERIA = [
    ("pain", "symptoms.low_back_pain or symptoms.leg_pain in ('left', 'right', 'both')"),
    ("old", "patient.age >= 65 or history.osteoporosis"),
    ("pain_young", "pain and not old"),
    ("narrow_lumbar", "any_imaging(item.region == 'lumbar', item.canal_ap_diameter_mm < 10)"),
]


def program(extra: str = "") -> tuple[Program, Any]:
    """A small program with Kleene logic, a comparison, a set test and a loop over imaging,
    and a line that fails for one age (``rule.boom``, for the error tests)."""
    prog = Program()
    out = prog.batch([(n, parse(t, n, FINDINGS)) for n, t in CRITERIA], local_kind="finding",
                     prefix="f_")
    prog.emit([f"    boom = 1 // (0 if c.patient.age == 99 else ONE)  # rule.boom{extra}"])
    fn = prog.function("(" + "".join(f"{v}, " for v in out) + ")", "<native test program>",
                       {"ONE": 1})
    return prog, fn


def cases() -> list[Case]:
    out = []
    for back, leg, age, bones, canal in itertools.product(
            (True, False, None), ("left", "none", None), (40, 70), (False, None),
            (8.0, 12.0, None, "no scan")):
        doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": "t", "patient": {"age": age},
                               "history": {"osteoporosis": bones},
                               "symptoms": {"low_back_pain": back, "leg_pain": leg}}
        if canal != "no scan":
            doc["imaging"] = [{"modality": "mri", "region": "lumbar",
                               "canal_ap_diameter_mm": canal}]
        out.append(parse_case(doc))
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("native") / "code"


@pytest.fixture()
def built(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(codecache.ENV, str(cache))
    monkeypatch.delenv(native.ENV, raising=False)
    prog, _ = program()
    where = native.build(prog.source, prog.globals)
    assert where.parent == cache / "native"
    return where


def test_the_built_program_is_loaded_and_gives_what_the_python_one_gives(built: Path) -> None:
    prog, fn = program()
    assert prog.native and prog.python is not None and fn is not prog.python
    results = [fn(c) for c in cases()]
    assert results == [prog.python(c) for c in cases()]
    # the cases reach every value of each finding, so agreement is not agreement on one value
    for i in range(len(CRITERIA)):
        assert {r[i] for r in results} == {True, False, None}


def test_another_source_finds_no_extension(built: Path) -> None:
    prog, fn = program(extra=" (changed)")
    assert not prog.native and fn is prog.python


def test_off_means_the_python_function(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.ENV, "off")
    prog, fn = program()
    assert not prog.native and fn is prog.python


def other_constants(one: int) -> tuple[Program, Any]:
    prog = Program()
    out = prog.batch([(n, parse(t, n, FINDINGS)) for n, t in CRITERIA], local_kind="finding",
                     prefix="f_")
    prog.emit(["    boom = 1 // (0 if c.patient.age == 99 else ONE)  # rule.boom"])
    fn = prog.function("(" + "".join(f"{v}, " for v in out) + ")", "<native test program>",
                       {"ONE": one})
    return prog, fn


def test_programs_of_one_source_with_other_constants_keep_their_own(built: Path) -> None:
    # an extension's globals belong to the file loaded: the second gets a copy of its own
    native._loaded.clear()
    first, fn1 = program()  # ONE = 1
    second, fn2 = other_constants(2)
    _, fn3 = program()
    assert first.native and second.native and fn1 is not fn2 and fn3 is fn1
    assert fn1.__globals__["ONE"] == 1 and fn2.__globals__["ONE"] == 2
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # the copy is not left


def test_beyond_a_few_copies_the_python_function_runs(built: Path) -> None:
    native._loaded.clear()
    progs = [other_constants(one)[0] for one in range(2, 2 + native.MAX_COPIES + 1)]
    assert [p.native for p in progs] == [True] * native.MAX_COPIES + [False]
    native._loaded.clear()


def test_an_extension_others_may_write_is_not_loaded(built: Path) -> None:
    native._loaded.clear()
    os.chmod(built, 0o770)
    try:
        prog, fn = program()
        assert not prog.native and fn is prog.python
    finally:
        os.chmod(built, 0o700)
        native._loaded.clear()


def test_an_error_in_the_native_program_names_the_rule(built: Path) -> None:
    prog, fn = program()
    assert prog.native
    case = parse_case({"schema": "spinecare.case/1", "id": "t", "patient": {"age": 99}})
    with pytest.raises(ZeroDivisionError) as raised:
        fn(case)
    error = prog.error(raised.value, "test-1", (case,))
    assert isinstance(error, EvaluationError)
    assert error.rule == "rule.boom" and error.knowledge == "test-1"
    assert error.filename == "<native test program>"


def test_what_killed_builds_left_is_removed_and_a_running_build_is_not(built: Path) -> None:
    where = built.parent
    old = time.time() - native.STALE - 60
    stale_dir, busy_dir = where / ".tmp-build-killed", where / ".tmp-build-running"
    stale_copy = where / ".tmp-killed.so"
    for folder in (stale_dir, busy_dir):
        folder.mkdir()
        (folder / "half.c").write_text("/* half written */")
    stale_copy.write_bytes(b"half a copy")
    for left in (stale_dir / "half.c", stale_dir, stale_copy):
        os.utime(left, (old, old))
    prog, _ = program()
    assert native.build(prog.source, prog.globals) == built  # already built: kept as it is
    assert not stale_dir.exists() and not stale_copy.exists()
    assert (busy_dir / "half.c").exists() and built.exists()


def test_nowhere_to_keep_it_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codecache.ENV, "off")
    prog, _ = program()
    with pytest.raises(native.NativeBuildError, match="cache is off"):
        native.build(prog.source, prog.globals)


@pytest.mark.skipif(os.environ.get("SPINECARE_EXPECT_NATIVE") != "1",
                    reason="make test builds the extension first (make native)")
def test_under_make_test_the_engine_runs_natively() -> None:
    # so the property tests holding the engine equal to the plain reference judge the native
    # build, which is what `make bench` and a batch run
    assert default_engine().program.native


def test_the_native_engine_and_the_python_engine_give_the_same_assessments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = default_engine()
    monkeypatch.setenv(native.ENV, "off")
    python = Engine(default_knowledge())
    assert not python.program.native
    for path in sorted(CASES.glob("*.case.json")):
        case = parse_case(path.read_bytes())
        assert orjson.dumps(engine.assess(case)) == orjson.dumps(python.assess(case)), path.name
        assert engine.rule_values(case) == python.rule_values(case)
