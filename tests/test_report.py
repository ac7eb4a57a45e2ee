"""The clinician's text report: what it says when the differential names nothing."""

from __future__ import annotations

import orjson

from spinecare.case import parse_case
from spinecare.reasoning.engine import assess
from spinecare.report import NOTHING_LIKELY, render


def _report(doc: dict[str, object]) -> str:
    return render(assess(parse_case(orjson.dumps({"schema": "spinecare.case/1", "id": "r",
                                                 **doc}))))


def test_when_every_condition_is_low_no_first_condition_is_named() -> None:
    text = _report({"patient": {"age": 40},
                    "symptoms": {"arm_pain": "none", "leg_pain": "none", "low_back_pain": False,
                                 "neck_pain": False}})
    differential = text.split("DIFFERENTIAL", 1)[1]
    assert " ".join(NOTHING_LIKELY.split()[:6]) in " ".join(differential.split())
    assert "  1. " not in differential


def test_a_likely_condition_is_named_first_and_the_notice_is_absent() -> None:
    text = _report({"patient": {"age": 72},
                    "symptoms": {"low_back_pain": True, "leg_pain": "both", "claudication": True,
                                 "relief_sitting": True}})
    differential = text.split("DIFFERENTIAL", 1)[1]
    assert "  1. Lumbar spinal stenosis" in differential
    assert NOTHING_LIKELY.split()[0] + " condition is moderately" not in differential
