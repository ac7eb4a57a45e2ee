"""Which articles a patient reads (spinecare.education.patient), from real assessments and plans
of the example cases: their likely conditions, the urgent advice that fits, the plan's
treatments; and that every link shows the grade the plan itself gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from spinecare.education import load_library, render_article
from spinecare.education.patient import LIKELY_BANDS, for_patient
from spinecare.reasoning.knowledge import default_knowledge
from spinecare.service.clinical import prepare_visit

CASES = Path(__file__).resolve().parent.parent / "data" / "cases"
LIBRARY = load_library()
NAMES = sorted(p.name.removesuffix(".case.json") for p in CASES.glob("*.case.json"))


def documents(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    visit = prepare_visit((CASES / f"{name}.case.json").read_bytes())
    return orjson.loads(visit.assessment_json), orjson.loads(visit.plan_json)


@pytest.mark.parametrize("name", NAMES)
def test_every_likely_condition_and_only_those_have_their_article(name: str) -> None:
    assessment, plan = documents(name)
    reading = for_patient(assessment, plan, LIBRARY)
    likely = {c["code"] for c in assessment["conditions"] if c["likelihood"] in LIKELY_BANDS}
    assert {c.condition for c in reading.conditions} == likely
    priorities = [default_knowledge().conditions[c.condition].priority
                  for c in reading.conditions]
    assert priorities == sorted(priorities)


@pytest.mark.parametrize("name", NAMES)
def test_the_urgent_advice_is_the_most_serious_likely_conditions_own(name: str) -> None:
    assessment, plan = documents(name)
    reading = for_patient(assessment, plan, LIBRARY)
    if not reading.conditions:
        assert reading.urgent is None
        return
    assert reading.urgent is not None
    assert reading.urgent.article == reading.conditions[0].article
    assert reading.urgent.section == reading.conditions[0].article.urgent


def test_a_cauda_equina_red_flag_puts_its_emergency_advice_first() -> None:
    assessment, plan = documents("ces-retention")
    assert any(f["code"] == "cauda_equina_syndrome" for f in assessment["red_flags"])
    reading = for_patient(assessment, plan, LIBRARY)
    assert reading.urgent is not None
    assert reading.urgent.article.id == "cauda_equina_syndrome"


@pytest.mark.parametrize("name", NAMES)
def test_every_plan_treatment_is_listed_once_with_its_stance(name: str) -> None:
    assessment, plan = documents(name)
    reading = for_patient(assessment, plan, LIBRARY)
    ids = [t.treatment_id for t in reading.treatments]
    assert len(ids) == len(set(ids))

    def of(key: str) -> set[str]:
        return {t["id"] for g in plan.get(key) or [] for t in g.get("treatments") or []}

    differ = of("disagreements")
    assert {t.treatment_id for t in reading.with_stance("differ")} == differ
    assert {t.treatment_id for t in reading.with_stance("suggested")} == of("first_line") - differ
    assert {t.treatment_id for t in reading.with_stance("not_suggested")} == \
        of("avoid") - differ - of("first_line")


@pytest.mark.parametrize("name", NAMES)
def test_a_treatment_link_shows_the_grade_the_plan_gives_where_the_article_is_its_condition(
        name: str) -> None:
    assessment, plan = documents(name)
    reading = for_patient(assessment, plan, LIBRARY)
    given = {(g.get("condition"), t["id"]): (t["evidence_grade"], t["recommendation"])
             for key in ("first_line", "avoid") for g in plan.get(key) or []
             for t in g.get("treatments") or []}
    checked = 0
    for t in reading.treatments:
        assert t.article is not None, f"no article lists {t.treatment_id}"
        condition = t.article.grading_condition()
        if (condition, t.treatment_id) not in given:
            continue
        shown = next(e for s in render_article(t.article, LIBRARY)["sections"]
                     for e in s.get("treatments", ()) if e["id"] == t.treatment_id)
        assert (shown["evidence_grade"], shown["recommendation"]) == \
            given[(condition, t.treatment_id)], t.treatment_id
        checked += 1
    if reading.with_stance("suggested"):
        assert checked


def test_the_lss_plan_reads_why_we_suggest_walking_and_not_a_traction_table() -> None:
    reading = for_patient(*documents("lss-classic"), LIBRARY)
    suggested = {t.treatment_id: t for t in reading.with_stance("suggested")}
    avoided = {t.treatment_id: t for t in reading.with_stance("not_suggested")}
    walking = suggested["walking_programme"]
    assert walking.article is not None and walking.article.id == "lumbar_spinal_stenosis"
    assert walking.anchor == "treatment-walking_programme"
    assert "traction_decompression_device" in avoided


def test_no_assessment_means_nothing_to_read_but_no_error() -> None:
    reading = for_patient({}, {}, LIBRARY)
    assert (reading.urgent, reading.conditions, reading.treatments) == (None, (), ())
