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
from spinecare.web import once
from spinecare.web.charts import pain_chart, short_date
from spinecare.web.forms import ascii_int
from spinecare.web.i18n import N_, gettext_of, knowledge_text, language_of
from spinecare.web.pages import (
    WebError,
    check_csrf,
    db_of,
    from_service,
    now_utc,
    patient,
    redirect,
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
    # Only a finished intake is done: one stopped by an emergency is offered again (its
    # answers are kept for the care team).
    intake_done = any(r.instrument == "intake" and orjson.loads(r.score_json).get("complete")
                      for r in data["responses"])
    programme = data["visits"][-1]["plan"].get("exercise_programme") if data["visits"] else None
    _ = gettext_of(request)
    return render(request, "my_home.html", title=_("Your care"), patient_page=True,
                  patient=data["patient"], due=due, later=later, intake_done=intake_done,
                  programme=programme, urgent=steps.urgent_notice(language_of(request)),
                  advice=advice, exercises_paused=any(a["stop"] for a in advice),
                  reading=reading, **_calls(request))


def _intake_step(request: Request, state: steps.IntakeState, token: str,
                 error: str | None = None, status_code: int = 200,
                 chosen: str = "") -> Response:
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
                  urgent=steps.urgent_notice(language), form_token=token, chosen=chosen)


_INTAKE = "intake"
_STEP = "/my/intake/step"


def _resumable(db: Database, who: Principal) -> steps.IntakeState:
    """The patient's open intake, at a question: a draft with none left (the intake's
    knowledge changed since it was saved) reopens its last answer, so it can be finished."""
    state = steps.from_draft(questionnaires.intake_draft(db, who))
    if steps.next_question(state) is None and state.order:
        last = state.order.pop()
        state.answers.pop(last, None)
        state.skipped.discard(last)
    return state


@router.get("/my/intake")
async def intake_start(request: Request, who: PatientUser) -> Response:
    db = db_of(request)
    await run_in_threadpool(_patient_records, db, who, "intake.start")
    state = steps.from_draft(await run_in_threadpool(questionnaires.intake_draft, db, who))
    language, _ = language_of(request), gettext_of(request)
    begun = bool(state.order)
    return render(request, "intake_start.html", title=_("Your symptoms"), patient_page=True,
                  urgent=steps.urgent_notice(language),
                  introduction=steps.introduction(language), state=state, begun=begun,
                  done=steps.progress(state)[0],
                  form_token=await once.issue(request, "intake.restart") if begun else "")


@router.post("/my/intake/restart")
async def intake_restart(request: Request, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    ticket = await once.posted(request, form, "intake.restart", lambda _: _STEP)
    if ticket is not None:
        await run_in_threadpool(lambda: questionnaires.restart_intake(db_of(request), who,
                                                                      ticket.claim))
    # A stale restart form changes nothing: the questions go on where they were.
    return redirect(_STEP)


@router.get("/my/intake/step")
async def intake_question(request: Request, who: PatientUser) -> Response:
    token = await once.page(request, _INTAKE, _STEP)
    state = await run_in_threadpool(_resumable, db_of(request), who)
    if steps.next_question(state) is None:
        return redirect("/my/intake")
    return _intake_step(request, state, token)


@router.post("/my/intake/step")
async def intake_step(request: Request, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    db = db_of(request)
    state = await run_in_threadpool(_resumable, db, who)
    raw_answer = form.get("answer")
    chosen = raw_answer if isinstance(raw_answer, str) else ""
    ticket = await once.posted(request, form, _INTAKE, lambda where: where)
    _ = gettext_of(request)
    if ticket is None:
        if steps.next_question(state) is None:
            return redirect(_STEP)
        return _intake_step(request, state, await once.issue(request, _INTAKE), _(once.STALE),
                            409, chosen)
    action = str(form.get("action") or "answer")
    link = str(form.get("question") or "")
    item = intake_form().questions().get(link)
    current = steps.next_question(state)
    if current is None:
        return redirect(_STEP)
    if action in ("answer", "skip") and (item is None or link != current.link_id):
        # An answer to a question other than the one the draft is at (a form from another
        # tab or device): show where the intake really is.
        return redirect(_STEP)
    if action == "back" and state.order:
        last = state.order.pop()
        state.answers.pop(last, None)
        state.skipped.discard(last)
    elif action == "skip" and item is not None:
        state.skipped.add(link)
        state.order.append(link)
    elif action == "answer" and item is not None:
        if not chosen.strip():
            return _intake_step(request, state, ticket.token, _(
                "Please choose an answer, or press \u201cSkip this question\u201d."), 422)
        value, problem = steps.decode(item, chosen, str(form.get("unit") or "") or None, _)
        if problem:
            return _intake_step(request, state, ticket.token, problem, 422, chosen)
        state.answers[link] = value
        state.skipped.discard(link)
        state.order = [k for k in state.order if k != link] + [link]

    def evaluate() -> dict[str, Any]:
        assert who.patient_id is not None
        p = patients.find(db, who, who.patient_id)
        return steps.assess_answers(steps.visible_answers(state), age(p))

    assessment = await run_in_threadpool(evaluate)
    level = assessment["triage"]["level"]
    finished = steps.next_question(state) is None
    where = "/my/intake/emergency/" if level == "emergency" else \
        "/my/intake/done/" if finished else _STEP
    stored = await run_in_threadpool(lambda: questionnaires.save_intake_step(
        db, who, state.draft(), assessment, finished=finished,
        answers=steps.visible_answers(state), claim=ticket.claim,
        where=where))
    if stored is not None:
        wake(request)
        return redirect(where + stored)
    return redirect(_STEP)


def _own_intake(db: Database, who: Principal, response_id: str) -> tuple[Patient, Any]:
    data = _patient_records(db, who, "intake.read")
    found = next((r for r in data["responses"]
                  if r.id == response_id and r.instrument == "intake"), None)
    if found is None:
        raise WebError(404, N_("Questionnaire not found"), N_("There is no such questionnaire."))
    return data["patient"], found


@router.get("/my/intake/emergency/{response_id}")
async def intake_emergency(request: Request, response_id: str, who: PatientUser) -> Response:
    p, row = await run_in_threadpool(_own_intake, db_of(request), who, response_id)
    state = steps.IntakeState(answers=orjson.loads(row.answers_json))
    assessment = await run_in_threadpool(steps.assess_answers, state.answers, age(p))
    _ = gettext_of(request)
    what_to_do = steps.emergency_steps(state, assessment, age(p), language_of(request),
                                       settings_of(request).clinic.emergency_number)
    return render(request, "emergency.html", title=_("Go to the emergency department now"),
                  patient_page=True, reasons=assessment["triage"]["reasons"],
                  steps=what_to_do, **_calls(request))


@router.get("/my/intake/done/{response_id}")
async def intake_done(request: Request, response_id: str, who: PatientUser) -> Response:
    _p, row = await run_in_threadpool(_own_intake, db_of(request), who, response_id)
    level = orjson.loads(row.score_json).get("triage")
    return render(request, "intake_done.html", title=gettext_of(request)("Thank you"),
                  patient_page=True, urgent=steps.urgent_notice(language_of(request)),
                  level=level)


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
                   values: dict[str, str], errors: list[str], status_code: int = 200,
                   **extra: Any) -> Response:
    return render(request, "questionnaire.html", status_code=status_code, title=form.title,
                  patient_page=True, inst=inst, form=form, values=values, errors=errors,
                  item_lang=wording if wording != language_of(request) else "",
                  urgent=steps.urgent_notice(language_of(request)), **extra)


@router.get("/my/questionnaires/{instrument_id}")
async def questionnaire_page(request: Request, instrument_id: str, who: PatientUser) -> Response:
    inst, f, wording = await run_in_threadpool(_instrument_form, request, instrument_id)
    token = await once.page(request, f"questionnaire:{instrument_id}", "/my")
    await run_in_threadpool(_patient_records, db_of(request), who, "questionnaire.start")
    return _questionnaire(request, inst, f, wording, {}, [], form_token=token)


@router.get("/my/questionnaires/{instrument_id}/done")
async def questionnaire_done(request: Request, instrument_id: str,
                             who: PatientUser) -> Response:
    inst, _f, _wording = await run_in_threadpool(_instrument_form, request, instrument_id)
    return render(request, "questionnaire_done.html", title=gettext_of(request)("Thank you"),
                  patient_page=True, inst=inst, urgent=steps.urgent_notice(language_of(request)))


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
    purpose = f"questionnaire:{instrument_id}"
    ticket = await once.posted(request, form, purpose,
                               lambda _: f"/my/questionnaires/{instrument_id}/done")
    if ticket is None:
        return _questionnaire(request, inst, f, wording, values, [], 409,
                              stale=gettext_of(request)(once.STALE),
                              form_token=await once.issue(request, purpose))
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
                await run_in_threadpool(lambda: questionnaires.submit(
                    db_of(request), who, who.patient_id or "", instrument_id,
                    response.answers, claim=ticket.claim))
            except Invalid as exc:
                problems = [p.message for p in exc.problems]
            else:
                wake(request)
    if problems:
        return _questionnaire(request, inst, f, wording, values, problems, 422,
                              form_token=ticket.token)
    return redirect(f"/my/questionnaires/{instrument_id}/done")


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


_LOG = "exercise_log"


@router.get("/my/exercises")
async def exercises(request: Request, who: PatientUser) -> Response:
    token = await once.page(request, _LOG, "/my/exercises?saved=1")
    db = db_of(request)
    data = await run_in_threadpool(_patient_records, db, who, "exercise_log.list")
    # While an emergency or stop alert is open, this page too leads with its advice and the
    # exercises stay paused (the home page hides the link, but the address still works).
    advice = [_advice_view(a, request)
              for a in await run_in_threadpool(alerts.open_advice, db, who)]
    reading = await run_in_threadpool(education.own, db, who, language_of(request))
    return _exercise_page(request, data, advice=advice, reading=reading,
                          exercises_paused=any(a["stop"] for a in advice), form_token=token,
                          **_calls(request))


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
    known = _stop_symptoms(request)
    symptoms = [s for s in form.getlist("symptoms") if isinstance(s, str) and s in known]
    ticket = await once.posted(
        request, form, _LOG,
        lambda log: f"/my/exercises/stop/{log}" if symptoms else "/my/exercises?saved=1")
    done = form.get("done")
    _ = gettext_of(request)
    if ticket is None:
        return _exercise_page(request, data, 409, error=_(once.STALE),
                              form_token=await once.issue(request, _LOG))
    if done not in ("yes", "no"):
        return _exercise_page(request, data, 422, form_token=ticket.token,
                              error=_("Please say whether you did your exercises today."))
    pain_after, after_ok = _pain(form.get("pain_after"))
    pain_before, before_ok = _pain(form.get("pain_before"))
    if not (after_ok and before_ok):
        return _exercise_page(request, data, 422, form_token=ticket.token, error=_(
            "Please give your pain before the exercises as a whole number from 0 to 10, or "
            "leave it empty.") if not before_ok else _(
            "Please give your pain after the exercises as a whole number from 0 to 10, or "
            "leave it empty."))
    start = data["visits"][-1]["created_at"] if data["visits"] else now_utc()
    entry = {"day": max(0, min((now_utc() - start).days, 3650)),
             "pain_nrs": pain_after,
             "pain_before": pain_before,
             "done": done == "yes", "symptoms": symptoms}
    assert who.patient_id is not None
    try:
        row = await run_in_threadpool(lambda: exercise_logs.add(
            db, who, who.patient_id or "", entry, claim=ticket.claim))
    except Invalid:
        return _exercise_page(request, data, 422, error=_("Please check your answers."),
                              form_token=ticket.token)
    if symptoms:
        wake(request)
        return redirect(f"/my/exercises/stop/{row.id}")
    return redirect("/my/exercises?saved=1")


@router.get("/my/exercises/stop/{log_id}")
async def stop_advice(request: Request, log_id: str, who: PatientUser) -> Response:
    """What to do about the stop symptoms just logged (the page a log with them leads to)."""
    own = await run_in_threadpool(patients.own_records, db_of(request), who,
                                  "exercise_log.read")
    row = next((log for log in own.exercise_logs if log.id == log_id), None)
    if row is None:
        raise WebError(404, N_("Page not found"), N_("There is no such page."))
    known = _stop_symptoms(request)
    symptoms = [known[s] for s in orjson.loads(row.log_json).get("symptoms", [])
                if s in known]
    return render(request, "stop.html", title=gettext_of(request)("Stop the exercises"),
                  patient_page=True, symptoms=symptoms, **_calls(request))
