"""The function table: every function runs through the parser, the reference interpreter and the
compiler, which must agree; and a wrong entry in the table makes this harness fail."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from spinecare import criteria
from spinecare.case import Case, parse_case
from spinecare.criteria.functions import FUNCTIONS, Function
from spinecare.criteria.nodes import walk
from spinecare.errors import KnowledgeError
from tests.conftest import CASES
from tests.strategies import valid_case_documents


def _scanned(path: Path, *scans: dict[str, object]) -> Case:
    doc = orjson.loads(path.read_bytes())
    # An examination that found no weakness, and the scans given.
    doc = {**doc, "id": f"{doc['id']}-scanned", "imaging": list(scans),
           "exam": {**doc.get("exam", {}), "motor_deficits": []}}
    return parse_case(orjson.dumps(doc))


_LSS = CASES / "lss-classic.case.json"
# The example cases list no imaging and no examination without weakness: these give the
# functions over lists every value.
FILE_CASES = [parse_case(p.read_bytes()) for p in sorted(CASES.glob("*.case.json"))] + [
    _scanned(_LSS, {"modality": "mri", "region": "lumbar", "canal_ap_diameter_mm": 8.0}),
    _scanned(_LSS, {"modality": "mri", "region": "lumbar", "canal_ap_diameter_mm": 12.0},
             {"modality": "mri", "region": "cervical", "canal_ap_diameter_mm": 8.0}),
    _scanned(_LSS, {"modality": "mri", "region": "lumbar"}),
    # a mild mJOA (16 of 18)
    parse_case(orjson.dumps({**orjson.loads(_LSS.read_bytes()), "id": "lss-mild-mjoa",
                             "instruments": {"mjoa": {"upper_extremity_motor": 5,
                                                      "lower_extremity_motor": 6,
                                                      "upper_extremity_sensation": 2,
                                                      "micturition": 3}}})),


    *(parse_case(orjson.dumps({**orjson.loads(_LSS.read_bytes()), "id": f"lss-tried-{i}",
                               "history": {"prior_treatments": tried}}))
      for i, tried in enumerate([
          [], [{"treatment": "exercise_therapy", "weeks": 12, "response": "no_change"}],
          [{"treatment": "exercise_therapy"}, {"treatment": "nsaids", "response": "improved"}]])),
]


def disagreements(functions: Mapping[str, Function], cases: Iterable[Case]) -> list[str]:
    """Where the interpreter and the compiler disagree on a function's example, or where an
    example does not exercise its function; empty when the table is sound."""
    found = []
    cases = list(cases)
    for name, fn in functions.items():
        node = criteria.parse(fn.example, f"example of {name}", frozenset(), functions)
        if not any(isinstance(n, criteria.Call) and n.fn is fn for n in walk(node)):
            found.append(f"{name}: its example {fn.example!r} does not call it")
            continue
        compiled = criteria.compile_batch([(name, node)], local_kind=None)
        for case in cases:
            reference = criteria.evaluate(node, case, {})
            generated = compiled(case)[name]
            if reference is not generated:
                found.append(f"{name} on {case.id}: interpreter {reference}, compiler {generated}")
    return found


def test_every_function_of_the_table_agrees_in_both_evaluators_on_the_example_cases() -> None:
    assert disagreements(FUNCTIONS, FILE_CASES) == []


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_every_function_of_the_table_agrees_in_both_evaluators_on_generated_cases(
    doc: dict,
) -> None:
    assert disagreements(FUNCTIONS, [parse_case(orjson.dumps(doc))]) == []


# The table with no function's loop written out: every call over a collection goes through
# the generic walker (any_item with closures), as a call whose arguments read the case does.
GENERIC = {name: dataclasses.replace(fn, loop=None) for name, fn in FUNCTIONS.items()}


def test_calls_written_out_as_loops_and_through_the_generic_walker_agree_with_the_meaning(
) -> None:
    assert any(fn.loop for fn in FUNCTIONS.values())
    assert disagreements(GENERIC, FILE_CASES) == []
    # arguments that read the case, not only the element, take the generic walker
    node = criteria.parse("any_imaging(item.region == 'lumbar', symptoms.claudication)",
                          "mixed", frozenset())
    compiled = criteria.compile_batch([("mixed", node)], local_kind=None)
    for case in FILE_CASES:
        assert compiled(case)["mixed"] is criteria.evaluate(node, case, {}), case.id


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_generic_walker_agrees_with_the_meaning_on_generated_cases(doc: dict) -> None:
    assert disagreements(GENERIC, [parse_case(orjson.dumps(doc))]) == []


def test_a_loop_that_disagrees_with_its_meaning_fails_the_harness() -> None:
    right = FUNCTIONS["any_imaging"].loop
    assert right is not None

    def loop(element: str, args: tuple[str, ...]) -> tuple[list[str], str]:
        # an element whose test is unknown taken as one where it is false
        body, call = right(element, args)
        return [line.replace("unknown = True", "pass") for line in body], call

    wrong = _with("any_imaging", loop=loop)
    assert any(line.startswith("any_imaging on ") for line in disagreements(wrong, FILE_CASES))


def test_the_examples_reach_every_value_so_the_agreement_means_something() -> None:
    for name, fn in FUNCTIONS.items():
        node = criteria.parse(fn.example, name, frozenset())
        seen = {criteria.evaluate(node, case, {}) for case in FILE_CASES}
        assert {True, False} <= seen, (name, seen)


def _with(name: str, **change: object) -> dict[str, Function]:
    return {**FUNCTIONS, name: dataclasses.replace(FUNCTIONS[name], **change)}  # type: ignore[arg-type]


def test_a_code_generation_that_disagrees_with_its_meaning_fails_the_harness() -> None:
    most = FUNCTIONS["at_most"]
    wrong = _with("at_least", generate=most.generate, runtime=most.runtime)
    found = disagreements(wrong, FILE_CASES)
    assert found
    assert all(line.startswith("at_least on ") for line in found)


def test_a_reference_that_disagrees_with_its_code_generation_fails_the_harness() -> None:
    wrong = _with("known", reference=lambda case, value: value is None)
    assert any(line.startswith("known on ") for line in disagreements(wrong, FILE_CASES))


def test_a_function_whose_example_skips_it_fails_the_harness() -> None:
    wrong = _with("any_deficit", example="symptoms.claudication")
    assert disagreements(wrong, FILE_CASES) == [
        "any_deficit: its example 'symptoms.claudication' does not call it"
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("nothing_like_it(symptoms.claudication)", "unknown function nothing_like_it()"),
    ("at_least(symptoms.claudication)",
     "at_least() is called as at_least(integer, criterion, ...)"),
    ("at_least(1.5, symptoms.claudication)", "needs a whole number, not 1.5"),
    ("any_imaging(item.region == 'lumbar')", "any_imaging() is called as any_imaging(item, item)"),
    ("any_imaging(item.region == 'lumbar', any_deficit(item.limb == 'leg', item.mrc_grade < 3))",
     "any_deficit() cannot be nested"),
    ("item.region == 'lumbar'", "item.* is only meaningful inside any_imaging/any_deficit"),
    ("known(patient.nothing)", "unknown case fact patient.nothing"),
])
def test_a_call_outside_the_table_or_its_signature_is_refused_naming_the_item(
    text: str, message: str,
) -> None:
    with pytest.raises(KnowledgeError, match=r"^rule\.x: ") as info:
        criteria.parse(text, "rule.x", frozenset())
    assert message in str(info.value)


def test_the_parser_interpreter_and_compiler_name_no_function_of_the_table() -> None:
    # They dispatch through the table; a function named in their code would escape the harness.
    src = Path(criteria.__file__).parent
    for module in ("parser.py", "interpreter.py", "compiler.py", "nodes.py"):
        text = (src / module).read_text()
        for name in FUNCTIONS:
            assert f'"{name}"' not in text and f"'{name}'" not in text, (module, name)


def _deficit(myotome: str | None, grade: int = 4) -> object:
    return dataclasses.make_dataclass("D", ["myotome", "mrc_grade"])(myotome, grade)


def test_distinct_myotomes_counts_roots_and_treats_an_unrecorded_one_as_possibly_new() -> None:
    from spinecare.criteria.functions import distinct_myotomes

    every = lambda item: True  # noqa: E731
    roots = [_deficit("L4"), _deficit("L5"), _deficit("L5")]
    assert distinct_myotomes(roots, 2, every) is True
    assert distinct_myotomes(roots, 3, every) is False  # two muscles of one root count once
    assert distinct_myotomes([*roots, _deficit(None)], 3, every) is None
    assert distinct_myotomes([], 1, every) is False  # examined, no weakness
    assert distinct_myotomes(None, 1, every) is None  # not examined
    weak = lambda item: None if item.mrc_grade is None else item.mrc_grade < 5  # noqa: E731
    assert distinct_myotomes([_deficit("C5"), _deficit("C6", 5)], 2, weak) is False
    assert distinct_myotomes([_deficit("C5"), _deficit("C6", None)], 2, weak) is None
