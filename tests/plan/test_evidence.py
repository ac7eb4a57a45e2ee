"""The treatment evidence lookup behind ``spinecare evidence`` and the plan's claims section."""

from __future__ import annotations

import pytest

from spinecare.plan.evidence import (
    EVIDENCE_SCHEMA_ID,
    UnknownTreatmentError,
    evidence_for,
    normalise_treatment_id,
)
from spinecare.plan.knowledge import load_treatments

TREATMENT_IDS = sorted(load_treatments().treatments)


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_every_treatment_has_evidence_with_resolving_sources(treatment_id: str) -> None:
    e = evidence_for(treatment_id)
    assert e["schema"] == EVIDENCE_SCHEMA_ID
    assert e["treatment"] == treatment_id
    assert e["evidence"] and e["verdicts"]
    cited = {c for item in e["evidence"] for c in item["citations"]}
    assert cited <= set(e["citations"])
    assert not any(text.endswith("(source not found)") for text in e["citations"].values())


def test_stem_cell_evidence_says_not_approved_and_answers_the_success_rate_claim() -> None:
    e = evidence_for("stem_cell_injection")
    assert {v["recommendation"] for v in e["verdicts"]} == {"not_approved"}
    assert e["regulatory"] and "FDA" in e["regulatory"]
    questions = [c["question"] for c in e["claims"]]
    assert any("stem cell therapy work" in q for q in questions)
    assert any("97%" in q for q in questions)
    assert "fda_regenerative" in e["citations"]
    assert "Food and Drug Administration" in e["citations"]["fda_regenerative"]


def test_a_condition_specific_verdict_carries_its_reason() -> None:
    e = evidence_for("epidural_steroid_injection")
    by_condition = {v["condition"]: v for v in e["verdicts"]}
    assert by_condition["lumbar_spinal_stenosis"]["recommendation"] == "do_not_offer"
    sciatica = by_condition["lumbar_radiculopathy"]
    assert sciatica["recommendation"] == "consider"
    assert sciatica["reason"] and sciatica["citations"] == ["nice_ng59", "expert_judgement"]


@pytest.mark.parametrize("written", ["Stem-cell injection", " STEM_CELL_INJECTION ",
                                     "stem cell injection"])
def test_treatment_ids_may_be_written_with_spaces_hyphens_or_capitals(written: str) -> None:
    assert normalise_treatment_id(written) == "stem_cell_injection"
    assert evidence_for(written)["treatment"] == "stem_cell_injection"


@pytest.mark.parametrize(
    ("query", "expected"),
    # ("stem cells", "epidural" and "tens" are aliases now, found directly.)
    [("stem cel", "stem_cell_injection"), ("laser", "laser_spine_surgery"),
     ("epidurals", "epidural_steroid_injection"), ("acupunture", "acupuncture"),
     ("tens unit", "tens_electrotherapy")],
)
def test_an_unknown_treatment_suggests_the_closest_ids(query: str, expected: str) -> None:
    with pytest.raises(UnknownTreatmentError) as info:
        evidence_for(query)
    assert expected in info.value.suggestions
    assert expected in str(info.value)


def test_nonsense_gets_no_suggestions() -> None:
    with pytest.raises(UnknownTreatmentError) as info:
        evidence_for("qqqq")
    assert info.value.suggestions == ()


@pytest.mark.parametrize(("words", "treatment"), [
    ("stem cells", "stem_cell_injection"),
    ("traction table", "traction_decompression_device"),
    ("decompression machine", "traction_decompression_device"),
    ("Spinal decompression table", "traction_decompression_device"),
    ("chiropractic", "manual_therapy"),
    ("massage therapy", "massage"),
    ("ibuprofen", "nsaids"),
])
def test_a_treatment_is_found_by_the_words_people_use(words: str, treatment: str) -> None:
    assert evidence_for(words)["treatment"] == treatment


def test_an_alias_may_name_only_one_treatment() -> None:
    from spinecare.errors import KnowledgeError
    from spinecare.kb import knowledge_dir, read_text
    from spinecare.plan.knowledge import parse_treatments

    text = read_text(knowledge_dir().joinpath("treatments.toml"), "treatments.toml")
    clash = text.replace('aliases = ["massage therapy", "sports massage"]',
                         'aliases = ["massage therapy", "traction table"]', 1)
    assert clash != text
    with pytest.raises(KnowledgeError, match=r"'traction table' already names"):
        parse_treatments(clash)
    taken = text.replace('aliases = ["massage therapy", "sports massage"]',
                         'aliases = ["massage therapy", "nsaids"]', 1)
    with pytest.raises(KnowledgeError, match=r"'nsaids' already names nsaids"):
        parse_treatments(taken)
