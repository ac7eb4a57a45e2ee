"""The renderer: grades come from the treatment knowledge, read here a second way to compare."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from spinecare import __version__
from spinecare.education import load_library, render_article, render_text
from spinecare.education.library import SECTION_HEADINGS
from spinecare.education.render import GRADE_WORDS, RECOMMENDATION_WORDS
from spinecare.plan.evidence import evidence_for
from spinecare.plan.knowledge import EVIDENCE_GRADES, RECOMMENDATIONS, load_treatments
from tests.education.conftest import ARTICLE_IDS, KNOWLEDGE_DIR

LIBRARY = load_library()
RAW_TREATMENTS: dict[str, Any] = tomllib.loads(
    (KNOWLEDGE_DIR / "treatments.toml").read_text()
)["treatment"]


def _expected_verdict(tid: str, condition: str | None) -> tuple[str, str]:
    # Read straight from treatments.toml, not through the loader the renderer uses.
    raw = RAW_TREATMENTS[tid]
    special = raw.get("by_condition", {}).get(condition) if condition else None
    if special:
        return special["evidence_grade"], special["recommendation"]
    return raw["evidence_grade"], raw["recommendation"]


def _rendered_treatments(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for s in doc["sections"] for t in s.get("treatments", ())]


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_rendered_grades_equal_the_treatment_knowledge_read_from_the_toml(article_id: str) -> None:
    article = LIBRARY.articles[article_id]
    condition = article.grading_condition()
    for t in _rendered_treatments(render_article(article, LIBRARY)):
        covered = condition in RAW_TREATMENTS[t["id"]]["conditions"]
        expected = _expected_verdict(t["id"], condition if covered else None)
        assert (t["evidence_grade"], t["recommendation"]) == expected, t["id"]
        assert t["name"] == RAW_TREATMENTS[t["id"]]["name"]
        assert t["summary"] == RAW_TREATMENTS[t["id"]]["patient_summary"]


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_rendered_grades_equal_spinecare_evidence_for_the_same_condition(article_id: str) -> None:
    article = LIBRARY.articles[article_id]
    for t in _rendered_treatments(render_article(article, LIBRARY)):
        verdicts = {v["condition"]: v for v in evidence_for(t["id"])["verdicts"]}
        for condition in t["conditions"]:
            v = verdicts[condition]
            assert (v["evidence_grade"], v["recommendation"]) == (
                t["evidence_grade"],
                t["recommendation"],
            ), (t["id"], condition)


def test_a_condition_article_shows_the_verdict_for_its_own_condition() -> None:
    # Acupuncture has its own verdict for sciatica, different from its default.
    doc = render_article(LIBRARY.articles["lumbar_radiculopathy"], LIBRARY)
    acupuncture = next(t for t in _rendered_treatments(doc) if t["id"] == "acupuncture")
    assert (acupuncture["evidence_grade"], acupuncture["recommendation"]) == _expected_verdict(
        "acupuncture", "lumbar_radiculopathy"
    )
    assert acupuncture["evidence_grade"] != RAW_TREATMENTS["acupuncture"]["evidence_grade"]


def test_patient_words_exist_for_every_grade_and_recommendation() -> None:
    assert set(GRADE_WORDS) == EVIDENCE_GRADES
    assert set(RECOMMENDATION_WORDS) == RECOMMENDATIONS


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_the_json_form_round_trips(article_id: str) -> None:
    doc = render_article(LIBRARY.articles[article_id], LIBRARY)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["schema"] == "spinecare.education/1"
    assert doc["versions"] == {
        "engine": __version__,
        "education": LIBRARY.version,
        "treatments": load_treatments().version,
    }


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_the_text_form_has_every_heading_in_order_and_the_sources(article_id: str) -> None:
    article = LIBRARY.articles[article_id]
    doc = render_article(article, LIBRARY)
    text = render_text(doc)
    headings = [SECTION_HEADINGS[name].upper() for name, _ in article.sections()]
    positions = [text.index(f"\n{h}\n") for h in headings]
    assert positions == sorted(positions)
    assert all(f"[{cid}]" in text for cid in article.sources)
    assert f"Last reviewed {article.reviewed.isoformat()}" in text
    assert "not a diagnosis" in text


def test_the_text_form_puts_urgent_help_first_in_a_condition_article() -> None:
    text = render_text(render_article(LIBRARY.articles["cauda_equina_syndrome"], LIBRARY))
    first = text.split("\n\n")[2]
    assert first.startswith("WHEN TO GET HELP AT ONCE")
