"""The independent clinical vignettes (tests/data/vignettes) and their harness
(scripts/validate.py).

The vignettes are data written from the guideline criteria; these tests check that each is a
valid case with a source and codes from the assessment schema, that the harness scores
correctly (and can fail), and the clinical-safety issue's targets on the current engine.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spinecare.case import parse_case
from spinecare.reasoning.knowledge import default_knowledge

ROOT = Path(__file__).resolve().parents[2]
VIGNETTES = ROOT / "tests" / "data" / "vignettes"
# written later by someone who had not read the knowledge; reported on their own
HELDOUT = ROOT / "tests" / "data" / "vignettes-heldout"
# a second held-out set, by an independent tester (its README)
HELDOUT_2 = ROOT / "tests" / "data" / "vignettes-heldout-2"
SCHEMAS = ROOT / "src" / "spinecare" / "schemas"
FILES = (sorted(VIGNETTES.glob("*.json")) + sorted(HELDOUT.glob("*.json"))
         + sorted(HELDOUT_2.glob("*.json")))
CLASSES = ("red_flag", "classic", "mimic", "overlap", "self_care", "not_modelled")


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spinecare_validate_script",
                                                  ROOT / "scripts" / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


def _enums() -> dict[str, set[Any]]:
    schema = json.loads((SCHEMAS / "assessment.schema.json").read_text())
    props = schema["properties"]
    return {
        "level": set(props["triage"]["properties"]["level"]["enum"]),
        "condition": set(props["conditions"]["items"]["properties"]["code"]["enum"]),
        "red_flag": set(props["red_flags"]["items"]["properties"]["code"]["enum"]),
    }


ENUMS = _enums()


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


# ------------------------------------------------------------------------------ the data


def test_enough_vignettes_in_every_class() -> None:
    assert len(FILES) >= 110
    counts = {c: 0 for c in CLASSES}
    for path in FILES:
        counts[_doc(path)["class"]] += 1
    assert all(n >= 3 for n in counts.values()), counts


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vignette_is_a_valid_case_with_a_source(path: Path) -> None:
    doc = _doc(path)
    assert set(doc) == {"case", "expected", "class", "source", "note"}
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.json", path.name)
    case = parse_case(doc["case"])
    assert case.id == path.stem
    assert doc["class"] in CLASSES
    source = doc["source"]
    assert set(source) == {"citation", "criterion"}
    assert re.search(r"(19|20)\d\d|n\.d\.", source["citation"]), "a year, or n.d. (undated page)"
    assert re.search(r"(red-flags|clinical)\.md \d", source["criterion"])
    assert doc["note"].strip() and "\n" not in doc["note"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_expected_codes_are_in_the_schema(path: Path) -> None:
    expected = _doc(path)["expected"]
    # first_condition may be left out (which condition leads is then not judged)
    assert set(expected) - {"consider", "first_condition"} == {"triage", "top3", "red_flags"}
    considered = {x.id for x in default_knowledge().considerations}
    assert set(expected.get("consider", [])) <= considered
    assert expected["triage"] in ENUMS["level"]
    first = expected.get("first_condition")
    assert first is None or first in ENUMS["condition"]
    assert set(expected["top3"]) <= ENUMS["condition"] and len(expected["top3"]) <= 3
    assert len(set(expected["top3"])) == len(expected["top3"])
    assert set(expected["red_flags"]) <= ENUMS["red_flag"]


# The minimum screen (red-flags.md 9.1/9.2): self-care is expected only when these were asked.
SCREEN = {"history": ("cancer_history", "fever", "major_trauma", "unexplained_weight_loss",
                      "iv_drug_use", "immunosuppression", "long_term_steroids"),
          "symptoms": ("saddle_anesthesia", "bowel_incontinence", "new_sexual_dysfunction")}


# The main set only: the held-out writer's expectations are theirs (near misses of the screen are
# class self_care expecting more), and they are not rewritten to fit this check.
MAIN = sorted(VIGNETTES.glob("*.json"))


@pytest.mark.parametrize("path", MAIN, ids=[p.stem for p in MAIN])
def test_self_care_expected_only_when_the_screen_was_asked(path: Path) -> None:
    doc = _doc(path)
    if doc["expected"]["triage"] != "self_care":
        assert doc["class"] != "self_care"
        return
    assert doc["class"] == "self_care"
    case = doc["case"]
    for part, fields in SCREEN.items():
        for field in fields:
            assert case[part].get(field) is False, f"{part}.{field} must be asked (false)"
    assert case["symptoms"].get("bladder") == "normal"
    assert case["history"].get("duration_weeks") is not None
    assert case["history"]["duration_weeks"] <= 6


def test_not_modelled_vignettes_expect_no_condition() -> None:
    for path in FILES:
        doc = _doc(path)
        if doc["class"] == "not_modelled":
            assert "first_condition" in doc["expected"], path.name
            assert doc["expected"]["first_condition"] is None, path.name
            assert doc["expected"]["top3"] == [], path.name


# ------------------------------------------------------------------------------ the harness


def _assessment(level: str, conditions: list[tuple[str, str]],
                flags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"triage": {"level": level},
            "conditions": [{"code": c, "likelihood": lk} for c, lk in conditions],
            "red_flags": [{"code": f} for f in flags]}


CES = _assessment("emergency", [("cauda_equina_syndrome", "high"),
                                ("lumbar_radiculopathy", "moderate"),
                                ("lumbar_spinal_stenosis", "low"),
                                ("spinal_infection", "low")], ("cauda_equina_syndrome",))
CES_EXPECTED = {"triage": "emergency", "first_condition": "cauda_equina_syndrome",
                "top3": ["cauda_equina_syndrome", "lumbar_spinal_stenosis"],
                "red_flags": ["cauda_equina_syndrome"]}


def test_score_counts_a_met_expectation_as_a_hit() -> None:
    s = validate.score(CES_EXPECTED, CES)
    assert s["triage_ok"] and s["first_ok"]
    assert not s["under_triage"] and not s["over_triage"]
    assert s["top3_missing"] == [] and s["flags_missing"] == []


def test_score_counts_a_deliberately_wrong_expectation_as_a_miss() -> None:
    wrong = {"triage": "self_care", "first_condition": "hip_osteoarthritis",
             "top3": ["vascular_claudication"], "red_flags": ["fracture"]}
    s = validate.score(wrong, CES)
    assert not s["triage_ok"] and s["over_triage"] and not s["under_triage"]
    assert not s["first_ok"] and s["first_given"] == "cauda_equina_syndrome"
    assert s["top3_missing"] == ["vascular_claudication"]
    assert s["flags_missing"] == ["fracture"]
    summary = validate.summarise([("wrong.json", "red_flag", s)])
    assert summary["all"]["triage_hits"] == 0 and summary["all"]["first_hits"] == 0
    assert summary["all"]["flag_recall"] == 0
    assert {m[1] for m in summary["misses"]} == {"triage", "first condition", "top 3",
                                                  "red flags"}


def test_under_triage_is_given_lower_than_expected() -> None:
    routine = _assessment("routine", [("nonspecific_low_back_pain", "high")])
    s = validate.score(CES_EXPECTED, routine)
    assert s["under_triage"] and not s["over_triage"] and not s["triage_ok"]
    summary = validate.summarise([("b.json", "red_flag", s), ("a.json", "classic",
                                  validate.score(CES_EXPECTED, CES))])
    assert summary["under_triaged"] == [("b.json", "emergency", "routine")]
    assert summary["urgent_under_triaged"] == summary["under_triaged"]
    assert summary["confusion"]["emergency"] == {"self_care": 0, "routine": 1, "urgent": 0,
                                                 "emergency": 1}
    assert summary["all"]["triage_accuracy"] == 0.5
    assert summary["by_class"]["red_flag"]["under"] == 1
    assert summary["by_class"]["classic"]["triage_hits"] == 1


def test_a_first_condition_left_out_is_not_judged() -> None:
    flagged = {"conditions": [{"code": "cauda_equina_syndrome", "likelihood": "high"}],
               "triage": {"level": "emergency"}, "red_flags": []}
    unjudged = {"triage": "emergency", "top3": ["cauda_equina_syndrome"], "red_flags": []}
    s = validate.score(unjudged, flagged)
    assert s["first_ok"] and not s["first_judged"]
    summary = validate.summarise([("a.json", "red_flag", s),
                                  ("b.json", "red_flag", validate.score(
                                      dict(unjudged, first_condition="spinal_infection"),
                                      flagged))])
    assert summary["all"]["first_n"] == 1 and summary["all"]["first_hits"] == 0
    assert [m[:2] for m in summary["misses"]] == [("b.json", "first condition")]


def test_first_condition_none_means_nothing_moderate_or_high() -> None:
    low = _assessment("routine", [("nonspecific_low_back_pain", "low"),
                                  ("lumbar_spinal_stenosis", "low")])
    none_expected: dict[str, Any] = {"triage": "routine", "first_condition": None, "top3": [],
                                     "red_flags": []}
    assert validate.given_first(low) is None
    assert validate.score(none_expected, low)["first_ok"]
    moderate = _assessment("routine", [("nonspecific_low_back_pain", "moderate")])
    assert not validate.score(none_expected, moderate)["first_ok"]
    lbp_expected = dict(none_expected, first_condition="nonspecific_low_back_pain")
    assert not validate.score(lbp_expected, low)["first_ok"], "a low first condition is none"


def test_top3_and_red_flag_recall_aggregate() -> None:
    no_top3 = {"triage": "emergency", "first_condition": "cauda_equina_syndrome", "top3": [],
               "red_flags": ["cauda_equina_syndrome", "malignancy"]}
    s1 = validate.score(no_top3, CES)
    s2 = validate.score(dict(CES_EXPECTED, top3=["vascular_claudication"]), CES)
    summary = validate.summarise([("1.json", "red_flag", s1), ("2.json", "red_flag", s2)])
    assert summary["all"]["top3_n"] == 1 and summary["all"]["top3_hits"] == 0
    assert (summary["all"]["flags_hit"], summary["all"]["flags_total"]) == (2, 3)


def test_render_is_deterministic_and_sorted() -> None:
    rows = [("z.json", "classic", validate.score(CES_EXPECTED, _assessment("urgent", [
        ("cauda_equina_syndrome", "high")]))),
            ("a.json", "red_flag", validate.score(CES_EXPECTED, CES))]
    versions = {"engine": "9.9", "knowledge": "k1"}
    one = validate.render(validate.summarise(rows), versions)
    two = validate.render(validate.summarise(list(reversed(rows))), versions)
    assert one == two
    assert "Engine 9.9, knowledge k1" in one
    assert "| z.json | emergency | urgent |" in one
    assert "triage accuracy (exact level) | 50.0% (1/2)" in one


def test_the_harness_fails_a_real_vignette_with_a_wrong_expectation(tmp_path: Path) -> None:
    source = VIGNETTES / "ces-painless-retention-todd2016.json"
    shutil.copy(source, tmp_path / source.name)
    doc = _doc(source)
    doc["expected"] = {"triage": "self_care", "first_condition": "hip_osteoarthritis",
                       "top3": [], "red_flags": ["fracture"]}
    (tmp_path / "wrong.json").write_text(json.dumps(doc))
    summary, versions = validate.run(tmp_path)
    assert versions.get("engine") and versions.get("knowledge")
    misses = {(m[0], m[1]) for m in summary["misses"]}
    assert {("wrong.json", "triage"), ("wrong.json", "first condition"),
            ("wrong.json", "red flags")} <= misses
    assert summary["all"]["n"] == 2 and summary["all"]["over"] >= 1


# ------------------------------------------------------------------------------ the targets


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    result, _ = validate.run(VIGNETTES)
    return result  # type: ignore[no-any-return]


def test_no_urgent_or_emergency_vignette_is_under_triaged(summary: dict[str, Any]) -> None:
    assert summary["urgent_under_triaged"] == []


def test_triage_accuracy_at_least_97_percent(summary: dict[str, Any]) -> None:
    assert summary["all"]["triage_accuracy"] >= 0.97


def test_first_condition_accuracy_at_least_95_percent(summary: dict[str, Any]) -> None:
    assert summary["all"]["first_accuracy"] >= 0.95


def test_no_held_out_urgent_or_emergency_vignette_is_under_triaged() -> None:
    # The held-out set is not held to the accuracy targets (its misses are judged one by one),
    # but an expected emergency or urgent case given less is a safety failure wherever it is.
    for folder, least in ((HELDOUT, 45), (HELDOUT_2, 54)):
        result, _ = validate.run(folder)
        assert len(list(folder.glob("*.json"))) >= least
        assert result["urgent_under_triaged"] == [], folder.name
