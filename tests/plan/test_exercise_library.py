"""Contract tests for the exercise library (knowledge/exercises.toml).

Checks run over every exercise (parametrised by id). The snippet and property tests at the end
show that the loader rejects broken links, cycles and unknown codes, and accepts valid chains.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.plan.knowledge import (
    CATEGORIES,
    CONDITIONS,
    EXPERT_JUDGEMENT,
    ExerciseLibrary,
    KnowledgeFileError,
    TreatmentBase,
    load_exercises,
    parse_exercises,
)

TableWriter = Callable[[str, Mapping[str, Any]], str]

EXERCISE_IDS = sorted(load_exercises().exercises)

RED_FLAG_CONDITIONS = {
    "cauda_equina_syndrome",
    "spinal_infection",
    "spinal_malignancy",
    "vertebral_fracture",
}
LUMBAR_CONDITIONS = {"lumbar_spinal_stenosis", "nonspecific_low_back_pain", "lumbar_radiculopathy"}
DIAGNOSIS = re.compile(r"\byou (have|have got|are suffering from)\b|\byou've got\b", re.IGNORECASE)
JARGON = re.compile(
    r"\b(neurogenic|radiculopath\w*|claudication|flexion|extension|lumbar|cervical|"
    r"contraindicat\w*|myelopathy)\b",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------
# The library as a whole
# ---------------------------------------------------------------------------------------------


def test_library_carries_a_version_and_at_least_fourteen_exercises(
    exercises: ExerciseLibrary,
) -> None:
    assert exercises.version == "2026.11.0"
    assert len(exercises.exercises) >= 14


def test_library_covers_every_category(exercises: ExerciseLibrary) -> None:
    assert {e.category for e in exercises.exercises.values()} == CATEGORIES


def test_loading_is_cached_and_returns_the_same_object() -> None:
    assert load_exercises() is load_exercises()


def test_exercise_library_round_trips_through_json(exercises: ExerciseLibrary) -> None:
    assert ExerciseLibrary.model_validate_json(exercises.model_dump_json()) == exercises


def test_walking_chain_runs_from_supported_to_treadmill(exercises: ExerciseLibrary) -> None:
    assert exercises.chain("interval_walking") == (
        "forward_lean_walking",
        "interval_walking",
        "inclined_treadmill_walking",
    )


def test_flexion_chain_starts_with_the_pelvic_tilt(exercises: ExerciseLibrary) -> None:
    assert exercises.chain("double_knee_to_chest")[0] == "posterior_pelvic_tilt"


# ---------------------------------------------------------------------------------------------
# Contract: every exercise
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_every_exercise_cites_a_source_that_resolves(
    exercises: ExerciseLibrary, known_ids: frozenset[str], exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    assert len(exercise.citations) >= 1
    assert set(exercise.citations) - known_ids == set()


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_expert_judgement_says_so_in_the_evidence_note(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if EXPERT_JUDGEMENT in exercise.citations:
        assert "expert judgement" in exercise.evidence_note.lower()


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_suits_uses_the_condition_vocabulary(exercises: ExerciseLibrary, exercise_id: str) -> None:
    assert set(exercises.exercises[exercise_id].suits) <= CONDITIONS


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_avoid_and_supervise_codes_are_conditions_or_contraindications(
    exercises: ExerciseLibrary, treatments: TreatmentBase, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    known = CONDITIONS | set(treatments.contraindications)
    assert set(exercise.avoid_with) | set(exercise.supervise_with) <= known


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_progression_and_regression_point_at_existing_mirrored_exercises(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if exercise.progression is not None:
        assert exercises.exercises[exercise.progression].regression == exercise_id
    if exercise.regression is not None:
        assert exercises.exercises[exercise.regression].progression == exercise_id


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_progressions_never_cycle(exercises: ExerciseLibrary, exercise_id: str) -> None:
    seen = [exercise_id]
    while (following := exercises.exercises[seen[-1]].progression) is not None:
        assert following not in seen, seen
        seen.append(following)
    assert exercise_id in exercises.chain(exercise_id)


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_progressions_stay_within_one_category(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    categories = {exercises.exercises[i].category for i in exercises.chain(exercise_id)}
    assert len(categories) == 1


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_every_exercise_leaves_out_unassessed_red_flags(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    assert set(exercises.exercises[exercise_id].avoid_with) >= RED_FLAG_CONDITIONS


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_lumbar_exercises_stop_for_bladder_or_bowel_change(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if set(exercise.suits) & LUMBAR_CONDITIONS:
        assert any("bladder" in s.lower() for s in exercise.stop_if), exercise.stop_if


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_neck_work_is_supervised_in_myelopathy_and_left_out_when_it_progresses(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if exercise.category == "neck":
        assert "degenerative_cervical_myelopathy" in exercise.supervise_with
        assert "progressive_myelopathy" in exercise.avoid_with
        assert any("hands" in s.lower() for s in exercise.stop_if)


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_exercises_for_myelopathy_guard_against_progression(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if "degenerative_cervical_myelopathy" in exercise.suits:
        guarded = set(exercise.avoid_with) | set(exercise.supervise_with)
        assert "progressive_myelopathy" in guarded


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_balance_work_is_supervised_when_falls_are_likely(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    if exercise.category == "balance":
        assert "falls_risk" in exercise.supervise_with


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_patient_text_hedges_and_never_diagnoses(
    exercises: ExerciseLibrary, exercise_id: str
) -> None:
    exercise = exercises.exercises[exercise_id]
    assert "may" in exercise.purpose.lower()
    for text in (exercise.purpose, *exercise.instructions, *exercise.stop_if):
        assert not DIAGNOSIS.search(text), text


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_instructions_use_plain_words(exercises: ExerciseLibrary, exercise_id: str) -> None:
    exercise = exercises.exercises[exercise_id]
    for text in (*exercise.instructions, *exercise.stop_if):
        assert not JARGON.search(text), text


# ---------------------------------------------------------------------------------------------
# The loader can fail
# ---------------------------------------------------------------------------------------------

CONTRAINDICATIONS = frozenset({"myelopathy", "falls_risk"})


def _exercise(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Test exercise",
        "purpose": "May help.",
        "instructions": ["Do this.", "Then this."],
        "dosage": {"sets": 2, "reps": 10, "frequency_per_week": 3},
        "suits": ["lumbar_spinal_stenosis"],
        "avoid_with": ["cauda_equina_syndrome"],
        "category": "flexion_bias",
        "stop_if": ["New bladder trouble"],
        "evidence_note": "Expert judgement.",
        "citations": ["expert_judgement"],
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _library(table: TableWriter, items: Mapping[str, Mapping[str, Any]]) -> str:
    body = "\n".join(table(f"exercise.{key}", fields) for key, fields in items.items())
    return 'version = "2026.11.0"\n\n' + body


def _problems(table: TableWriter, items: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    with pytest.raises(KnowledgeFileError) as caught:
        parse_exercises(
            _library(table, items), contraindication_ids=CONTRAINDICATIONS, source="snippet.toml"
        )
    assert str(caught.value).startswith("snippet.toml: exercise.")
    return {p.path: p.message for p in caught.value.problems}


def test_the_valid_snippet_loads(table: TableWriter) -> None:
    items = {"a": _exercise(progression="b"), "b": _exercise(regression="a")}
    library = parse_exercises(_library(table, items), contraindication_ids=CONTRAINDICATIONS)
    assert library.chain("b") == ("a", "b")


def test_an_exercise_with_an_unknown_key_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(difficulty="easy")}
    assert _problems(table, items) == {"exercise.a.difficulty": "unknown key"}


def test_an_exercise_without_citations_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(citations=None)}
    assert _problems(table, items) == {"exercise.a.citations": "missing required key"}


def test_a_progression_to_an_unknown_exercise_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(progression="ghost")}
    assert _problems(table, items) == {"exercise.a.progression": "unknown exercise 'ghost'"}


def test_a_link_that_is_not_mirrored_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(progression="b"), "b": _exercise()}
    assert "exercise.a.progression" in _problems(table, items)


def test_a_progression_cycle_is_rejected(table: TableWriter) -> None:
    items = {
        "a": _exercise(progression="b", regression="c"),
        "b": _exercise(progression="c", regression="a"),
        "c": _exercise(progression="a", regression="b"),
    }
    problems = _problems(table, items)
    assert problems["exercise.a.progression"] == "cycle: a -> b -> c -> a"


def test_an_unknown_avoid_code_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(avoid_with=["sciatica"])}
    assert _problems(table, items) == {
        "exercise.a.avoid_with": "'sciatica' is neither a condition code nor a contraindication id"
    }


def test_an_exercise_that_both_suits_and_avoids_a_condition_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(avoid_with=["lumbar_spinal_stenosis"])}
    assert "both 'suits' and 'avoid_with'" in _problems(table, items)["exercise.a"]


def test_a_dosage_with_both_reps_and_minutes_is_rejected(table: TableWriter) -> None:
    dosage = {"sets": 1, "reps": 5, "minutes": 5, "frequency_per_week": 3}
    items = {"a": _exercise(dosage=dosage)}
    assert "exactly one" in _problems(table, items)["exercise.a.dosage"]


def test_an_unknown_category_is_rejected(table: TableWriter) -> None:
    items = {"a": _exercise(category="yoga")}
    assert "exercise.a.category" in _problems(table, items)


# ---------------------------------------------------------------------------------------------
# Properties of the link checker
# ---------------------------------------------------------------------------------------------

_NAMES = [f"ex{i}" for i in range(8)]


@st.composite
def _partitions(draw: st.DrawFn) -> list[list[str]]:
    names = draw(st.permutations(_NAMES))
    cuts = sorted(draw(st.sets(st.integers(1, len(names) - 1), max_size=len(names) - 1)))
    bounds = [0, *cuts, len(names)]
    return [list(names[a:b]) for a, b in itertools.pairwise(bounds)]


def _chained(chains: list[list[str]]) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for chain in chains:
        for i, name in enumerate(chain):
            items[name] = _exercise(
                progression=chain[i + 1] if i + 1 < len(chain) else None,
                regression=chain[i - 1] if i > 0 else None,
            )
    return items


@given(chains=_partitions())
def test_any_set_of_mirrored_linear_chains_is_accepted(
    table: TableWriter, chains: list[list[str]]
) -> None:
    library = parse_exercises(
        _library(table, _chained(chains)), contraindication_ids=CONTRAINDICATIONS
    )
    for chain in chains:
        assert library.chain(chain[-1]) == tuple(chain)


@given(chains=_partitions().filter(lambda cs: any(len(c) >= 3 for c in cs)))
def test_closing_any_chain_into_a_loop_is_rejected(
    table: TableWriter, chains: list[list[str]]
) -> None:
    items = _chained(chains)
    loop = next(c for c in chains if len(c) >= 3)
    items[loop[-1]]["progression"] = loop[0]
    items[loop[0]]["regression"] = loop[-1]
    with pytest.raises(KnowledgeFileError, match="cycle"):
        parse_exercises(_library(table, items), contraindication_ids=CONTRAINDICATIONS)
