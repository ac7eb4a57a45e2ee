"""Adding a condition to the differential is a knowledge change: a condition written into a copy
of the knowledge folder is loaded, assessed, explained and reported with no change to the code
(docs/ARCHITECTURE.md, "A new condition in the differential")."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import orjson
import pytest

from spinecare.case import parse_case
from spinecare.errors import KnowledgeError
from spinecare.reasoning.engine import Engine
from spinecare.reasoning.knowledge import load_knowledge
from spinecare.reasoning.reference import Reference
from spinecare.report import render
from tests.conftest import broken_copy

# A made-up condition for the test, not clinical knowledge: its weights are round numbers.
NEW = '''
[condition.test_condition]
label = "Test condition"
priority = 99
prior = 0.05
citations = ["expert_judgement"]
basis = "expert_judgement"

[[condition.test_condition.evidence]]
id = "test.hip"
finding = "hip_rotation_pain"
lr_present = 19
lr_absent = 0.5
citations = ["expert_judgement"]
basis = "expert_judgement"

[bands]'''


def _folder(tmp_path: Path, new: str = NEW) -> Path:
    with as_file(files("spinecare.knowledge")) as packaged:
        return broken_copy(packaged, tmp_path / "knowledge", "conditions.toml", "[bands]", new)


def _case(hip: bool | None) -> object:
    return parse_case({"schema": "spinecare.case/1", "id": "new", "patient": {"age": 60},
                       "symptoms": {"low_back_pain": True},
                       "exam": {"hip_rotation_pain": hip}})


def test_a_condition_added_to_the_knowledge_is_assessed_explained_and_reported(
        tmp_path: Path) -> None:
    knowledge = load_knowledge(_folder(tmp_path))
    engine = Engine(knowledge)
    present = engine.assess(_case(True))
    # the same JSON (the engine holds tuples where the reference builds lists)
    assert orjson.dumps(present) == orjson.dumps(Reference(knowledge).assess(_case(True)))
    entry = next(c for c in present["conditions"] if c["code"] == "test_condition")
    # prior odds 0.05/0.95 times 19 is odds 1: probability 0.5, the "high" band's floor
    assert entry["probability"] == pytest.approx(0.5, abs=0.001)
    assert entry["likelihood"] == "high"
    assert entry["label"] == "Test condition"
    assert any("hip" in e for e in entry["evidence"])
    assert "Test condition" in render(present)

    absent = engine.assess(_case(False))
    low = next(c for c in absent["conditions"] if c["code"] == "test_condition")
    assert low["likelihood"] == "low" and low["probability"] < 0.05
    unknown = engine.assess(_case(None))
    assert next(c for c in unknown["conditions"]
                if c["code"] == "test_condition")["probability"] == pytest.approx(0.05, abs=0.001)


def test_a_rule_naming_a_condition_the_knowledge_lacks_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    triage = folder / "triage.toml"
    triage.write_text(triage.read_text().replace('when = "likely.hip_osteoarthritis"',
                                                 'when = "likely.hip_arthritis"'))
    with pytest.raises(KnowledgeError, match=r"likely.hip_arthritis: no such condition"):
        load_knowledge(folder)
