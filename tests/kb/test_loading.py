"""The knowledge loaders report every problem of a load at once, each with its file and key, and
refuse keys they do not know."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

from spinecare.errors import KnowledgeError
from spinecare.instruments.registry import load_instruments
from spinecare.kb import (
    KnowledgeFileError,
    KnowledgeProblem,
    Problems,
    load_citation_folder,
    parse_citations,
)
from spinecare.plan.knowledge import parse_treatments
from spinecare.reasoning.knowledge import load_knowledge


def _knowledge_dir() -> Path:
    with as_file(files("spinecare.knowledge")) as path:
        return Path(path)


def _copy_with(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Traversable:
    """A copy of the packaged knowledge with each ``(file, old, new)`` edit made once."""
    target = tmp_path / "knowledge"
    shutil.copytree(_knowledge_dir(), target)
    for file, old, new in edits:
        path = target / file
        text = path.read_text(encoding="utf-8")
        assert old in text, (file, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    folder: Traversable = target  # type: ignore[assignment]
    return folder


def _problems(tmp_path: Path, edits: list[tuple[str, str, str]]) -> list[str]:
    with pytest.raises(KnowledgeFileError) as caught:
        load_knowledge(_copy_with(tmp_path, edits))
    assert isinstance(caught.value, KnowledgeError)
    return [str(p) for p in caught.value.problems]


def test_an_unchanged_copy_loads_so_the_tests_below_can_pass(tmp_path: Path) -> None:
    assert load_knowledge(_copy_with(tmp_path, [])).version


def test_several_problems_in_one_file_are_all_reported_with_file_and_key(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("red_flags.toml", 'triage = "emergency"', 'triage = "emergency"\nsevere = true'),
        ("red_flags.toml", 'when = "saddle_anaesthesia"', 'when = "saddle_anesthesia_typo"'),
        ("red_flags.toml", 'flag = "spinal_infection"', 'flag = "infection"'),
    ])
    assert "red_flags.toml: rf.ces.saddle_anaesthesia: severe: unknown key" in found
    assert any(p.startswith("red_flags.toml: rf.") and ": flag: " in p for p in found), found
    # the expression is checked once the models load; a broken model stops that stage
    assert len(found) == 2


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("red_flags.toml", 'triage = "emergency"', 'triage = "emergency"\nsevere = true'),
        ("triage.toml", "[default]", "[default]\nurgency = 1"),
        ("conditions.toml", "[bands]", "[bands]\nlow = 0.1"),
        ("lbp_source.toml", "[[rule]]", "colour = 'blue'\n[[rule]]"),
    ])
    assert found == [
        "lbp_source.toml: colour: unknown key",
        "red_flags.toml: rf.ces.saddle_anaesthesia: severe: unknown key",
        "triage.toml: default: urgency: unknown key",
        "conditions.toml: bands: low: unknown key",
    ]


def test_every_cross_check_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("red_flags.toml", 'when = "saddle_anaesthesia"', 'when = "saddle_anesthesia_typo"'),
        ("conditions.toml", 'citations = ["suri2010"]', 'citations = ["suri2011"]'),
        ("findings.toml", 'when = "history.fever"', 'when = "history.fevers"'),
    ])
    assert any(p.startswith("conditions.toml: ") and "cites unknown source 'suri2011'" in p
               for p in found), found
    assert ("red_flags.toml: rf.ces.saddle_anaesthesia: unknown finding "
            "'saddle_anesthesia_typo'") in found
    assert any(p.startswith("findings.toml: fever: unknown case fact history.fevers")
               for p in found), found


def test_a_broken_citation_file_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("citations/core.toml", "verification = ", "impact = 9\nverification = "),
        ("red_flags.toml", 'triage = "emergency"', 'triage = "emergency"\nsevere = true'),
    ])
    assert any(p.startswith("citations/core.toml: ") and p.endswith(".impact: unknown key")
               for p in found), found
    assert "red_flags.toml: rf.ces.saddle_anaesthesia: severe: unknown key" in found


def test_a_file_that_is_not_toml_does_not_hide_the_others(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("findings.toml", "[finding.", "[finding.=\n[finding."),
        ("triage.toml", "[default]", "[default]\nurgency = 1"),
    ])
    assert found[0].startswith("findings.toml: (file): not valid TOML")
    assert "triage.toml: default: urgency: unknown key" in found


def test_a_condition_outside_the_vocabulary_is_refused(tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("conditions.toml", "[bands]", '[condition.gout]\nlabel = "Gout"\n\n[bands]'),
    ])
    assert found == ["conditions.toml: condition.gout: not a condition code"]


def test_the_old_key_cite_is_an_unknown_key_now_that_it_is_spelled_citations(
        tmp_path: Path) -> None:
    found = _problems(tmp_path, [
        ("red_flags.toml", "citations = [", "cite = ["),
    ])
    assert any(p.endswith(": cite: unknown key") for p in found), found
    assert any(p.endswith(": citations: missing required key") for p in found), found


# --- the other families ----------------------------------------------------------------------


def _instrument_folder(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Traversable:
    return _copy_with(tmp_path, [(f"instruments/{f}", o, n) for f, o, n in edits]).joinpath(
        "instruments")


def test_every_broken_instrument_file_is_reported(tmp_path: Path) -> None:
    folder = _instrument_folder(tmp_path, [
        ("odi.toml", 'short_name = "ODI"', 'short_name = "ODI"\nshortname = "x"'),
        ("ndi.toml", 'wording = "withheld"', 'wording = "secret"'),
        ("zcq.toml", 'enabled_by = "after_treatment"', 'enabled_by = "treated"'),
    ])
    with pytest.raises(KnowledgeFileError) as caught:
        load_instruments(folder)
    found = [str(p) for p in caught.value.problems]
    assert "instruments/odi.toml: shortname: unknown key" in found
    assert any(p.startswith("instruments/ndi.toml: wording: ") for p in found), found
    assert any(p.startswith("instruments/zcq.toml: ") and "not a gate" in p for p in found)


def test_every_disagreement_inside_one_instrument_is_reported(tmp_path: Path) -> None:
    folder = _instrument_folder(tmp_path, [
        ("odi.toml", 'scale = "statement"', 'scale = "statements"'),
        ("odi.toml", 'link_id = "lifting"', 'link_id = "walking"'),
    ])
    with pytest.raises(KnowledgeFileError) as caught:
        load_instruments(folder)
    messages = [p.message for p in caught.value.problems]
    assert any("link ids must be unique" in m for m in messages), messages
    assert any("unknown scale 'statements'" in m for m in messages), messages
    assert {p.file for p in caught.value.problems} == {"instruments/odi.toml"}


def test_every_problem_of_a_treatment_file_is_reported() -> None:
    text = (
        'version = "2026.11.0"\nauthor = "me"\n[treatment.a]\nname = "A"\nsuccess = 1\n'
    )
    with pytest.raises(KnowledgeFileError) as caught:
        parse_treatments(text, source="t.toml")
    paths = [p.path for p in caught.value.problems]
    assert "author" in paths and "treatment.a.success" in paths
    assert "treatment.a.citations" in paths


def test_problems_across_citation_files_are_reported_together(tmp_path: Path) -> None:
    source = 'authors = "A"\njournal = "J"\nverification = "U"\n'
    (tmp_path / "a.toml").write_text(f"[one]\n{source}impact = 1\n[same]\n{source}")
    (tmp_path / "b.toml").write_text(f"[same]\n{source}[expert_judgement]\n{source}")
    with pytest.raises(KnowledgeFileError) as caught:
        load_citation_folder(tmp_path)  # type: ignore[arg-type]
    assert [str(p) for p in caught.value.problems] == [
        "a.toml: one.impact: unknown key",
        "b.toml: expert_judgement: reserved id: expert judgement is not a source",
        "b.toml: same: id already defined in a.toml",
    ]


@pytest.mark.parametrize("field", ["doi = \"not-a-doi\"", "year = 1066", "pmid = \"PMID12\"",
                                   "url = \"ftp://x\"", "journal = \" \""])
def test_a_citation_keeps_the_stricter_checks_of_the_two_old_loaders(field: str) -> None:
    key = field.split(" = ")[0]
    text = f'[src]\nauthors = "A"\njournal = "J"\nverification = "V"\n{field}\n'
    if key == "journal":
        text = text.replace('journal = "J"\n', "")
    with pytest.raises(KnowledgeFileError) as caught:
        parse_citations(text, source="x.toml")
    assert [p.path for p in caught.value.problems] == [f"src.{key}"]


# --- the collector itself --------------------------------------------------------------------


def test_a_problem_reads_file_key_message() -> None:
    assert str(KnowledgeProblem("red_flags.toml", "rule rf.x.y: citations",
                                "unknown source 'foo'")) == (
        "red_flags.toml: rule rf.x.y: citations: unknown source 'foo'")
    assert str(KnowledgeProblem("conditions.toml", "", "every condition needs its own priority")
               ) == "conditions.toml: every condition needs its own priority"


def test_the_collector_raises_once_with_everything_and_not_when_empty() -> None:
    problems = Problems()
    problems.raise_if_any()
    problems.add("a.toml", "x", "first")
    problems.add("b.toml", "y", "second")
    with pytest.raises(KnowledgeFileError, match=r"^a\.toml: x: first; b\.toml: y: second$"):
        problems.raise_if_any()


def test_plan_rules_report_unknown_tables_and_broken_rules_together() -> None:
    from spinecare.plan.rules import parse_plan_rules

    text = (_knowledge_dir() / "plan_rules.toml").read_text(encoding="utf-8")
    assert 'urgency = "same_day"' in text
    broken = "colour = 1\n" + text.replace('urgency = "same_day"', 'urgency = "soonish"', 1)
    with pytest.raises(KnowledgeFileError) as caught:
        parse_plan_rules(broken)
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 2
    assert found[0] == "plan_rules.toml: colour: unknown key"
    assert found[1].startswith("plan_rules.toml: referral[ref.infection.urgent].urgency: ")
