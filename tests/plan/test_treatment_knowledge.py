"""Contract tests for the treatment knowledge base (knowledge/treatments.toml) and its sources.

Every check that can run over every treatment does (parametrised by id), so a new treatment cannot
skip them. The snippet tests at the end prove the loader can fail: each breaks one rule of an
otherwise valid snippet, and the valid snippet itself is shown to load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import spinecare
from spinecare.errors import KnowledgeError
from spinecare.plan.knowledge import (
    CONDITIONS,
    EXPERT_JUDGEMENT,
    NEGATIVE_RECOMMENDATIONS,
    Citation,
    ExerciseLibrary,
    KnowledgeFileError,
    Treatment,
    TreatmentBase,
    load_citations,
    load_treatments,
    parse_citations,
    parse_treatments,
    unresolved_citations,
    verify_citations,
)

TableWriter = Callable[[str, Mapping[str, Any]], str]

TREATMENT_IDS = sorted(load_treatments().treatments)
CONTRAINDICATION_IDS = sorted(load_treatments().contraindications)

REQUIRED_TREATMENTS = {
    "nsaids",
    "paracetamol",
    "weak_opioids",
    "gabapentinoids",
    "education_self_management",
    "exercise_therapy",
    "walking_programme",
    "manual_therapy",
    "massage",
    "acupressure",
    "acupuncture",
    "craniosacral_therapy",
    "epidural_steroid_injection",
    "decompression_surgery",
    "fusion_with_decompression",
    "interspinous_spacer",
    "laser_spine_surgery",
    "stem_cell_injection",
    "traction_decompression_device",
    "lumbar_brace_corset",
    "cervical_decompression_surgery",
    "structured_rehabilitation_dcm",
    "cervical_collar",
    "tens_electrotherapy",
}

HEDGES = ("may", "possibl")
DIAGNOSIS = re.compile(r"\byou (have|have got|are suffering from)\b|\byou've got\b", re.IGNORECASE)
# A crude reading-level guard for text aimed at a reading age of about 12: short sentences and
# none of the clinicians' words below.
JARGON = re.compile(
    r"\b(neurogenic|radiculopath\w*|claudication|RCT|GRADE|ODI|mJOA|haematopoietic|progenitor|"
    r"glucocorticoid|percutaneous|intradiscal|spondylolisthesis|efficacy|contraindicat\w*)\b",
    re.IGNORECASE,
)
MAX_SENTENCE_WORDS = 28


def _patient_texts(treatment: Treatment) -> Iterator[str]:
    yield treatment.patient_summary
    for claim in treatment.claims:
        yield claim.answer


# ---------------------------------------------------------------------------------------------
# The knowledge base as a whole
# ---------------------------------------------------------------------------------------------


def test_knowledge_base_carries_its_own_version(treatments: TreatmentBase) -> None:
    assert treatments.version == "2026.12.1"
    assert treatments.version != spinecare.__version__


def test_every_required_treatment_is_registered(treatments: TreatmentBase) -> None:
    assert set(treatments.treatments) >= REQUIRED_TREATMENTS


def test_loading_is_cached_and_returns_the_same_object() -> None:
    assert load_treatments() is load_treatments()


def test_loaded_knowledge_is_read_only(treatments: TreatmentBase) -> None:
    nsaids = treatments.treatments["nsaids"]
    with pytest.raises(ValidationError):
        nsaids.recommendation = "recommended"  # type: ignore[misc]
    with pytest.raises(TypeError):
        treatments.treatments["nsaids"] = nsaids  # type: ignore[index]


def test_treatment_base_round_trips_through_json(treatments: TreatmentBase) -> None:
    again = TreatmentBase.model_validate_json(treatments.model_dump_json())
    assert again == treatments


def test_condition_vocabulary_matches_the_assessment_schema() -> None:
    schema = Path(spinecare.__file__).parent / "schemas" / "assessment.schema.json"
    if not schema.exists():
        pytest.skip("assessment.schema.json not present yet")

    def enums(node: Any) -> Iterator[list[Any]]:
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):
                yield node["enum"]
            for child in node.values():
                yield from enums(child)
        elif isinstance(node, list):
            for child in node:
                yield from enums(child)

    found = [e for e in enums(json.loads(schema.read_text())) if "lumbar_spinal_stenosis" in e]
    assert found, "no condition enum in the assessment schema"
    assert all(set(e) == CONDITIONS for e in found)


def test_every_contraindication_is_used_by_a_treatment_or_an_exercise(
    treatments: TreatmentBase, exercises: ExerciseLibrary
) -> None:
    used = {c for t in treatments.treatments.values() for c in t.contraindications}
    used |= {
        code for e in exercises.exercises.values() for code in (*e.avoid_with, *e.supervise_with)
    }
    assert set(treatments.contraindications) - used == set()


# ---------------------------------------------------------------------------------------------
# Contract: every treatment
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_every_treatment_cites_a_source(treatments: TreatmentBase, treatment_id: str) -> None:
    assert len(treatments.treatments[treatment_id].citations) >= 1


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_every_cited_source_of_a_treatment_resolves(
    treatments: TreatmentBase, known_ids: frozenset[str], treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    assert set(treatment.citations) - known_ids == set()


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_every_listed_citation_supports_a_statement(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    assert treatment.supporting_citations() == set(treatment.citations)


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_treatment_conditions_come_from_the_closed_vocabulary(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    assert set(treatment.conditions) <= CONDITIONS
    assert set(treatment.by_condition) <= set(treatment.conditions)


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_treatment_contraindications_exist(treatments: TreatmentBase, treatment_id: str) -> None:
    treatment = treatments.treatments[treatment_id]
    assert set(treatment.contraindications) <= set(treatments.contraindications)


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_every_condition_has_a_verdict_and_evidence_against_is_never_offered(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    for condition in treatment.conditions:
        grade, recommendation = treatment.verdict_for(condition)
        if grade == "evidence_against":
            assert recommendation in NEGATIVE_RECOMMENDATIONS


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_patient_text_hedges_and_never_diagnoses(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    assert any(h in treatment.patient_summary.lower() for h in HEDGES)
    assert "may" in treatment.expected_benefit.lower()
    for text in _patient_texts(treatment):
        assert not DIAGNOSIS.search(text), text


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_patient_text_uses_short_sentences_and_plain_words(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    for text in _patient_texts(treatments.treatments[treatment_id]):
        assert not JARGON.search(text), text
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            assert len(sentence.split()) <= MAX_SENTENCE_WORDS, sentence


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_expert_judgement_says_so_where_it_is_cited(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    treatment = treatments.treatments[treatment_id]
    for statement in treatment.evidence:
        if EXPERT_JUDGEMENT in statement.citations:
            assert "expert judgement" in statement.finding.lower(), statement.finding
    for verdict in treatment.by_condition.values():
        if EXPERT_JUDGEMENT in verdict.citations:
            assert "expert judgement" in verdict.reason.lower(), verdict.reason


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_unverified_nass_treatment_grades_stay_tagged_unverified(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    # The clinical reference checked only NASS 2011's diagnosis and imaging grades (§9 item 10).
    for statement in treatments.treatments[treatment_id].evidence:
        if "nass2011" in statement.citations:
            assert statement.verification == "U"


@pytest.mark.parametrize("contraindication_id", CONTRAINDICATION_IDS)
def test_every_contraindication_cites_a_resolving_source_and_admits_expert_judgement(
    treatments: TreatmentBase, known_ids: frozenset[str], contraindication_id: str
) -> None:
    item = treatments.contraindications[contraindication_id]
    assert item.citations
    assert set(item.citations) <= known_ids
    if EXPERT_JUDGEMENT in item.citations:
        assert "expert judgement" in item.when.lower()


# ---------------------------------------------------------------------------------------------
# Clinical content the plan depends on
# ---------------------------------------------------------------------------------------------


def test_stem_cell_injection_is_not_approved_and_cites_the_fda(treatments: TreatmentBase) -> None:
    stem_cells = treatments.treatments["stem_cell_injection"]
    assert stem_cells.recommendation == "not_approved"
    assert stem_cells.regulatory is not None and "FDA" in stem_cells.regulatory
    assert "fda_regenerative" in stem_cells.citations
    questions = " ".join(c.question.lower() for c in stem_cells.claims)
    assert "work" in questions and "97%" in questions


def test_traction_is_do_not_offer(treatments: TreatmentBase) -> None:
    traction = treatments.treatments["traction_decompression_device"]
    assert traction.recommendation == "do_not_offer"
    assert traction.evidence_grade == "evidence_against"
    assert {"cochrane_traction2013", "nice_ng59"} <= set(traction.citations)


@pytest.mark.parametrize("treatment_id", ["manual_therapy", "traction_decompression_device"])
def test_manual_therapy_and_traction_list_myelopathy_as_a_contraindication(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    assert "myelopathy" in treatments.treatments[treatment_id].contraindications


def test_manual_therapy_and_massage_are_only_offered_within_an_exercise_package(
    treatments: TreatmentBase,
) -> None:
    for treatment_id in ("manual_therapy", "massage"):
        treatment = treatments.treatments[treatment_id]
        assert {treatment.verdict_for(c)[1] for c in treatment.conditions} == {
            "only_within_package"
        }


def test_gabapentinoids_are_not_offered_for_sciatica_or_stenosis(
    treatments: TreatmentBase,
) -> None:
    gabapentinoids = treatments.treatments["gabapentinoids"]
    for condition in ("lumbar_radiculopathy", "lumbar_spinal_stenosis"):
        assert gabapentinoids.verdict_for(condition)[1] == "do_not_offer"


def test_epidural_steroid_presents_the_trial_the_nhs_and_nass_for_stenosis(
    treatments: TreatmentBase,
) -> None:
    esi = treatments.treatments["epidural_steroid_injection"]
    assert esi.verdict_for("lumbar_spinal_stenosis") == ("evidence_against", "do_not_offer")
    assert esi.verdict_for("lumbar_radiculopathy")[1] == "consider"
    tags = {c: s.verification for s in esi.evidence for c in s.citations}
    assert tags["friedly2014"] == "V"
    assert tags["aomrc_ebi"] == "V"
    assert tags["nass2011"] == "U"
    assert "-2.1 to 0.1" in esi.expected_benefit


@pytest.mark.parametrize("treatment_id", ["fusion_with_decompression", "interspinous_spacer"])
def test_add_on_fusion_and_spacers_are_not_recommended_for_stenosis(
    treatments: TreatmentBase, treatment_id: str
) -> None:
    assert treatments.treatments[treatment_id].verdict_for("lumbar_spinal_stenosis")[1] in (
        NEGATIVE_RECOMMENDATIONS
    )


def test_myelopathy_surgery_is_recommended_and_rehabilitation_excludes_progression(
    treatments: TreatmentBase,
) -> None:
    surgery = treatments.treatments["cervical_decompression_surgery"]
    rehab = treatments.treatments["structured_rehabilitation_dcm"]
    assert surgery.verdict_for("degenerative_cervical_myelopathy")[1] == "recommended"
    assert rehab.verdict_for("degenerative_cervical_myelopathy")[1] == "consider"
    assert "progressive_myelopathy" in rehab.contraindications


def test_cervical_collar_is_marked_as_expert_judgement_only(treatments: TreatmentBase) -> None:
    assert treatments.treatments["cervical_collar"].citations == (EXPERT_JUDGEMENT,)


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


def test_care_citations_do_not_redefine_core_or_reserved_ids(
    care_citations: Mapping[str, Citation], core_ids: frozenset[str]
) -> None:
    assert set(care_citations) & core_ids == set()


def test_care_citations_give_title_and_year(care_citations: Mapping[str, Citation]) -> None:
    incomplete = [k for k, c in care_citations.items() if c.title is None or c.year is None]
    assert incomplete == []


def test_every_care_citation_is_used(
    care_citations: Mapping[str, Citation],
    treatments: TreatmentBase,
    exercises: ExerciseLibrary,
) -> None:
    cited = {
        ref
        for registry in (treatments.cited_ids(), exercises.cited_ids())
        for refs in registry.values()
        for ref in refs
    }
    assert set(care_citations) - cited == set()


def test_every_cited_id_resolves_against_the_citation_folder(citations_dir: Path) -> None:
    if not (citations_dir / "core.toml").exists():
        pytest.skip("core.toml not written yet; test_every_cited_source_* check against CORE_IDS")
    verify_citations(set(load_citations(citations_dir)))


def test_packaged_citations_are_the_citation_folder(citations_dir: Path) -> None:
    assert dict(load_citations()) == dict(load_citations(citations_dir))


def test_citation_folder_rejects_an_id_defined_twice(tmp_path: Path) -> None:
    source = 'authors = "A"\njournal = "J"\nverification = "U"\n'
    (tmp_path / "a.toml").write_text(f"[same]\n{source}")
    (tmp_path / "b.toml").write_text(f"[same]\n{source}")
    with pytest.raises(KnowledgeFileError, match=r"b\.toml: same: id already defined in a\.toml"):
        load_citations(tmp_path)


def test_citation_file_rejects_the_reserved_expert_judgement_id() -> None:
    text = '[expert_judgement]\nauthors = "A"\njournal = "J"\nverification = "U"\n'
    with pytest.raises(KnowledgeFileError, match="reserved id"):
        parse_citations(text, source="x.toml")


def test_citation_with_an_unknown_key_or_a_bad_doi_is_rejected() -> None:
    text = (
        '[src]\nauthors = "A"\njournal = "J"\nverification = "V"\n'
        'doi = "not-a-doi"\nimpact_factor = "9"\n'
    )
    with pytest.raises(KnowledgeFileError) as caught:
        parse_citations(text, source="x.toml")
    paths = {p.path for p in caught.value.problems}
    assert paths == {"src.doi", "src.impact_factor"}


def test_unresolved_citations_ignore_expert_judgement_and_name_the_item() -> None:
    cited = {"treatment.a": {"known", EXPERT_JUDGEMENT, "ghost"}, "treatment.b": {"known"}}
    assert unresolved_citations(cited, {"known"}) == {"treatment.a": ("ghost",)}


# ---------------------------------------------------------------------------------------------
# The loader can fail: one broken rule per snippet
# ---------------------------------------------------------------------------------------------


def _valid_treatment() -> dict[str, Any]:
    return {
        "name": "Test treatment",
        "what_it_is": "Something to test the loader.",
        "conditions": ["lumbar_spinal_stenosis"],
        "evidence_grade": "low",
        "recommendation": "consider",
        "expected_benefit": "May help a little.",
        "risks": ["Soreness"],
        "contraindications": ["myelopathy"],
        "patient_summary": "This may help a little.",
        "evidence": [{"finding": "A trial.", "verification": "V", "citations": ["src"]}],
        "citations": ["src"],
    }


def _snippet(table: TableWriter, treatment: Mapping[str, Any]) -> str:
    return (
        'version = "2026.11.0"\n\n'
        + table(
            "contraindication.myelopathy",
            {"label": "Myelopathy", "when": "Cord compression.", "citations": ["src"]},
        )
        + "\n"
        + table("treatment.test_item", treatment)
    )


def _problems(table: TableWriter, treatment: Mapping[str, Any]) -> dict[str, str]:
    with pytest.raises(KnowledgeFileError) as caught:
        parse_treatments(_snippet(table, treatment), source="snippet.toml")
    error = caught.value
    assert isinstance(error, KnowledgeError) and isinstance(error, ValueError)
    assert str(error).startswith("snippet.toml: treatment.test_item")
    return {p.path: p.message for p in error.problems}


def test_the_valid_snippet_loads(table: TableWriter) -> None:
    base = parse_treatments(_snippet(table, _valid_treatment()))
    assert base.treatments["test_item"].verdict_for("lumbar_spinal_stenosis") == (
        "low",
        "consider",
    )


def test_a_treatment_with_an_unknown_key_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {"success_rate": "97%"}
    assert _problems(table, broken) == {"treatment.test_item.success_rate": "unknown key"}


def test_a_treatment_without_citations_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment()
    del broken["citations"]
    assert _problems(table, broken) == {"treatment.test_item.citations": "missing required key"}


def test_a_treatment_with_an_empty_citation_list_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {"citations": []}
    assert "treatment.test_item.citations" in _problems(table, broken)


def test_a_statement_citing_a_source_missing_from_citations_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment()
    broken["evidence"] = [{"finding": "A trial.", "verification": "V", "citations": ["other"]}]
    assert "not in citations: ['other']" in _problems(table, broken)["treatment.test_item"]


def test_a_treatment_citing_an_unknown_source_fails_verification(table: TableWriter) -> None:
    base = parse_treatments(_snippet(table, _valid_treatment()))
    with pytest.raises(KnowledgeFileError, match=r"treatment\.test_item\.citations: .*'src'"):
        verify_citations(
            {"something_else"}, base, ExerciseLibrary(version="2026.1.0", exercises={})
        )


def test_an_unknown_condition_code_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {"conditions": ["sciatica"]}
    assert "treatment.test_item.conditions[0]" in _problems(table, broken)


def test_an_unknown_contraindication_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {"contraindications": ["vertigo"]}
    assert _problems(table, broken) == {
        "treatment.test_item.contraindications": "unknown contraindication 'vertigo'"
    }


def test_evidence_against_with_a_positive_recommendation_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {
        "evidence_grade": "evidence_against",
        "recommendation": "recommended",
    }
    assert "evidence_against" in _problems(table, broken)["treatment.test_item"]


def test_not_approved_without_regulatory_text_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {
        "evidence_grade": "insufficient",
        "recommendation": "not_approved",
    }
    assert "regulatory" in _problems(table, broken)["treatment.test_item"]


def test_an_id_key_inside_the_table_is_rejected(table: TableWriter) -> None:
    broken = _valid_treatment() | {"id": "other"}
    assert "treatment.test_item.id" in _problems(table, broken)


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(KnowledgeFileError, match=r"^broken\.toml: \(file\): not valid TOML"):
        parse_treatments("version = ", source="broken.toml")


def test_an_unknown_top_level_key_is_rejected() -> None:
    with pytest.raises(KnowledgeFileError, match=r"snippet\.toml: author: unknown key"):
        parse_treatments(
            'version = "2026.11.0"\nauthor = "me"\n[treatment]\n', source="snippet.toml"
        )
