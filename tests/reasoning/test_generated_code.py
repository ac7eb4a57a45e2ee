"""The generated assessment code reads like written code, shows in tracebacks, and an error in it
names the rule and the knowledge version."""

from __future__ import annotations

import linecache
import re
import traceback

import pytest

from spinecare import criteria
from spinecare.case import Imaging, Patient, parse_case
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import default_knowledge
from tests.conftest import CASES

KNOWLEDGE = default_knowledge()


def rule_ids() -> list[str]:
    """Every item of the knowledge the generated code implements."""
    ids = [r.id for r in KNOWLEDGE.red_flag_rules] + [t.id for t in KNOWLEDGE.triage_rules]
    ids += [r.id for r in KNOWLEDGE.lbp_rules] + list(KNOWLEDGE.findings)
    for c in KNOWLEDGE.conditions.values():
        ids += [e.id for e in c.evidence] + [f.id for f in c.floor] + [x.id for x in c.cap]
    return ids


def test_findings_and_rules_are_locals_named_after_them_with_their_ids_beside() -> None:
    source = default_engine().source
    assert re.search(r"^    f_bilateral_leg_neuro = .*  # bilateral_leg_neuro$", source, re.M)
    assert re.search(r"^    rf_ces_perianal_exam = .*  # rf.ces.perianal_exam$", source, re.M)
    # a finding that is a case fact as it is is not copied, only noted
    assert ("    # saddle_anaesthesia is symptoms_saddle_anesthesia  # saddle_anaesthesia\n"
            in source)
    assert "    o *= 3.0  # lss.imaging\n" in source
    # no anonymous locals or constants by index
    assert not re.search(r"\b_v\d+\b|\bK\[\d+\]|\b_f\d+\b", source)


@pytest.mark.parametrize("rule", rule_ids())
def test_every_rule_is_tagged_on_a_line_of_the_generated_code(rule: str) -> None:
    program = default_engine().program
    assert rule in program.rule_of_line.values()


def test_the_generated_source_is_registered_for_tracebacks_under_the_knowledge_version() -> None:
    engine = default_engine()
    filename = engine.program.filename
    assert filename == f"<spinecare knowledge {KNOWLEDGE.version}: assessment>"
    lines = engine.source.splitlines()
    assert [linecache.getline(filename, n).rstrip("\n") for n in range(1, len(lines) + 1)] == lines


def test_an_error_in_the_generated_code_names_the_rule_and_the_knowledge_version() -> None:
    engine = default_engine()
    case = parse_case((CASES / "lss-classic.case.json").read_bytes())
    # an age the case model would refuse, slipped past it: comparing it with a number fails
    broken = case.model_copy(update={"patient": Patient.model_construct(age="old", sex=None)})
    with pytest.raises(criteria.EvaluationError) as caught:
        engine.assess(broken)
    error = caught.value
    reading_age = {n for n, f in KNOWLEDGE.findings.items() if "patient.age" in f.when}
    assert error.rule in reading_age
    assert error.knowledge == KNOWLEDGE.version
    assert str(error).startswith(f"{error.rule} (knowledge {KNOWLEDGE.version}): TypeError:")
    # the traceback of the cause shows the generated line, tagged with the rule
    shown = "".join(traceback.format_exception(error.__cause__))
    assert f"  # {error.rule}" in shown
    assert linecache.getline(error.filename, error.line).rstrip().endswith(f"# {error.rule}")


def test_an_error_in_a_loop_over_the_scans_names_the_rule_of_that_loop() -> None:
    engine = default_engine()
    case = parse_case((CASES / "lss-classic.case.json").read_bytes())
    # a canal diameter the case model would refuse: comparing it with a number fails inside
    # the function walking the scans, defined apart from the main one
    scan = Imaging.model_construct(modality="mri", region="cervical",
                                   canal_ap_diameter_mm="narrow")
    with pytest.raises(criteria.EvaluationError) as caught:
        engine.assess(case.model_copy(update={"imaging": [scan]}))
    error = caught.value
    reading = {n for n, f in KNOWLEDGE.findings.items() if "canal_ap_diameter_mm" in f.when}
    assert error.rule in reading
    line = linecache.getline(error.filename, error.line)
    assert "canal_ap_diameter_mm" in line
    # the line is in a function of its own, whose first line names the rule
    before = engine.source.splitlines()[:error.line]
    header = next(text for text in reversed(before) if text.startswith("def "))
    assert header.endswith(f"(items):  # {error.rule}")


class _SignalLanded(BaseException):
    """What a signal handler raises in the middle of whatever runs (as SIGTERM's Interrupted
    and Ctrl-C's KeyboardInterrupt do)."""


class _AgeWhereTheSignalLands(int):
    def _stop(self, other: object) -> bool:
        raise _SignalLanded

    __lt__ = __le__ = __gt__ = __ge__ = _stop


def test_a_stop_landing_in_the_generated_code_passes_through_as_itself() -> None:
    # A stop is not the failure of the rule whose line was running: were it reported as one
    # (exit 1, "rule X failed"), an interrupted screen would look like broken knowledge.
    engine = default_engine()
    case = parse_case((CASES / "lss-classic.case.json").read_bytes())
    stopped = case.model_copy(update={"patient": Patient.model_construct(
        age=_AgeWhereTheSignalLands(70), sex=None)})
    with pytest.raises(_SignalLanded):
        engine.assess(stopped)


def test_the_screens_stop_is_not_an_error_anything_may_catch() -> None:
    from spinecare.screen.atomic import Interrupted

    assert not issubclass(Interrupted, Exception)
