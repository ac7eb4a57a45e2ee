"""The home exercise programme: what it is built from, and how the logs move it.

The thresholds come from plan_rules.toml (``programme.adjust``); the tests read them from there
instead of repeating the numbers, so a changed threshold is tested at its new value.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinecare.plan.knowledge import ExerciseLibrary
from spinecare.plan.programme import (
    LogError,
    Programme,
    ProgrammeLog,
    adjust_programme,
    build_programme,
)
from spinecare.plan.rules import URGENCY_RANK, PlanRules, load_plan_rules

RULES = load_plan_rules()
ADJUST = RULES.programme.adjust
STOP_SYMPTOMS = sorted(s.id for s in RULES.programme.stop_symptoms)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def lss(pain: int | None = 5, contraindications: tuple[str, ...] = ()) -> Programme:
    return build_programme(["lumbar_spinal_stenosis"], contraindications, pain={"leg": pain})


def sessions(n: int, pain: int = 5, tolerance: str = "manageable", **extra: Any) -> list[Any]:
    return [{"day": i, "pain_nrs": pain, "tolerance": tolerance, **extra} for i in range(n)]


def exercise_ids(p: Programme) -> list[str]:
    return [e.exercise for e in p.exercises]


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def test_lss_programme_starts_every_chain_at_its_easiest_level(exercises: ExerciseLibrary) -> None:
    p = lss()
    assert p.status == "active"
    for entry in p.exercises:
        assert exercises.exercises[entry.exercise].regression is None
        assert entry.dose_step == 0
        assert entry.dosage == exercises.exercises[entry.exercise].dosage


def test_programme_offers_one_exercise_per_progression_chain(exercises: ExerciseLibrary) -> None:
    p = build_programme(["lumbar_spinal_stenosis", "nonspecific_low_back_pain"])
    chains = [exercises.chain(e) for e in exercise_ids(p)]
    assert len(chains) == len(set(chains))
    assert p.rules == ("prog.lumbar_spinal_stenosis", "prog.nonspecific_low_back_pain")


def test_falls_risk_makes_walking_and_balance_supervised() -> None:
    p = lss(contraindications=("falls_risk",))
    supervised = {e.exercise for e in p.exercises if e.supervised}
    assert {"forward_lean_walking", "supported_standing_balance"} <= supervised
    assert not next(e for e in p.exercises if e.exercise == "posterior_pelvic_tilt").supervised
    assert p.status == "active"


def test_exercises_the_case_rules_out_are_left_out_with_the_reason() -> None:
    p = build_programme(["nonspecific_neck_pain"], ["progressive_myelopathy"])
    assert p.status == "withheld"
    assert {x.exercise: x.because for x in p.left_out}["chin_tuck_lying"] == (
        "progressive_myelopathy",)


def test_a_withheld_programme_has_no_exercises_and_says_why() -> None:
    p = build_programme(["lumbar_spinal_stenosis"], withheld="Exercise waits.")
    assert (p.status, p.reason, p.exercises) == ("withheld", "Exercise waits.", ())


def test_conditions_without_a_template_get_no_programme() -> None:
    p = build_programme(["vascular_claudication"])
    assert p.status == "withheld"
    assert p.reason is not None and "clinician" in p.reason


def test_programme_round_trips_through_json() -> None:
    p = lss(contraindications=("falls_risk",))
    assert Programme.from_json(p.to_json()) == p


# ---------------------------------------------------------------------------------------------
# Adjusting: stop
# ---------------------------------------------------------------------------------------------


def test_saddle_numbness_stops_the_programme_and_sends_to_the_emergency_department() -> None:
    logs = [*sessions(3, tolerance="easy"), {"day": 3, "symptoms": ["saddle_numbness"]}]
    d = adjust_programme(lss(), logs)
    assert d.action == "stop"
    assert d.seek_care is not None
    assert d.seek_care.urgency == "immediately"
    assert "emergency department" in d.seek_care.message
    assert d.programme.status == "stopped"
    assert d.reasons[0].rule == ADJUST.stop.id


def test_the_most_urgent_symptom_sets_the_seek_care_message() -> None:
    logs = [{"day": 0, "symptoms": ["new_hand_clumsiness"]},
            {"day": 1, "symptoms": ["bladder_or_bowel_change"]}]
    d = adjust_programme(lss(), logs)
    assert d.seek_care is not None
    assert d.seek_care.urgency == "immediately"
    assert len(d.seek_care.symptoms) == 2


def test_new_hand_clumsiness_stops_the_programme_with_same_day_care() -> None:
    d = adjust_programme(lss(), [{"day": 0, "symptoms": ["new_hand_clumsiness"]}])
    assert d.action == "stop"
    assert d.seek_care is not None and d.seek_care.urgency == "same_day"


def test_a_stopped_programme_stays_stopped_until_a_clinician_restarts_it() -> None:
    stopped = adjust_programme(lss(), [{"day": 0, "symptoms": ["fever"]}]).programme
    d = adjust_programme(stopped, sessions(5, tolerance="easy"))
    assert d.action == "stop"
    assert d.programme.status == "stopped"


def test_an_unknown_symptom_is_an_error_naming_the_log() -> None:
    with pytest.raises(LogError) as info:
        adjust_programme(lss(), [{"day": 0}, {"day": 1, "symptoms": ["numb_bum"]}])
    assert info.value.problems[0].path == "logs[1].symptoms[0]"


def test_a_malformed_log_is_an_error_naming_the_field() -> None:
    with pytest.raises(LogError) as info:
        adjust_programme(lss(), [{"day": 0, "pain_nrs": 11}])
    assert info.value.problems[0].path == "logs[0].pain_nrs"


# ---------------------------------------------------------------------------------------------
# Adjusting: step back, hold, progress
# ---------------------------------------------------------------------------------------------


def test_pain_rising_more_than_the_threshold_steps_back() -> None:
    rise = ADJUST.pain_rise.above + 1
    logs = [*sessions(2), {"day": 2, "pain_nrs": 5 + rise, "tolerance": "manageable"}]
    d = adjust_programme(lss(pain=5), logs)
    assert d.action == "step_back"
    assert d.reasons[0].rule == ADJUST.pain_rise.id


def test_pain_rising_by_exactly_the_threshold_holds_rather_than_steps_back() -> None:
    logs = [*sessions(3), {"day": 3, "pain_nrs": 5 + ADJUST.pain_rise.above,
                           "tolerance": "easy"}]
    d = adjust_programme(lss(pain=5), logs)
    assert d.action == "hold"
    assert ADJUST.hold_pain_rise.id in [r.rule for r in d.reasons]


def test_symptoms_slow_to_settle_step_back() -> None:
    slow = ADJUST.slow_to_settle.minutes_above + 15
    d = adjust_programme(lss(), sessions(3, settled_within_minutes=slow))
    assert d.action == "step_back"
    assert d.reasons[0].rule == ADJUST.slow_to_settle.id


def test_a_session_that_could_not_be_finished_steps_back() -> None:
    d = adjust_programme(lss(), [*sessions(2), {"day": 2, "pain_nrs": 5,
                                                "tolerance": "could_not_finish"}])
    assert d.action == "step_back"


def test_a_fall_steps_back() -> None:
    d = adjust_programme(lss(), [*sessions(2), {"day": 2, "pain_nrs": 5, "tolerance": "easy",
                                                "fall": True}])
    assert d.action == "step_back"
    assert ADJUST.fall.id in [r.rule for r in d.reasons]


def test_stepping_back_lowers_the_dose_then_moves_down_the_chain(
    exercises: ExerciseLibrary,
) -> None:
    p = build_programme(["nonspecific_low_back_pain"])
    up = adjust_programme(p, sessions(3, tolerance="easy")).programme
    assert next(e for e in up.exercises if e.category == "walking").dose_step == 1
    down = adjust_programme(up, sessions(3, tolerance="could_not_finish")).programme
    walking = next(e for e in down.exercises if e.category == "walking")
    assert (walking.exercise, walking.dose_step) == ("interval_walking", 0)
    down = adjust_programme(down, sessions(3, tolerance="could_not_finish")).programme
    walking = next(e for e in down.exercises if e.category == "walking")
    assert walking.exercise == exercises.exercises["interval_walking"].regression


def test_a_hard_session_holds() -> None:
    d = adjust_programme(lss(), [*sessions(3), {"day": 3, "pain_nrs": 5, "tolerance": "hard"}])
    assert d.action == "hold"
    assert d.programme == lss()


def test_too_few_sessions_hold() -> None:
    d = adjust_programme(lss(), sessions(ADJUST.progress.min_sessions - 1, tolerance="easy"))
    assert d.action == "hold"
    assert ADJUST.too_few.id in [r.rule for r in d.reasons]


def test_days_logged_as_not_done_do_not_count_as_sessions() -> None:
    logs = sessions(ADJUST.progress.min_sessions, tolerance="easy")
    skipped = [{**log, "done": False} for log in logs]
    skipped[0]["done"] = True
    d = adjust_programme(lss(), skipped)
    assert d.action == "hold"
    assert ADJUST.too_few.id in [r.rule for r in d.reasons]


def test_missing_ratings_hold() -> None:
    d = adjust_programme(lss(), [*sessions(3), {"day": 3}])
    assert d.action == "hold"
    assert ADJUST.unknown.id in [r.rule for r in d.reasons]


def test_tolerated_sessions_without_more_pain_progress_one_dose_step() -> None:
    p = lss()
    d = adjust_programme(p, sessions(ADJUST.progress.min_sessions, tolerance="easy"))
    assert d.action == "progress"
    tilt = next(e for e in d.programme.exercises if e.exercise == "posterior_pelvic_tilt")
    assert tilt.dose_step == 1
    assert tilt.dosage.reps == 10 + ADJUST.dose.reps_step
    assert {c.note for c in d.changes} == {"one dose step up"}


def test_after_the_dose_steps_the_next_exercise_of_the_chain_follows(
    exercises: ExerciseLibrary,
) -> None:
    p = lss()
    for _ in range(ADJUST.dose.max_steps_up + 1):
        p = adjust_programme(p, sessions(3, tolerance="easy")).programme
    following = exercises.exercises["posterior_pelvic_tilt"].progression
    assert following in exercise_ids(p)
    assert "posterior_pelvic_tilt" not in exercise_ids(p)


def test_supervised_exercises_progress_only_with_the_clinician() -> None:
    p = lss(contraindications=("falls_risk",))
    d = adjust_programme(p, sessions(3, tolerance="easy"))
    walking = next(c for c in d.changes if c.exercise == "forward_lean_walking")
    assert walking.needs_clinician
    before = next(e for e in p.exercises if e.exercise == "forward_lean_walking")
    after = next(e for e in d.programme.exercises if e.exercise == "forward_lean_walking")
    assert after == before


def test_a_progression_that_would_need_supervision_is_left_to_the_clinician() -> None:
    # The walking chain ends on the treadmill, which needs supervision in myelopathy: the step
    # onto it is marked for the clinician and not taken at home.
    p = build_programme(["lumbar_spinal_stenosis", "degenerative_cervical_myelopathy"])
    for _ in range(6):
        d = adjust_programme(p, sessions(3, tolerance="easy"))
        p = d.programme
    assert "inclined_treadmill_walking" not in exercise_ids(p)
    assert any(c.to_exercise == "inclined_treadmill_walking" and c.needs_clinician
               for c in d.changes)


def test_a_withheld_programme_is_not_adjusted() -> None:
    p = build_programme(["lumbar_spinal_stenosis"], withheld="Exercise waits.")
    d = adjust_programme(p, sessions(3, tolerance="easy"))
    assert (d.action, d.programme) == ("hold", p)


def test_adjusting_accepts_the_plan_json_of_the_programme() -> None:
    p = lss()
    assert adjust_programme(p.to_json(), sessions(3, tolerance="easy")) == \
        adjust_programme(p, sessions(3, tolerance="easy"))


def test_every_decision_names_its_rules_and_sources() -> None:
    for logs in (sessions(3, tolerance="easy"), sessions(1), [{"day": 0, "symptoms": ["fever"]}]):
        d = adjust_programme(lss(), logs)
        assert d.reasons and d.citations
        known = {r.id for _, r in RULES.all_rules() if hasattr(r, "id")}
        assert all(r.rule in known or r.rule.startswith(f"{ADJUST.stop.id}.")
                   for r in d.reasons)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

plain_logs = st.lists(
    st.fixed_dictionaries(
        {"day": st.integers(0, 30)},
        optional={
            "pain_nrs": st.integers(0, 10),
            "tolerance": st.sampled_from(["easy", "manageable", "hard", "could_not_finish"]),
            "settled_within_minutes": st.integers(0, 120),
            "fall": st.booleans(),
        },
    ),
    max_size=10,
)
programmes = st.sampled_from([
    lss(), lss(pain=None), lss(pain=2, contraindications=("falls_risk",)),
    build_programme(["nonspecific_low_back_pain"], pain={"back": 4}),
    build_programme(["degenerative_cervical_myelopathy"]),
    build_programme(["cervical_radiculopathy"], pain={"arm": 6}),
])


@SETTINGS
@given(programmes, plain_logs, st.data())
def test_a_red_flag_symptom_in_any_log_always_stops_the_programme(
    p: Programme, logs: list[dict[str, Any]], data: st.DataObject
) -> None:
    symptom = data.draw(st.sampled_from(STOP_SYMPTOMS))
    at = data.draw(st.integers(0, len(logs)))
    flagged = [*logs[:at], {"day": data.draw(st.integers(0, 30)), "symptoms": [symptom]},
               *logs[at:]]
    d = adjust_programme(p, flagged)
    assert d.action == "stop"
    assert d.seek_care is not None
    assert d.programme.status == "stopped"
    label = next(s.label for s in RULES.programme.stop_symptoms if s.id == symptom)
    assert label in d.seek_care.symptoms
    assert URGENCY_RANK[d.seek_care.urgency] >= URGENCY_RANK["same_day"]


@SETTINGS
@given(programmes, plain_logs)
def test_without_red_flag_symptoms_an_active_programme_is_never_stopped(
    p: Programme, logs: list[dict[str, Any]]
) -> None:
    d = adjust_programme(p, logs)
    assert d.action != "stop"
    assert d.seek_care is None


def _level(p: Programme, library: ExerciseLibrary) -> dict[tuple[str, ...], tuple[int, int]]:
    return {library.chain(e.exercise): (library.chain(e.exercise).index(e.exercise), e.dose_step)
            for e in p.exercises}


@SETTINGS
@given(programmes, plain_logs)
def test_stepping_back_never_makes_an_exercise_harder(
    p: Programme, logs: list[dict[str, Any]]
) -> None:
    from spinecare.plan.knowledge import load_exercises

    library = load_exercises()
    d = adjust_programme(p, logs)
    before, after = _level(p, library), _level(d.programme, library)
    assert before.keys() == after.keys()
    if d.action == "step_back":
        assert all(after[c] <= before[c] for c in before)
    elif d.action == "hold":
        assert after == before
    elif d.action == "progress":
        assert all(after[c] >= before[c] for c in before)


@SETTINGS
@given(programmes, plain_logs)
def test_progress_needs_enough_tolerated_sessions_without_more_pain(
    p: Programme, logs: list[dict[str, Any]]
) -> None:
    d = adjust_programme(p, logs)
    if d.action != "progress":
        return
    last = max(log["day"] for log in logs)
    window = [log for log in logs if log["day"] > last - ADJUST.progress.window_days]
    assert len(window) >= ADJUST.progress.min_sessions
    assert all(log.get("tolerance") in ADJUST.progress.tolerance for log in window)
    assert not any(log.get("fall") for log in window)
    baseline = p.pain.value if p.pain.value is not None else next(
        log["pain_nrs"] for log in sorted(logs, key=lambda x: x["day"]) if "pain_nrs" in log)
    assert all(log["pain_nrs"] - baseline <= ADJUST.progress.pain_rise_at_most for log in window)


def test_the_adjust_rules_are_consistent_with_each_other(plan_rules: PlanRules) -> None:
    a = plan_rules.programme.adjust
    assert a.progress.pain_rise_at_most <= a.pain_rise.above
    assert not set(a.progress.tolerance) & (set(a.too_hard.tolerance) | set(a.hard.tolerance))


@pytest.fixture(scope="module")
def plan_rules() -> PlanRules:
    return RULES


def test_log_objects_and_dicts_are_interchangeable() -> None:
    as_dicts = sessions(3, tolerance="easy")
    as_objects = [ProgrammeLog(day=x["day"], pain_nrs=x["pain_nrs"], tolerance=x["tolerance"])
                  for x in as_dicts]
    assert adjust_programme(lss(), as_dicts) == adjust_programme(lss(), as_objects)
