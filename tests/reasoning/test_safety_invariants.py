"""Safety invariants of CONTRACT.md, held on generated schema-valid cases."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spinecare.case import parse_case
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import CONDITION_CODES, LEVEL_RANK
from tests.strategies import valid_case_documents

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))

# Each is a red-flag finding set to its positive value: (section, field, value).
RED_FLAG_FINDINGS = [
    ("history", "major_trauma", True), ("history", "minor_trauma", True),
    ("history", "osteoporosis", True), ("history", "long_term_steroids", True),
    ("history", "cancer_history", True), ("history", "unexplained_weight_loss", True),
    ("history", "fever", True), ("history", "iv_drug_use", True),
    ("history", "immunosuppression", True),
    ("history", "recent_infection_or_spinal_procedure", True), ("history", "night_pain", True),
    ("history", "course", "rapidly_worsening"), ("history", "onset", "sudden"),
    ("symptoms", "saddle_anesthesia", True), ("symptoms", "bowel_incontinence", True),
    ("symptoms", "new_sexual_dysfunction", True), ("symptoms", "bladder", "new_retention"),
    ("symptoms", "bladder", "new_incontinence"),
    ("symptoms", "bladder", "new_urgency_or_frequency"),
    ("symptoms", "bladder", "reduced_sensation"), ("symptoms", "hand_clumsiness", True),
    ("symptoms", "gait_imbalance", True), ("symptoms", "lhermitte", True),
    ("exam", "perianal_sensation", "reduced"), ("exam", "perianal_sensation", "absent"),
    ("exam", "anal_tone", "reduced"), ("exam", "progressive_motor_deficit", True),
    ("exam", "hoffmann", True), ("exam", "babinski", True), ("exam", "inverted_supinator", True),
    ("exam", "ankle_clonus", True), ("exam", "post_void_residual_ml", 800),
]


def _assess(doc: dict[str, Any]) -> dict[str, Any]:
    return default_engine().assess(parse_case(orjson.dumps(doc)))


def _with(doc: dict[str, Any], section: str, field: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out.setdefault(section, {})
    if out[section] is None:
        out[section] = {}
    out[section][field] = value
    return out


@SETTINGS
@given(valid_case_documents)
def test_any_valid_case_gets_a_schema_valid_assessment(doc: dict[str, Any]) -> None:
    from tests.conftest import DATA  # noqa: F401  (keeps the data folder import-checked)

    a = _assess(doc)
    # validated as a consumer receives it: JSON (lists inside are tuples in Python)
    jsonschema.validate(orjson.loads(orjson.dumps(a)), _ASSESSMENT_SCHEMA)
    assert sorted(c["code"] for c in a["conditions"]) == sorted(CONDITION_CODES)
    ranks = [{"high": 2, "moderate": 1, "low": 0}[c["likelihood"]] for c in a["conditions"]]
    assert ranks == sorted(ranks, reverse=True), "most likely first"
    text = orjson.dumps(a)
    assert orjson.dumps(orjson.loads(text)) == text


def _replaces_another_red_flag(doc: dict[str, Any], section: str, field: str, value: Any) -> bool:
    current = (doc.get(section) or {}).get(field)
    return current != value and (section, field, current) in RED_FLAG_FINDINGS


@SETTINGS
@given(valid_case_documents, st.sampled_from(RED_FLAG_FINDINGS))
def test_adding_a_red_flag_finding_never_lowers_the_triage_level(
        doc: dict[str, Any], change: tuple[str, str, Any]) -> None:
    # One field holds one value: setting it over another red-flag value removes that flag, which
    # is not the addition this property speaks of.
    assume(not _replaces_another_red_flag(doc, *change))
    before = _assess(doc)["triage"]["level"]
    after = _assess(_with(doc, *change))["triage"]["level"]
    assert LEVEL_RANK[after] >= LEVEL_RANK[before], (change, before, after)


def test_a_bladder_value_over_another_red_flag_value_is_a_replacement_not_an_addition() -> None:
    # Found by the property above (seed 98062095503861179765192901580316693665): new urgency
    # written over new retention went from emergency to routine, because the retention was gone.
    retention = {"schema": "spinecare.case/1", "id": "c", "patient": {"age": None},
                 "symptoms": {"bladder": "new_retention"}}
    urgency = ("symptoms", "bladder", "new_urgency_or_frequency")
    assert _replaces_another_red_flag(retention, *urgency)
    assert not _replaces_another_red_flag(retention, "symptoms", "bladder", "new_retention")
    normal = {**retention, "symptoms": {"bladder": "normal"}}
    assert not _replaces_another_red_flag(normal, *urgency)
    # Added beside it, a second red flag keeps the emergency.
    both = _with(retention, "symptoms", "saddle_anesthesia", True)
    assert _assess(both)["triage"]["level"] == "emergency"


@SETTINGS
@given(valid_case_documents,
       st.sampled_from([("symptoms", "saddle_anesthesia", True),
                        ("symptoms", "bladder", "new_retention"),
                        ("symptoms", "bladder", "new_incontinence"),
                        ("exam", "perianal_sensation", "reduced")]),
       st.sampled_from([("symptoms", "low_back_pain", True), ("symptoms", "leg_pain", "left"),
                        ("symptoms", "leg_pain", "both")]))
def test_sacral_findings_with_back_or_leg_pain_are_an_emergency(
        doc: dict[str, Any], sacral: tuple[str, str, Any], pain: tuple[str, str, Any]) -> None:
    a = _assess(_with(_with(doc, *sacral), *pain))
    assert a["triage"]["level"] == "emergency"
    assert "cauda_equina_syndrome" in {f["code"] for f in a["red_flags"]}


@SETTINGS
@given(valid_case_documents)
def test_every_conclusion_cites_the_rule_that_produced_it(doc: dict[str, Any]) -> None:
    engine = default_engine()
    a = _assess(doc)
    known = {r.id for r in engine.knowledge.red_flag_rules} | \
        {t.id for t in engine.knowledge.triage_rules} | {"tr.default"}
    t = a["triage"]
    assert t["reasons"] and len(t["reasons"]) == len(t["rules"])
    assert set(t["rules"]) <= known
    assert t["citations"]
    for flag in a["red_flags"]:
        assert flag["rules"] and flag["citations"] and flag["evidence"]
    for c in a["conditions"]:
        assert c["rules"] and c["citations"]
    for cid in [*t["citations"], *(x for c in a["conditions"] for x in c["citations"])]:
        assert cid in a["citations"]


def _load_assessment_schema() -> dict[str, Any]:
    import json
    from importlib.resources import files

    return json.loads(files("spinecare.schemas").joinpath("assessment.schema.json").read_text())


_ASSESSMENT_SCHEMA = _load_assessment_schema()
