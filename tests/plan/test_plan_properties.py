"""Properties every plan holds, on schema-valid cases generated from the case schema.

- the plan validates against plan.schema.json and carries safety-netting;
- it is never less urgent than the triage level, and an emergency starts with the emergency
  department;
- nothing is both offered and avoided; every item names its rule and resolvable sources;
- no serious red flag gets a home exercise programme;
- it is a pure function of the case and its assessment, and survives a JSON round trip.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings

from spinecare.case import parse_case
from spinecare.plan.planner import make_plan
from spinecare.plan.rules import URGENCY_RANK
from spinecare.reasoning.engine import default_engine
from tests.strategies import valid_case_documents

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

#: The least urgent referral each triage level allows.
MINIMUM_URGENCY = {
    "emergency": "same_day",
    "urgent": "within_2_weeks",
    "routine": "routine",
    "self_care": "if_not_improving",
}
SERIOUS_FLAGS = {"cauda_equina_syndrome", "spinal_infection", "malignancy", "fracture",
                 "progressive_neurological_deficit"}
DIAGNOSIS = re.compile(r"\byou (have|have got|are suffering from)\b|\byou've got\b", re.IGNORECASE)
ITEM_SECTIONS = ("immediate_action", "referral", "investigations", "first_line", "escalation",
                 "avoid", "review", "safety_net", "claims")


def _plan(doc: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    case = parse_case(orjson.dumps(doc))
    assessment = default_engine().assess(case)
    return case, assessment, make_plan(case, assessment)


def patient_words(plan: dict[str, Any]) -> list[str]:
    words = [plan["level"]["patient_text"], plan["notice"]["patient_text"]]
    for section in ITEM_SECTIONS:
        for item in plan[section]:
            words += [item.get("patient_text", ""), item.get("action", ""), item.get("answer", "")]
            words += item.get("steps", []) + item.get("symptoms", [])
            words += [t["summary"] for t in item.get("treatments", [])]
    return [w for w in words if w]


@SETTINGS
@given(valid_case_documents)
def test_the_plan_for_every_valid_case_validates_and_has_safety_netting(
    plan_validator: Any, doc: dict[str, Any]
) -> None:
    _, assessment, plan = _plan(doc)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in plan_validator.iter_errors(plan)]
    assert errors == []
    assert any(s["urgency"] == "immediately" for s in plan["safety_net"])
    assert plan["level"]["triage"] == assessment["triage"]["level"]

    level = plan["level"]["triage"]
    most_urgent = max(URGENCY_RANK[r["urgency"]] for r in plan["referral"])
    assert most_urgent >= URGENCY_RANK[MINIMUM_URGENCY[level]]
    if level == "emergency":
        assert plan["immediate_action"][0]["steps"][0].startswith(
            "Go to the emergency department")
        assert plan["referral"][0]["urgency"] in ("immediately", "same_day")
    else:
        assert plan["immediate_action"] == []

    flags = {f["code"] for f in plan["based_on"]["red_flags"]}
    if level == "emergency" or flags & SERIOUS_FLAGS:
        assert plan["exercise_programme"]["status"] == "withheld"
        assert plan["exercise_programme"]["exercises"] == []


@SETTINGS
@given(valid_case_documents)
def test_every_plan_item_is_explained_consistent_and_in_plain_words(doc: dict[str, Any]) -> None:
    case, assessment, plan = _plan(doc)

    offered = {t["id"] for item in plan["first_line"] for t in item["treatments"]}
    avoided = {t["id"] for item in plan["avoid"] for t in item["treatments"]}
    assert offered & avoided == set()

    fired = set(plan["rules"])
    for section in ITEM_SECTIONS:
        for item in plan[section]:
            assert item["rule"] in fired
            cited = set(item["citations"]) | {c for t in item.get("treatments", ())
                                              for c in t["citations"]}
            assert cited and cited <= set(plan["citations"])
    for exercise in plan["exercise_programme"]["exercises"]:
        assert set(exercise["citations"]) <= set(plan["citations"])
    assert all(text != f"{cid} (source not found)" for cid, text in plan["citations"].items())

    for text in patient_words(plan):
        assert not DIAGNOSIS.search(text), text

    assert make_plan(case, assessment) == plan
    assert orjson.loads(orjson.dumps(plan)) == plan
