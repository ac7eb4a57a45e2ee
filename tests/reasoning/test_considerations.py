"""Diagnoses to consider outside the differential: each is named on a case written from its
source and not on the same case without the finding that calls for it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from spinecare.case import parse_case
from spinecare.reasoning.engine import assess
from spinecare.report import render


def _consider(doc: dict[str, Any]) -> list[str]:
    a = assess(parse_case(orjson.dumps({"schema": "spinecare.case/1", "id": "c", **doc})))
    return [x["id"] for x in a["consider"]]


CASES = [
    # NICE NG65: back pain over three months that began before 45
    ("consider.axial_spondyloarthritis",
     {"patient": {"age": 29}, "history": {"duration_weeks": 30},
      "symptoms": {"low_back_pain": True}},
     {"patient": {"age": 52}}),
    # NICE NG156: sudden new back pain, a man over 65 who smokes
    ("consider.aortic_aneurysm",
     {"patient": {"age": 70, "sex": "male"},
      "history": {"duration_weeks": 0, "onset": "sudden", "smoker": True},
      "symptoms": {"low_back_pain": True}},
     {"history": {"duration_weeks": 0, "onset": "sudden", "smoker": False}}),
    # clinical reference 5.2: a myelopathy picture under 45
    ("consider.non_degenerative_myelopathy",
     {"patient": {"age": 31}, "symptoms": {"hand_clumsiness": True, "gait_imbalance": True}},
     {"patient": {"age": 61}}),
    # leg UMN signs with mid-back pain point to the thoracic cord
    ("consider.thoracic_cord",
     {"patient": {"age": 66}, "symptoms": {"thoracic_pain": True, "gait_imbalance": True},
      "exam": {"babinski": True}},
     {"exam": {"babinski": False}}),
]


@pytest.mark.parametrize(("rule", "case", "without"), CASES, ids=[c[0] for c in CASES])
def test_named_with_its_finding_and_not_without(rule: str, case: dict[str, Any],
                                                without: dict[str, Any]) -> None:
    assert rule in _consider(case)
    changed = {**case, **{k: {**case.get(k, {}), **v} for k, v in without.items()}}
    assert rule not in _consider(changed)


def test_the_report_lists_them_with_their_reason() -> None:
    doc = {"schema": "spinecare.case/1", "id": "c", "patient": {"age": 29},
           "history": {"duration_weeks": 30}, "symptoms": {"low_back_pain": True}}
    text = render(assess(parse_case(orjson.dumps(doc))))
    assert "ALSO CONSIDER" in text
    assert "Axial spondyloarthritis" in text.split("ALSO CONSIDER", 1)[1]
