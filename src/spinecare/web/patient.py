"""The patient's own pages: their care, the intake one question at a time (with its emergency
stop), follow-up questionnaires and the home-exercise log. A patient sees only their own
records; every read and write is audited by the use case doing it."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.instruments.answers import read_plain
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.forms import Form
from spinecare.instruments.intake import intake_form
from spinecare.instruments.registry import Instrument, instruments
from spinecare.instruments.texts import patient_form, required_items
from spinecare.plan.rules import load_plan_rules
from spinecare.service import (
    alerts,
    education,
    exercise_logs,
    instrument_texts,
    patients,
    questionnaires,
    reviews,
)
from spinecare.service.errors import Invalid
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Alert, Patient
from spinecare.web import intake as steps
from spinecare.web.charts import pain_chart, short_date
from spinecare.web.forms import ascii_int
from spinecare.web.i18n import N_, gettext_of, knowledge_text, language_of
from spinecare.web.pages import (
    WebError,
    WebRedirect,
    check_csrf,
    db_of,
    from_service,
    now_utc,
    patient,
    render,
    settings_of,
)
from spinecare.web.views import age, form_dict, visit_view

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
PatientUser = Annotated[Principal, Depends(patient)]


def _patient_records(db: Database, who: Principal, action: str) -> dict[str, Any]:
    found = patients.own_records(db, who, action)
    return {"patient": found.patient, "visits": [visit_view(v) for v in found.visits],
            "responses": found.responses,
            "logs": [(row.created_at, orjson.loads(row.log_json))
                     for row in found.exercise_logs]}


def _due(data: dict[str, Any],
         offered: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The follow-up questionnaires due now, and those coming up, of the instruments a patient
    may answer here (a licensed one only once the clinic has loaded its wording)."""
    if not data["visits"]:
        return [], []
    latest = data["visits"][-1]
    due, later = reviews.due(latest["created_at"], latest["plan"], data["responses"], now_utc())
    return [d for d in due if d["id"] in offered], [d for d in later if d["id"] in offered]


def _calls(request: Request) -> dict[str, Any]:
    """The clinic's and the local emergency number, as tap-to-call links."""
    clinic = settings_of(request).clinic
    return {"clinic": clinic, "emergency_tel": clinic.tel(clinic.emergency_number),
            "clinic_tel": clinic.tel(clinic.phone) if clinic.phone else None}


def _stop_symptoms(request: Request) -> dict[str, dict[str, str]]:
    """The programme's stop symptoms by id, in the plan knowledge's own patient wording (or
    its translation, keyed by the same id, naming the clinic's emergency number)."""
    language, number = language_of(request), settings_of(request).clinic.emergency_number
    return {s.id: {"id": s.id,
                   "label": str(knowledge_text(language, "stop_symptom", s.id, "label",
                                               s.label)),
                   "message": str(knowledge_text(language, "stop_symptom", s.id, "message",
                                                 s.message)).replace("{emergency_number}",
                                                                     number)}
            for s in load_plan_rules().programme.stop_symptoms}


def _advice_view(alert: Alert, request: Request) -> dict[str, Any]:
    """An open alert as the patient reads it: the stop symptoms in the plan knowledge's own
    patient wording; an intake or questionnaire emergency as the emergency page says it."""
    known = _stop_symptoms(request)
    symptoms = [known[f] for f in alerts.flags_of(alert) if f in known] \
        if alert.source == "exercise_log" else []
    return {"stop": alert.source == "exercise_log", "level": alert.level,
            "created_at": alert.created_at, "symptoms": symptoms}


@router.get("/my")
async def my_home(request: Request, who: PatientUser) -> Response:
    db = db_of(request)
    data = await run_in_threadpool(_patient_records, db, who, "patient.read")
    advice = [_advice_view(a, request)
              for a in await run_in_threadpool(alerts.open_advice, db, who)]
    reading = await run_in_threadpool(education.own, db, who, language_of(request))
    due, later = _due(data, await run_in_threadpool(instrument_texts.offered, db))
    intake_done = any(r.instrument == "intake" for r in data["responses"])
    programme = data["visits"][-1]["plan"].get("exercise_programme") if data["visits"] else None
    _ = gettext_of(request)
    return render(request, "my_home.html", title=_("Your care"), patient_page=True,
                  patient=data["patient"], due=due, later=later, intake_done=intake_done,
                  programme=programme, urgent=steps.urgent_notice(language_of(request)),
                  advice=advice, exercises_paused=any(a["stop"] for a in advice),
                  reading=reading, **_calls(request))


def _intake_step(request: Request, state: steps.IntakeState, error: str | None = None,
                 status_code: int = 200) -> Response:
    item = steps.next_question(state)
    if item is None:
        raise RuntimeError("no question left")  # callers finish the intake first
    done, shown = steps.progress(state)
    language, _ = language_of(request), gettext_of(request)
    return render(request, "intake_step.html", status_code=status_code,
                  title=_("Your symptoms: one question at a time"), patient_page=True,
                  item=item, question_text=steps.question_text(item, language),
                  section=steps.section_text(steps.section_of(item), item, language),
                  state=state, options=steps.options_of(item, language, _("Yes"), _("No")),
                  units=steps.units_of(item, language), error=error, done=done, shown=shown,
                  urgent=steps.urgent_notice(language))


@router.get("/my/intake")
async def intake_start(request: Request, who: PatientUser) -> Response:
    await run_in_threadpool(_patient_records, db_of(request), who, "intake.start")
    state = steps.IntakeState()
    language, _ = language_of(request), gettext_of(request)
    return render(request, "intake_start.html", title=_("Your symptoms"), patient_page=True,
                  urgent=steps.urgent_notice(language),
                  introduction=steps.introduction(language), state=state)


@router.post("/my/intake")
async def intake_step(request: Request, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    state = steps.read_state(form, form.getlist)
    action = str(form.get("action") or "answer")
    link = str(form.get("question") or "")
    item = intake_form().questions().get(link)
    _ = gettext_of(request)
    if action == "back" and state.order:
        last = state.order.pop()
        state.answers.pop(last, None)
        state.skipped.discard(last)
    elif action == "skip" and item is not None:
        state.skipped.add(link)
        state.order.append(link)
    elif action == "answer" and item is not None:
        raw = form.get("answer")
        if not isinstance(raw, str) or not raw.strip():
            return _intake_step(request, state, _("Please choose an answer, or press "
                                                  "\u201cSkip this question\u201d."), 422)
        value, problem = steps.decode(item, raw, str(form.get("unit") or "") or None, _)
        if problem:
            return _intake_step(request, state, problem, 422)
        state.answers[link] = value
        state.skipped.discard(link)
        state.order = [k for k in state.order if k != link] + [link]
    db = db_of(request)

    def evaluate() -> tuple[Patient, dict[str, Any]]:
        assert who.patient_id is not None
        p = patients.find(db, who, who.patient_id)
        return p, steps.assess_answers(steps.visible_answers(state), age(p))

    p, assessment = await run_in_threadpool(evaluate)
    level = assessment["triage"]["level"]
    what_to_do: list[str] = []
    if level == "emergency":
        what_to_do = steps.emergency_steps(state, assessment, age(p), language_of(request),
                                           settings_of(request).clinic.emergency_number)
    finished = steps.next_question(state) is None
    if level == "emergency" or finished:
        await run_in_threadpool(questionnaires.save_intake, db, who,
                                steps.visible_answers(state), assessment, finished)
        wake(request)
    if level == "emergency":
        return render(request, "emergency.html", title=_("Go to the emergency department now"),
                      patient_page=True, reasons=assessment["triage"]["reasons"],
                      steps=what_to_do, **_calls(request))
    if finished:
        return render(request, "intake_done.html", title=_("Thank you"), patient_page=True,
                      urgent=steps.urgent_notice(language_of(request)), level=level)
    return _intake_step(request, state)


def _instrument_form(request: Request, instrument_id: str) -> tuple[Instrument, Form, str]:
    """The instrument, the form a patient answers (in the clinic's licensed wording where the
    instrument needs it) and the language of its wording; 404 for an instrument a patient may
    not answer here."""
    db = db_of(request)
    inst = instruments().get(instrument_id)
    if inst is None or instrument_id not in instrument_texts.offered(db):
        raise WebError(404, N_("Questionnaire not found"), N_("There is no such questionnaire."))
    text = instrument_texts.text_for(db, inst.id, language_of(request)) \
        if inst.patient_wording == "clinic_text" else None
    return inst, patient_form(inst, text), text.language if text else "en"


def _questionnaire(request: Request, inst: Instrument, form: Form, wording: str,
                   values: dict[str, str], errors: list[str], status_code: int = 200) -> Response:
    return render(request, "questionnaire.html", status_code=status_code, title=form.title,
                  patient_page=True, inst=inst, form=form, values=values, errors=errors,
                  item_lang=wording if wording != language_of(request) else "",
                  urgent=steps.urgent_notice(language_of(request)))


@router.get("/my/questionnaires/{instrument_id}")
async def questionnaire_page(request: Request, instrument_id: str, who: PatientUser) -> Response:
    inst, f, wording = await run_in_threadpool(_instrument_form, request, instrument_id)
    await run_in_threadpool(_patient_records, db_of(request), who, "questionnaire.start")
    return _questionnaire(request, inst, f, wording, {}, [])


def _unanswered(inst: Instrument, form: Form, answers: dict[str, Any],
                _: Any) -> list[str]:
    """A plain message for each required question shown but not answered, naming it; one
    message for a questionnaire sent blank."""
    if not answers:
        return [_("Please answer the questions before sending: nothing was answered.")]
    shown, required = form.enabled(answers), required_items(inst)
    out = []
    for link, item in form.questions().items():
        if link in shown and link in required and link not in answers:
            out.append(_("Please answer \u201c{question}\u201d.").format(
                question=f"{item.prefix} {item.text}" if item.prefix else item.text))
    return out


@router.post("/my/questionnaires/{instrument_id}")
async def questionnaire_submit(request: Request, instrument_id: str,
                               who: PatientUser) -> Response:
    inst, f, wording = await run_in_threadpool(_instrument_form, request, instrument_id)
    form = await request.form()
    check_csrf(request, form)
    values = form_dict(form)
    answers: dict[str, Any] = {}
    for link, item in f.questions().items():
        raw = values.get(link, "").strip()
        if not raw:
            continue
        if item.type == "boolean":
            answers[link] = raw == "yes"
        elif item.type == "choice":
            option = next((o for o in item.options if str(o.value) == raw), None)
            answers[link] = option.value if option else raw
        else:
            number = ascii_int(raw)
            # Not a whole number in ASCII digits: the answer check names the question.
            answers[link] = raw if number is None else number
    assert who.patient_id is not None
    problems = _unanswered(inst, f, answers, gettext_of(request))
    if not problems:
        try:
            response = read_plain({"questionnaire": instrument_id, "answers": answers})
        except AnswerError as exc:
            problems = [p.message for p in exc.problems]
        else:
            try:
                await run_in_threadpool(questionnaires.submit, db_of(request), who,
                                        who.patient_id, instrument_id, response.answers)
            except Invalid as exc:
                problems = [p.message for p in exc.problems]
            else:
                wake(request)
    if problems:
        return _questionnaire(request, inst, f, wording, values, problems, 422)
    return render(request, "questionnaire_done.html", title=gettext_of(request)("Thank you"),
                  patient_page=True, inst=inst, urgent=steps.urgent_notice(language_of(request)))


def _log_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for created_at, log in data["logs"]:
        out.append({"label": short_date(created_at.isoformat()), "done": log.get("done", True),
                    "pain_before": log.get("pain_before"), "pain_after": log.get("pain_nrs")})
    return out


def _exercise_page(request: Request, data: dict[str, Any], status_code: int = 200,
                   **extra: Any) -> Response:
    programme = data["visits"][-1]["plan"].get("exercise_programme") if data["visits"] else None
    entries = _log_entries(data)
    language = language_of(request)
    return render(request, "exercises.html", status_code=status_code,
                  title=gettext_of(request)("Your home exercises"), patient_page=True,
                  programme=programme, entries=entries,
                  chart=pain_chart(entries) if entries else None,
                  stop_symptoms=list(_stop_symptoms(request).values()),
                  urgent=steps.urgent_notice(language), **extra)


@router.get("/my/exercises")
async def exercises(request: Request, who: PatientUser) -> Response:
    db = db_of(request)
    data = await run_in_threadpool(_patient_records, db, who, "exercise_log.list")
    # While an emergency or stop alert is open, this page too leads with its advice and the
    # exercises stay paused (the home page hides the link, but the address still works).
    advice = [_advice_view(a, request)
              for a in await run_in_threadpool(alerts.open_advice, db, who)]
    reading = await run_in_threadpool(education.own, db, who, language_of(request))
    return _exercise_page(request, data, advice=advice, reading=reading,
                          exercises_paused=any(a["stop"] for a in advice), **_calls(request))


def _pain(raw: Any) -> tuple[int | None, bool]:
    """A pain score from 0 to 10 (``None`` if not given), and whether the field was valid."""
    if not isinstance(raw, str) or not raw.strip():
        return None, True
    value = ascii_int(raw)
    if value is None or not 0 <= value <= 10:
        return None, False
    return value, True


@router.post("/my/exercises")
async def log_exercise(request: Request, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    db = db_of(request)
    data = await run_in_threadpool(_patient_records, db, who, "exercise_log.list")
    done = form.get("done")
    _ = gettext_of(request)
    if done not in ("yes", "no"):
        return _exercise_page(request, data, 422,
                              error=_("Please say whether you did your exercises today."))
    pain_after, after_ok = _pain(form.get("pain_after"))
    pain_before, before_ok = _pain(form.get("pain_before"))
    if not (after_ok and before_ok):
        return _exercise_page(request, data, 422, error=_(
            "Please give your pain before the exercises as a whole number from 0 to 10, or "
            "leave it empty.") if not before_ok else _(
            "Please give your pain after the exercises as a whole number from 0 to 10, or "
            "leave it empty."))
    start = data["visits"][-1]["created_at"] if data["visits"] else now_utc()
    known = _stop_symptoms(request)
    symptoms = [s for s in form.getlist("symptoms") if isinstance(s, str) and s in known]
    entry = {"day": max(0, min((now_utc() - start).days, 3650)),
             "pain_nrs": pain_after,
             "pain_before": pain_before,
             "done": done == "yes", "symptoms": symptoms}
    assert who.patient_id is not None
    try:
        await run_in_threadpool(exercise_logs.add, db, who, who.patient_id, entry)
    except Invalid:
        return _exercise_page(request, data, 422, error=_("Please check your answers."))
    if symptoms:
        wake(request)
        return render(request, "stop.html", title=_("Stop the exercises"), patient_page=True,
                      symptoms=[known[s] for s in symptoms], **_calls(request))
    raise WebRedirect("/my/exercises?saved=1")
