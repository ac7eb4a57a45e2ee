"""The home exercise programme: built from the exercise library, moved on by the patient's logs.

:func:`build_programme` picks, for each possible condition, the exercises its template in
``plan_rules.toml`` offers, leaves out those the case rules out (``avoid_with``) and marks as
supervised those that need a clinician (``supervise_with``). :func:`adjust_programme` reads the
patient's session logs and decides, by the thresholds in ``plan_rules.toml``:

- **stop**, with a seek-care message, when any log reports a red-flag symptom;
- **step back** when pain rose by more than the threshold over the baseline, symptoms were slow
  to settle, a session could not be finished, or there was a fall;
- **hold** when a session felt hard, pain rose a little, ratings are missing or too few sessions
  were logged;
- **progress** otherwise: one dose step up, or the next exercise of the chain once the dose
  steps are used up. Exercises that need supervision move only with the clinician.

Both are pure: the same inputs always give the same programme or decision, and nothing is
changed in place. Pass the logs since the programme last changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal, cast

from pydantic import Field, ValidationError

from spinecare.errors import Problem, SpinecareError
from spinecare.kb import CitationIds, Id, Ids, ReadOnlyMap, Text, freeze
from spinecare.kb import StrictModel as _Frozen
from spinecare.plan.knowledge import (
    CONDITIONS,
    Condition,
    Dosage,
    Exercise,
    ExerciseLibrary,
    load_exercises,
)
from spinecare.plan.rules import (
    URGENCY_RANK,
    AdjustRules,
    PlanRules,
    ProgrammeTemplate,
    load_plan_rules,
)
from spinecare.vocabulary import PainSite, Tolerance, Urgency
from spinecare.vocabulary import ProgrammeStatus as Status

__all__ = [
    "Change",
    "Decision",
    "LeftOut",
    "LogError",
    "PainBaseline",
    "Programme",
    "ProgrammeExercise",
    "ProgrammeLog",
    "Reason",
    "SeekCare",
    "adjust_programme",
    "build_programme",
    "parse_logs",
]

Action = Literal["progress", "hold", "step_back", "stop"]


class LogError(SpinecareError, ValueError):
    """Exercise logs that do not validate; ``problems`` name each log by index."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


class PainBaseline(_Frozen):
    """The pain the programme tracks, and its 0-10 rating when the programme was built."""

    site: PainSite | None = None
    value: Annotated[int, Field(ge=0, le=10)] | None = None


class ProgrammeExercise(_Frozen):
    exercise: Id
    name: Text
    category: Text
    #: Dose steps away from the library's dose: positive is harder, negative easier.
    dose_step: int = 0
    dosage: Dosage
    supervised: bool
    supervise_because: Ids = ()
    instructions: tuple[Text, ...]
    stop_if: tuple[Text, ...]
    citations: CitationIds


class LeftOut(_Frozen):
    exercise: Id
    name: Text
    because: Ids


class Programme(_Frozen):
    """A home exercise programme. Round-trips through JSON (:meth:`to_json`, :meth:`from_json`)."""

    status: Status
    reason: Text | None = None
    conditions: tuple[Condition, ...]
    contraindications: Ids = ()
    pain: PainBaseline = PainBaseline()
    exercises: tuple[ProgrammeExercise, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    rules: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()
    versions: ReadOnlyMap[str, str] = Field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Programme:
        return cls.model_validate(freeze(dict(data)))


class ProgrammeLog(_Frozen):
    """One exercise session as the patient logged it. Unknown ratings are ``None``."""

    day: Annotated[int, Field(ge=0, le=3650)]
    pain_nrs: Annotated[int, Field(ge=0, le=10)] | None = None
    tolerance: Tolerance | None = None
    settled_within_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    fall: bool = False
    #: Red-flag symptom ids (``programme.stop_symptoms`` in plan_rules.toml).
    symptoms: Ids = ()
    #: Whether the exercises were done that day; a day logged as not done still reports its
    #: symptoms, but does not count as a session towards progression.
    done: bool = True
    pain_before: Annotated[int, Field(ge=0, le=10)] | None = None


class Reason(_Frozen):
    rule: str
    text: Text


class SeekCare(_Frozen):
    urgency: Urgency
    message: Text
    symptoms: tuple[Text, ...]
    citations: CitationIds


class Change(_Frozen):
    exercise: Id
    to_exercise: Id
    dosage_before: Dosage
    dosage_after: Dosage
    needs_clinician: bool
    note: Text


class Decision(_Frozen):
    action: Action
    reasons: tuple[Reason, ...]
    message: Text
    seek_care: SeekCare | None = None
    changes: tuple[Change, ...] = ()
    programme: Programme
    citations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def build_programme(
    conditions: Sequence[str],
    contraindications: Iterable[str] = (),
    *,
    pain: Mapping[str, int | None] | None = None,
    withheld: str | None = None,
    rules: PlanRules | None = None,
    library: ExerciseLibrary | None = None,
) -> Programme:
    """The home programme for ``conditions`` (most likely first) in a case with these
    contraindication ids.

    ``pain`` holds the case's 0-10 pain ratings by site (``{"leg": 7}``); the first template with
    a rated site sets the baseline. ``withheld`` gives the reason when no programme may be given
    (the plan decides that from its withhold rules).
    """
    rules = load_plan_rules() if rules is None else rules
    library = load_exercises() if library is None else library
    versions = {"exercises": library.version, "plan_rules": rules.version}
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown condition codes: {unknown}")
    conditions = cast("tuple[Condition, ...]", tuple(dict.fromkeys(conditions)))
    ci = tuple(dict.fromkeys(contraindications))
    if withheld is not None:
        return Programme(status="withheld", reason=withheld, conditions=tuple(conditions),
                         contraindications=ci, versions=versions)
    active = set(conditions) | set(ci)
    templates: dict[str, ProgrammeTemplate] = {t.condition: t for t in rules.programme.templates}
    chosen: list[ProgrammeExercise] = []
    left_out: dict[str, LeftOut] = {}
    used_chains: set[tuple[str, ...]] = set()
    fired: list[str] = []
    cites: dict[str, None] = {}
    sites: list[PainSite] = []
    for condition in conditions:
        template = templates.get(condition)
        if template is None:
            continue
        fired.append(template.id)
        cites.update(dict.fromkeys(template.citations))
        if template.pain_site is not None:
            sites.append(template.pain_site)
        for ref in template.exercises:
            chain = library.chain(ref)
            if chain in used_chains:
                continue
            exercise = library.exercises[ref]
            blocked = tuple(c for c in exercise.avoid_with if c in active)
            if blocked:
                left_out.setdefault(ref, LeftOut(exercise=ref, name=exercise.name,
                                                 because=blocked))
                continue
            used_chains.add(chain)
            left_out.pop(ref, None)
            chosen.append(_entry(exercise, 0, active))
            cites.update(dict.fromkeys(exercise.citations))
    ratings = pain or {}
    site = next((x for x in sites if ratings.get(x) is not None), sites[0] if sites else None)
    baseline = PainBaseline(site=site, value=ratings.get(site) if site is not None else None)
    if not chosen:
        reason = ("No exercise in the home library suits these possible conditions in this "
                  "case; your clinician may advise on exercise.")
        return Programme(status="withheld", reason=reason, conditions=tuple(conditions),
                         contraindications=ci, pain=baseline, left_out=tuple(left_out.values()),
                         rules=tuple(fired), citations=tuple(cites), versions=versions)
    status: Status = "supervised_only" if all(e.supervised for e in chosen) else "active"
    return Programme(status=status, conditions=tuple(conditions), contraindications=ci,
                     pain=baseline, exercises=tuple(chosen), left_out=tuple(left_out.values()),
                     rules=tuple(fired), citations=tuple(cites), versions=versions)


def _entry(exercise: Exercise, step: int, active: set[str]) -> ProgrammeExercise:
    because = tuple(c for c in exercise.supervise_with if c in active)
    return ProgrammeExercise(
        exercise=exercise.id, name=exercise.name, category=exercise.category, dose_step=step,
        dosage=exercise.dosage, supervised=bool(because), supervise_because=because,
        instructions=exercise.instructions, stop_if=exercise.stop_if,
        citations=exercise.citations,
    )


# ---------------------------------------------------------------------------------------------
# Adjusting
# ---------------------------------------------------------------------------------------------


def parse_logs(logs: Iterable[ProgrammeLog | Mapping[str, Any]],
               rules: PlanRules | None = None) -> tuple[ProgrammeLog, ...]:
    """Validate session logs (objects or JSON-like dicts); unknown symptom ids are errors."""
    rules = load_plan_rules() if rules is None else rules
    known = {s.id for s in rules.programme.stop_symptoms}
    out: list[ProgrammeLog] = []
    problems: list[Problem] = []
    for i, raw in enumerate(logs):
        try:
            log = raw if isinstance(raw, ProgrammeLog) else \
                ProgrammeLog.model_validate(freeze(dict(raw)))
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                where = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in e["loc"])
                problems.append(Problem(f"logs[{i}]{where}", e["msg"]))
            continue
        for j, symptom in enumerate(log.symptoms):
            if symptom not in known:
                problems.append(Problem(f"logs[{i}].symptoms[{j}]",
                                        f"unknown symptom {symptom!r}; known: "
                                        f"{', '.join(sorted(known))}"))
        out.append(log)
    if problems:
        raise LogError(problems)
    return tuple(out)


def adjust_programme(
    programme: Programme | Mapping[str, Any],
    logs: Iterable[ProgrammeLog | Mapping[str, Any]],
    *,
    rules: PlanRules | None = None,
    library: ExerciseLibrary | None = None,
) -> Decision:
    """Progress, hold, step back or stop ``programme`` from the session ``logs`` since it last
    changed. A red-flag symptom in any log always stops it, with a seek-care message."""
    rules = load_plan_rules() if rules is None else rules
    library = load_exercises() if library is None else library
    p = programme if isinstance(programme, Programme) else Programme.from_json(programme)
    entries = sorted(parse_logs(logs, rules), key=lambda log: log.day)
    a = rules.programme.adjust

    stop = _stop(p, entries, rules)
    if stop is not None:
        return stop
    if p.status in ("withheld", "stopped"):
        return _decide("stop" if p.status == "stopped" else "hold", p,
                       [(a.not_active.id, a.not_active.patient_text, a.not_active.citations)])
    if not entries:
        return _decide("hold", p, [(a.too_few.id, a.too_few.patient_text, a.too_few.citations)])

    last = entries[-1].day
    window = [log for log in entries if log.day > last - a.progress.window_days]
    baseline = p.pain.value
    if baseline is None:
        baseline = next((log.pain_nrs for log in entries if log.pain_nrs is not None), None)
    rises = [log.pain_nrs - baseline for log in window
             if log.pain_nrs is not None and baseline is not None]

    back: list[tuple[str, str, tuple[str, ...]]] = []
    if rises and max(rises) > a.pain_rise.above:
        back.append((a.pain_rise.id, a.pain_rise.patient_text, a.pain_rise.citations))
    if any(log.settled_within_minutes is not None
           and log.settled_within_minutes > a.slow_to_settle.minutes_above for log in window):
        back.append((a.slow_to_settle.id, a.slow_to_settle.patient_text,
                     a.slow_to_settle.citations))
    if any(log.tolerance in a.too_hard.tolerance for log in window):
        back.append((a.too_hard.id, a.too_hard.patient_text, a.too_hard.citations))
    if any(log.fall for log in window):
        back.append((a.fall.id, a.fall.patient_text, a.fall.citations))
    if back:
        return _step_back(p, back, a, library)

    hold: list[tuple[str, str, tuple[str, ...]]] = []
    if any(log.tolerance in a.hard.tolerance for log in window):
        hold.append((a.hard.id, a.hard.patient_text, a.hard.citations))
    if rises and max(rises) > a.progress.pain_rise_at_most:
        hold.append((a.hold_pain_rise.id, a.hold_pain_rise.patient_text,
                     a.hold_pain_rise.citations))
    if baseline is None or any(log.pain_nrs is None or log.tolerance is None for log in window):
        hold.append((a.unknown.id, a.unknown.patient_text, a.unknown.citations))
    if sum(1 for log in window if log.done) < a.progress.min_sessions:
        hold.append((a.too_few.id, a.too_few.patient_text, a.too_few.citations))
    if hold:
        return _decide("hold", p, hold)
    return _progress(p, a, library)


def _stop(p: Programme, logs: Sequence[ProgrammeLog], rules: PlanRules) -> Decision | None:
    by_id = {s.id: s for s in rules.programme.stop_symptoms}
    reported = list(dict.fromkeys(sym for log in logs for sym in log.symptoms))
    if not reported:
        return None
    symptoms = [by_id[s] for s in reported]
    worst = max(symptoms, key=lambda s: URGENCY_RANK[s.urgency])
    cites = tuple(dict.fromkeys(c for s in symptoms for c in s.citations))
    a = rules.programme.adjust
    seek = SeekCare(urgency=worst.urgency, message=worst.message,
                    symptoms=tuple(s.label for s in symptoms), citations=cites)
    stopped = p.model_copy(update={"status": "stopped",
                                   "reason": f"Stopped for: {'; '.join(seek.symptoms)}."})
    reasons = [(f"{a.stop.id}.{s.id}", s.label, s.citations) for s in symptoms]
    return _decide("stop", stopped, [(a.stop.id, a.stop.patient_text, a.stop.citations),
                                     *reasons], seek_care=seek)


def _decide(action: Action, p: Programme, reasons: Sequence[tuple[str, str, tuple[str, ...]]],
            *, seek_care: SeekCare | None = None,
            changes: Sequence[Change] = ()) -> Decision:
    cites = tuple(dict.fromkeys(c for _, _, cs in reasons for c in cs))
    message = reasons[0][1] if seek_care is None else f"{reasons[0][1]} {seek_care.message}"
    return Decision(action=action, reasons=tuple(Reason(rule=r, text=t) for r, t, _ in reasons),
                    message=message, seek_care=seek_care, changes=tuple(changes), programme=p,
                    citations=cites)


def _dose(base: Dosage, step: int, a: AdjustRules) -> Dosage:
    if base.reps is not None:
        reps = min(50, max(1, base.reps + step * a.dose.reps_step))
        return base.model_copy(update={"reps": reps})
    assert base.minutes is not None
    return base.model_copy(
        update={"minutes": min(60, max(1, base.minutes + step * a.dose.minutes_step))})


def _active(p: Programme) -> set[str]:
    return set(p.conditions) | set(p.contraindications)


def _progress(p: Programme, a: AdjustRules, library: ExerciseLibrary) -> Decision:
    active = _active(p)
    changes: list[Change] = []
    moved: list[ProgrammeExercise] = []
    for entry in p.exercises:
        exercise = library.exercises[entry.exercise]
        nxt: ProgrammeExercise | None = None
        if entry.dose_step < a.dose.max_steps_up:
            nxt = entry.model_copy(update={
                "dose_step": entry.dose_step + 1,
                "dosage": _dose(exercise.dosage, entry.dose_step + 1, a)})
        elif exercise.progression is not None:
            harder = library.exercises[exercise.progression]
            if not set(harder.avoid_with) & active:
                nxt = _entry(harder, 0, active)
        if nxt is None:
            moved.append(entry)
            continue
        # A supervised exercise, or one that would become supervised, moves with the clinician.
        needs_clinician = entry.supervised or nxt.supervised
        note = ("progress with your physiotherapist" if needs_clinician
                else ("next exercise in the chain" if nxt.exercise != entry.exercise
                      else "one dose step up"))
        changes.append(Change(exercise=entry.exercise, to_exercise=nxt.exercise,
                              dosage_before=entry.dosage, dosage_after=nxt.dosage,
                              needs_clinician=needs_clinician, note=note))
        moved.append(entry if needs_clinician else nxt)
    if not changes:
        return _decide("hold", p, [(a.at_top.id, a.at_top.patient_text, a.at_top.citations)])
    return _decide("progress", p.model_copy(update={"exercises": tuple(moved)}),
                   [(a.progress.id, a.progress.patient_text, a.progress.citations),
                    (a.dose.id, a.dose.patient_text, a.dose.citations)], changes=changes)


def _step_back(p: Programme, reasons: list[tuple[str, str, tuple[str, ...]]], a: AdjustRules,
               library: ExerciseLibrary) -> Decision:
    active = _active(p)
    changes: list[Change] = []
    moved: list[ProgrammeExercise] = []
    for entry in p.exercises:
        exercise = library.exercises[entry.exercise]
        nxt: ProgrammeExercise | None = None
        if entry.dose_step > 0:
            nxt = entry.model_copy(update={
                "dose_step": entry.dose_step - 1,
                "dosage": _dose(exercise.dosage, entry.dose_step - 1, a)})
        elif exercise.regression is not None and \
                not set(library.exercises[exercise.regression].avoid_with) & active:
            nxt = _entry(library.exercises[exercise.regression], 0, active)
        elif entry.dose_step > -a.dose.max_steps_down:
            nxt = entry.model_copy(update={
                "dose_step": entry.dose_step - 1,
                "dosage": _dose(exercise.dosage, entry.dose_step - 1, a)})
        if nxt is None or (nxt.dosage == entry.dosage and nxt.exercise == entry.exercise):
            moved.append(entry)
            continue
        note = "easier exercise in the chain" if nxt.exercise != entry.exercise \
            else "one dose step down"
        # Making an exercise easier is safe without the clinician.
        changes.append(Change(exercise=entry.exercise, to_exercise=nxt.exercise,
                              dosage_before=entry.dosage, dosage_after=nxt.dosage,
                              needs_clinician=False, note=note))
        moved.append(nxt)
    return _decide("step_back", p.model_copy(update={"exercises": tuple(moved)}),
                   [*reasons, (a.dose.id, a.dose.patient_text, a.dose.citations)],
                   changes=changes)
