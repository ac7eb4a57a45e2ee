"""The pages. Authorisation is the API's: a clinician sees only the patients of their care
teams (any other patient is "not found", never "forbidden"), a patient only their own pages.
Every read or write of a patient's data writes an audit event in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from spinecare.errors import CaseError
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal
from spinecare.store.models import Patient, QuestionnaireResponse, Visit
from spinecare.web import intake as steps
from spinecare.web.charts import outcome_chart, pain_chart, short_date
from spinecare.web.forms import VISIT_SECTIONS, case_from_form, form_values
from spinecare.web.pages import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    WebError,
    WebRedirect,
    check_csrf,
    clinician,
    db_of,
    now_utc,
    patient,
    redirect,
    render,
    set_session,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Principal, Depends(clinician)]
PatientUser = Annotated[Principal, Depends(patient)]

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
NOT_FOUND = ("Patient not found", "There is no patient with this link in your care.")


def _visible(session: Any, who: Principal, patient_id: str, action: str) -> Patient:
    found = records.visible_patient(session, who, patient_id)
    if found is None:
        records.audit(session, who, action, patient_id=patient_id, outcome="denied")
        raise WebError(404, *NOT_FOUND)
    return found


def _age(p: Patient) -> int | None:
    age = date.today().year - p.birth_year
    return age if 0 <= age <= 120 else None


def _visit(v: Visit) -> dict[str, Any]:
    return {"id": v.id, "created_at": v.created_at, "case": orjson.loads(v.case_json),
            "assessment": orjson.loads(v.assessment_json), "plan": orjson.loads(v.plan_json),
            "versions": {"engine": v.engine_version, "knowledge": v.knowledge_version}}


def _due_dates(visit: dict[str, Any]) -> list[tuple[datetime, str, str]]:
    """(when, instrument, what) for each review the visit's plan asks for."""
    out = []
    for item in visit["plan"].get("review", []):
        for weeks in item.get("weeks", []):
            out.append((visit["created_at"] + timedelta(weeks=weeks), item["instrument"],
                        item.get("patient_text", "")))
    return sorted(out, key=lambda t: t[0])


def _next_review(visit: dict[str, Any] | None) -> datetime | None:
    if visit is None:
        return None
    dates = [d for d, _, _ in _due_dates(visit)]
    return dates[0] if dates else None


def _score_text(score: dict[str, Any]) -> str:
    if "value" in score:
        if score["value"] is None:
            return f"not scored ({score.get('reason', 'too many answers missing')})"
        band = score.get("band_label") or score.get("band")
        return f"{score['value']:g}" + (f" ({band})" if band else "")
    parts = []
    for key, value in score.items():
        if isinstance(value, dict) and "value" in value:
            parts.append(f"{key.replace('_', ' ')} {value['value']}")
        elif key in ("symptom_severity", "physical_function", "satisfaction") and value is not None:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts) or "not scored"


# --- signing in and out --------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return redirect("/login")
    return redirect("/my" if who.role == "patient" else "/patients")


@router.get("/login")
async def login_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "login.html", title="Sign in")


@router.post("/login")
async def login(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    db, settings = db_of(request), settings_of(request)

    def work() -> str | None:
        with db.session() as session:
            user = accounts.authenticate(session, username, password)
            if user is None:
                records.audit(session, None, "auth.login", outcome="denied")
                return None
            token, _ = accounts.issue_token(session, user.id, settings.token_ttl)
            records.audit(session, accounts.principal_of(user), "auth.login")
            return token

    token = await run_in_threadpool(work)
    if token is None:
        return render(request, "login.html", status_code=401, title="Sign in",
                      error="The username or password is not right.", username=username)
    response = redirect("/patients")
    set_session(response, request, token, int(settings.token_ttl.total_seconds()))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    token = request.cookies.get(SESSION_COOKIE)
    if token and who is not None:
        token_hash = accounts.hash_token(token)
        request.app.state.token_cache.drop(token_hash)
        db = db_of(request)

        def work() -> None:
            with db.session() as session:
                accounts.revoke_token(session, token_hash)
                records.audit(session, who, "auth.revoke")

        await run_in_threadpool(work)
    request.state.web_principal = None
    response = render(request, "signed_out.html", title="Signed out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- the clinician's pages -----------------------------------------------------------------------


@router.get("/patients")
async def patient_list(request: Request, who: Clinician, q: str = "") -> Response:
    db = db_of(request)
    query = q.strip().lower()[:200]

    def work() -> list[dict[str, Any]]:
        rows = []
        with db.session() as session:
            patients, _ = records.list_patients(session, who, limit=500, offset=0)
            for p in patients:
                if query and query not in p.display_name.lower():
                    continue
                visits, total = records.list_visits(session, p.id)
                latest = _visit(visits[-1]) if visits else None
                records.audit(session, who, "patient.list", patient_id=p.id)
                rows.append({"patient": p, "visits": total, "latest": latest,
                             "review": _next_review(latest)})
        return rows

    rows = await run_in_threadpool(work)
    return render(request, "patients.html", title="Your patients", rows=rows, q=q,
                  now=now_utc())


@router.post("/patients")
async def create_patient(request: Request, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = str(form.get("display_name") or "").strip()
    year_raw = str(form.get("birth_year") or "").strip()
    errors = {}
    if not 1 <= len(name) <= 200:
        errors["display_name"] = "Give the patient's name (1 to 200 characters)."
    year = int(year_raw) if year_raw.isdigit() else 0
    if not 1900 <= year <= date.today().year:
        errors["birth_year"] = f"Give a year of birth from 1900 to {date.today().year}."
    if errors:
        return render(request, "patient_new.html", status_code=422, title="Add a patient",
                      errors=errors, values={"display_name": name, "birth_year": year_raw})
    db = db_of(request)

    def work() -> str:
        with db.session() as session:
            p = records.create_patient(session, who.user_id, name, year)
            records.audit(session, who, "patient.create", patient_id=p.id)
            return p.id

    patient_id = await run_in_threadpool(work)
    return redirect(f"/patients/{patient_id}")


@router.get("/patients/new")
async def new_patient_page(request: Request, who: Clinician) -> Response:
    return render(request, "patient_new.html", title="Add a patient", errors={}, values={})


def _responses(session: Any, patient_id: str) -> Sequence[QuestionnaireResponse]:
    rows, _ = records.list_questionnaire_responses(session, patient_id, limit=500, offset=0)
    return rows


@router.get("/patients/{patient_id}")
async def patient_page(request: Request, patient_id: str, who: Clinician) -> Response:
    from spinecare.service.clinical import outcomes

    db = db_of(request)

    def work() -> dict[str, Any]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "patient.read")
            visits, _ = records.list_visits(session, patient_id)
            answered = _responses(session, patient_id)
            team = records.care_team(session, patient_id)
            for action in ("patient.read", "visit.list", "outcomes.read", "questionnaire.list"):
                records.audit(session, who, action, patient_id=patient_id)
        measures = outcomes(visits)["measures"] if visits else {}
        charts = [{"key": k, "measure": m, "svg": outcome_chart(k, m)}
                  for k, m in measures.items()]
        intakes = [r for r in answered if r.instrument == "intake"]
        return {"patient": p, "age": _age(p), "visits": [_visit(v) for v in visits],
                "charts": charts, "team": team,
                "responses": [{"instrument": _short_name(r.instrument),
                               "created_at": r.created_at,
                               "score": _score_text(orjson.loads(r.score_json))}
                              for r in answered if r.instrument != "intake"],
                "intake": _intake_view(intakes[-1]) if intakes else None}

    data = await run_in_threadpool(work)
    latest = data["visits"][-1] if data["visits"] else None
    return render(request, "patient.html", title=data["patient"].display_name, latest=latest,
                  review=_next_review(latest), now=now_utc(), **data)


def _short_name(instrument_id: str) -> str:
    from spinecare.instruments.registry import instruments

    inst = instruments().get(instrument_id)
    return inst.short_name if inst else instrument_id


def _intake_view(row: QuestionnaireResponse) -> dict[str, Any]:
    from spinecare.instruments.intake import intake_form

    questions = intake_form().questions()
    answers = orjson.loads(row.answers_json)
    summary = orjson.loads(row.score_json)
    shown = []
    for link, value in answers.items():
        item = questions.get(link)
        if item is None:
            continue
        option = item.option(value) if item.type == "choice" else None
        text = option.display if option else ("yes" if value is True else "no"
                                              if value is False else f"{value:g}"
                                              if isinstance(value, float) else str(value))
        shown.append((item.text, text))
    return {"created_at": row.created_at, "answers": shown, "triage": summary.get("triage"),
            "complete": summary.get("complete", False), "reasons": summary.get("reasons", [])}


@router.post("/patients/{patient_id}/invitations")
async def invite(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    db, settings = db_of(request), settings_of(request)

    def work() -> tuple[Patient, str]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "invitation.create")
            token, invitation = accounts.create_invitation(
                session, settings.secret_key, patient_id, who.user_id, settings.invitation_ttl)
            records.audit(session, who, "invitation.create", patient_id=patient_id,
                          target_id=invitation.id)
            return p, token

    p, token = await run_in_threadpool(work)
    # The token travels in the fragment, which browsers never send to a server or its logs.
    base = str(request.base_url).rstrip("/")
    return render(request, "invitation.html", title="Invitation link", patient=p,
                  link=f"{base}/invite#{token}", days=settings.invitation_ttl.days)


def _prefill(visits: Sequence[Visit], intakes: Sequence[QuestionnaireResponse]) -> dict[str, str]:
    from spinecare.instruments.intake import case_sections

    values: dict[str, str] = {}
    if visits:
        values = form_values(orjson.loads(visits[-1].case_json))
    if intakes and (not visits or intakes[-1].created_at >= visits[-1].created_at):
        sections = case_sections(orjson.loads(intakes[-1].answers_json))
        values = {k: v for k, v in values.items()
                  if not k.startswith(("history.", "symptoms."))}
        values.update(form_values(sections))
    return values


@router.get("/patients/{patient_id}/visits/new")
async def new_visit_page(request: Request, patient_id: str, who: Clinician) -> Response:
    db = db_of(request)

    def work() -> tuple[Patient, dict[str, str]]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "visit.prefill")
            visits, _ = records.list_visits(session, patient_id)
            intakes = [r for r in _responses(session, patient_id) if r.instrument == "intake"]
            records.audit(session, who, "visit.prefill", patient_id=patient_id)
            return p, _prefill(visits, intakes)

    p, values = await run_in_threadpool(work)
    # One key per form: a double click or a resent form stores the visit once.
    values["idempotency_key"] = secrets.token_urlsafe(18)
    return render(request, "visit_new.html", title=f"New visit: {p.display_name}", patient=p,
                  sections=VISIT_SECTIONS, values=values, errors={}, age=_age(p))


def _form_dict(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/patients/{patient_id}/visits")
async def create_visit(request: Request, patient_id: str, who: Clinician) -> Response:
    from spinecare.service.clinical import prepare_visit

    form = await request.form()
    check_csrf(request, form)
    values = _form_dict(form)
    db = db_of(request)

    def work() -> tuple[Patient, str | None, dict[str, str]]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "visit.create")
        doc = case_from_form(values, age=_age(p), case_id=f"visit-{now_utc():%Y%m%d%H%M%S}")
        try:
            new = prepare_visit(orjson.dumps(doc))
        except CaseError as exc:
            with db.session() as session:
                records.audit(session, who, "visit.create", patient_id=patient_id,
                              outcome="invalid")
            return p, None, {pr.path.replace("imaging[0]", "imaging.0"): pr.message
                             for pr in exc.problems}
        key = values.get("idempotency_key", "")
        try:
            with db.session() as session:
                visit, created = records.add_visit(
                    session, patient_id, who.user_id, new,
                    idempotency_key=f"web:{key}" if _KEY.fullmatch(key) else None)
                records.audit(session, who, "visit.create" if created else "visit.replay",
                              patient_id=patient_id, target_id=visit.id)
        except records.IdempotencyConflict:
            raise WebError(409, "This form was already saved",
                           "Open the patient's page to see the visit, or start a new visit "
                           "form.") from None
        return p, visit.id, {}

    p, visit_id, errors = await run_in_threadpool(work)
    if visit_id is None:
        return render(request, "visit_new.html", status_code=422,
                      title=f"New visit: {p.display_name}", patient=p, sections=VISIT_SECTIONS,
                      values=values, errors=errors, age=_age(p))
    return redirect(f"/patients/{patient_id}#latest")


@router.post("/patients/{patient_id}/visits/preview")
async def preview_visit(request: Request, patient_id: str, who: Clinician) -> Response:
    """The assessment of the visit form as filled in so far; stores nothing."""
    from spinecare.case import parse_case
    from spinecare.reasoning.engine import default_engine

    form = await request.form()
    check_csrf(request, form)
    values = _form_dict(form)
    db = db_of(request)

    def work() -> dict[str, Any]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "visit.preview")
            records.audit(session, who, "visit.preview", patient_id=patient_id)
        doc = case_from_form(values, age=_age(p), case_id="preview")
        try:
            assessment = default_engine().assess(parse_case(doc))
        except CaseError as exc:
            return {"ok": False, "problems": [{"path": pr.path, "message": pr.message}
                                              for pr in exc.problems]}
        from spinecare.web.pages import environment

        html = environment().get_template("_assessment.html").render(a=assessment,
                                                                      compact=True)
        return {"ok": True, "triage": assessment["triage"]["level"], "html": html}

    return JSONResponse(await run_in_threadpool(work), headers=SECURITY_HEADERS)


@router.get("/patients/{patient_id}/visits/{visit_id}")
async def visit_report(request: Request, patient_id: str, visit_id: str,
                       who: Clinician) -> Response:
    db = db_of(request)

    def work() -> tuple[Patient, Visit | None]:
        with db.session() as session:
            p = _visible(session, who, patient_id, "visit.read")
            v = records.get_visit(session, patient_id, visit_id)
            records.audit(session, who, "visit.read", patient_id=patient_id,
                          target_id=visit_id[:64], outcome="ok" if v else "not_found")
            return p, v

    p, v = await run_in_threadpool(work)
    if v is None:
        raise WebError(404, "Visit not found", "There is no such visit for this patient.")
    return render(request, "report.html", title=f"Visit report: {p.display_name}", patient=p,
                  visit=_visit(v), age=_age(p))


# --- invitations and the patient's pages ---------------------------------------------------------


@router.get("/invite")
async def invite_page(request: Request) -> Response:
    await signed_in(request)
    return render(request, "invite.html", title="Welcome", patient_page=True)


@router.post("/invite")
async def redeem(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    code = str(form.get("code") or "").strip().lstrip("#")
    db, settings = db_of(request), settings_of(request)

    def work() -> str | None:
        with db.session() as session:
            user = accounts.redeem_invitation(session, settings.secret_key, code)
            if user is None:
                records.audit(session, None, "auth.invitation", outcome="denied")
                return None
            token, _ = accounts.issue_token(session, user.id, settings.patient_token_ttl)
            records.audit(session, accounts.principal_of(user), "auth.invitation",
                          patient_id=user.patient_id)
            return token

    token = await run_in_threadpool(work) if code else None
    if token is None:
        return render(request, "invite.html", status_code=401, title="Welcome",
                      patient_page=True,
                      error="This link does not work. It may be used already or too old. "
                            "Please ask your clinic for a new one.")
    response = redirect("/my")
    set_session(response, request, token, int(settings.patient_token_ttl.total_seconds()))
    return response


def _patient_records(db: Any, who: Principal, action: str) -> dict[str, Any]:
    assert who.patient_id is not None
    with db.session() as session:
        p = _visible(session, who, who.patient_id, action)
        visits, _ = records.list_visits(session, who.patient_id)
        answered = _responses(session, who.patient_id)
        logs, _ = records.list_exercise_logs(session, who.patient_id, limit=500, offset=0)
        records.audit(session, who, action, patient_id=who.patient_id)
    return {"patient": p, "visits": [_visit(v) for v in visits], "responses": answered,
            "logs": [(row.created_at, orjson.loads(row.log_json)) for row in logs]}


def _due(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The follow-up questionnaires due now, and those coming up."""
    from spinecare.instruments.registry import instruments

    registry = instruments()
    if not data["visits"]:
        return [], []
    now = now_utc()
    due: dict[str, dict[str, Any]] = {}
    later: dict[str, dict[str, Any]] = {}
    for when, inst_id, text in _due_dates(data["visits"][-1]):
        inst = registry.get(inst_id)
        if inst is None or inst.administered_by != "patient":
            continue
        answered_since = any(r.instrument == inst_id and r.created_at >= when
                             for r in data["responses"])
        entry = {"id": inst_id, "name": inst.name, "when": when, "text": text}
        if when <= now and not answered_since:
            due.setdefault(inst_id, entry)
        elif when > now and inst_id not in due:
            later.setdefault(inst_id, entry)
    return list(due.values()), [v for k, v in later.items() if k not in due]


@router.get("/my")
async def my_home(request: Request, who: PatientUser) -> Response:
    data = await run_in_threadpool(_patient_records, db_of(request), who, "patient.read")
    due, later = _due(data)
    intake_done = any(r.instrument == "intake" for r in data["responses"])
    programme = data["visits"][-1]["plan"].get("exercise_programme") if data["visits"] else None
    return render(request, "my_home.html", title="Your care", patient_page=True,
                  patient=data["patient"], due=due, later=later, intake_done=intake_done,
                  programme=programme, urgent=steps.urgent_notice())


def _intake_step(request: Request, state: steps.IntakeState, error: str | None = None,
                 status_code: int = 200) -> Response:
    item = steps.next_question(state)
    if item is None:
        raise RuntimeError("no question left")  # callers finish the intake first
    done, shown = steps.progress(state)
    options = [("yes", "Yes"), ("no", "No")] if item.type == "boolean" else \
        [(str(o.value), o.display) for o in item.options]
    return render(request, "intake_step.html", status_code=status_code,
                  title="Your symptoms: one question at a time", patient_page=True, item=item,
                  section=steps.section_of(item), state=state, options=options, error=error,
                  done=done, shown=shown, urgent=steps.urgent_notice())


@router.get("/my/intake")
async def intake_start(request: Request, who: PatientUser) -> Response:
    await run_in_threadpool(_patient_records, db_of(request), who, "intake.start")
    state = steps.IntakeState()
    return render(request, "intake_start.html", title="Your symptoms", patient_page=True,
                  urgent=steps.urgent_notice(), introduction=steps.introduction(),
                  state=state)


@router.post("/my/intake")
async def intake_step(request: Request, who: PatientUser) -> Response:
    from spinecare.instruments.intake import intake_form

    form = await request.form()
    check_csrf(request, form)
    state = steps.read_state(form, form.getlist)
    action = str(form.get("action") or "answer")
    link = str(form.get("question") or "")
    item = intake_form().questions().get(link)
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
            return _intake_step(request, state, "Please choose an answer, or press "
                                                "\u201cSkip this question\u201d.", 422)
        value, problem = steps.decode(item, raw, str(form.get("unit") or "") or None)
        if problem:
            return _intake_step(request, state, problem, 422)
        state.answers[link] = value
        state.skipped.discard(link)
        state.order = [k for k in state.order if k != link] + [link]
    db = db_of(request)

    def evaluate() -> tuple[Patient, dict[str, Any]]:
        assert who.patient_id is not None
        with db.session(read_only=True) as session:
            p = records.visible_patient(session, who, who.patient_id)
        if p is None:
            raise WebError(404, *NOT_FOUND)
        return p, steps.assess_answers(steps.visible_answers(state), _age(p))

    p, assessment = await run_in_threadpool(evaluate)
    level = assessment["triage"]["level"]
    what_to_do: list[str] = []
    if level == "emergency":
        what_to_do = steps.emergency_steps(state, assessment, _age(p))
    finished = steps.next_question(state) is None
    if level == "emergency" or finished:
        await run_in_threadpool(_store_intake, db, who, state, assessment, finished)
    if level == "emergency":
        return render(request, "emergency.html", title="Go to the emergency department now",
                      patient_page=True, reasons=assessment["triage"]["reasons"],
                      steps=what_to_do)
    if finished:
        return render(request, "intake_done.html", title="Thank you", patient_page=True,
                      urgent=steps.urgent_notice(), level=level)
    return _intake_step(request, state)


def _store_intake(db: Any, who: Principal, state: steps.IntakeState,
                  assessment: dict[str, Any], complete: bool) -> None:
    assert who.patient_id is not None
    summary = {"triage": assessment["triage"]["level"], "complete": complete,
               "reasons": assessment["triage"]["reasons"],
               "red_flags": [f["code"] for f in assessment["red_flags"]]}
    with db.session() as session:
        _visible(session, who, who.patient_id, "questionnaire.create")
        row = records.add_questionnaire_response(
            session, who.patient_id, who.user_id, "intake",
            orjson.dumps(steps.visible_answers(state)).decode(), orjson.dumps(summary).decode())
        records.audit(session, who, "questionnaire.create", patient_id=who.patient_id,
                      target_id=row.id)


def _instrument_form(instrument_id: str) -> Any:
    from spinecare.instruments.forms import instrument_form
    from spinecare.instruments.registry import instruments

    inst = instruments().get(instrument_id)
    if inst is None or inst.administered_by != "patient":
        raise WebError(404, "Questionnaire not found", "There is no such questionnaire.")
    return inst, instrument_form(inst)


@router.get("/my/questionnaires/{instrument_id}")
async def questionnaire_page(request: Request, instrument_id: str, who: PatientUser) -> Response:
    inst, f = _instrument_form(instrument_id)
    await run_in_threadpool(_patient_records, db_of(request), who, "questionnaire.start")
    return render(request, "questionnaire.html", title=inst.name, patient_page=True, inst=inst,
                  form=f, values={}, errors=[], urgent=steps.urgent_notice())


@router.post("/my/questionnaires/{instrument_id}")
async def questionnaire_submit(request: Request, instrument_id: str,
                               who: PatientUser) -> Response:
    from spinecare.instruments.answers import read_plain
    from spinecare.instruments.errors import AnswerError
    from spinecare.instruments.scoring import score_answers

    inst, f = _instrument_form(instrument_id)
    form = await request.form()
    check_csrf(request, form)
    values = _form_dict(form)
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
            answers[link] = int(raw) if raw.lstrip("-").isdigit() else raw
    try:
        response = read_plain({"questionnaire": instrument_id, "answers": answers})
        score = score_answers(instrument_id, response.answers)
    except AnswerError as exc:
        return render(request, "questionnaire.html", status_code=422, title=inst.name,
                      patient_page=True, inst=inst, form=f, values=values,
                      errors=[p.message for p in exc.problems], urgent=steps.urgent_notice())
    db = db_of(request)

    def work() -> None:
        assert who.patient_id is not None
        with db.session() as session:
            _visible(session, who, who.patient_id, "questionnaire.create")
            row = records.add_questionnaire_response(
                session, who.patient_id, who.user_id, instrument_id,
                orjson.dumps(response.answers).decode(), orjson.dumps(score).decode())
            records.audit(session, who, "questionnaire.create", patient_id=who.patient_id,
                          target_id=row.id)

    await run_in_threadpool(work)
    return render(request, "questionnaire_done.html", title="Thank you", patient_page=True,
                  inst=inst, urgent=steps.urgent_notice())


def _log_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for created_at, log in data["logs"]:
        out.append({"label": short_date(created_at.isoformat()), "done": log.get("done", True),
                    "pain_before": log.get("pain_before"), "pain_after": log.get("pain_nrs")})
    return out


def _exercise_page(request: Request, data: dict[str, Any], status_code: int = 200,
                   **extra: Any) -> Response:
    from spinecare.plan.rules import load_plan_rules

    programme = data["visits"][-1]["plan"].get("exercise_programme") if data["visits"] else None
    entries = _log_entries(data)
    return render(request, "exercises.html", status_code=status_code,
                  title="Your home exercises", patient_page=True, programme=programme,
                  entries=entries, chart=pain_chart(entries) if entries else None,
                  stop_symptoms=load_plan_rules().programme.stop_symptoms,
                  urgent=steps.urgent_notice(), **extra)


@router.get("/my/exercises")
async def exercises(request: Request, who: PatientUser) -> Response:
    data = await run_in_threadpool(_patient_records, db_of(request), who, "exercise_log.list")
    return _exercise_page(request, data)


def _pain(raw: Any) -> int | None:
    if isinstance(raw, str) and raw.isdigit() and 0 <= int(raw) <= 10:
        return int(raw)
    return None


@router.post("/my/exercises")
async def log_exercise(request: Request, who: PatientUser) -> Response:
    from spinecare.plan.programme import LogError, parse_logs
    from spinecare.plan.rules import load_plan_rules

    form = await request.form()
    check_csrf(request, form)
    db = db_of(request)
    data = await run_in_threadpool(_patient_records, db, who, "exercise_log.list")
    done = form.get("done")
    if done not in ("yes", "no"):
        return _exercise_page(request, data, 422,
                              error="Please say whether you did your exercises today.")
    start = data["visits"][-1]["created_at"] if data["visits"] else now_utc()
    known = {s.id: s for s in load_plan_rules().programme.stop_symptoms}
    symptoms = [s for s in form.getlist("symptoms") if isinstance(s, str) and s in known]
    try:
        (log,) = parse_logs([{"day": max(0, min((now_utc() - start).days, 3650)),
                              "pain_nrs": _pain(form.get("pain_after")),
                              "pain_before": _pain(form.get("pain_before")),
                              "done": done == "yes", "symptoms": symptoms}])
    except LogError:
        return _exercise_page(request, data, 422, error="Please check your answers.")
    doc = log.model_dump(mode="json")

    def work() -> None:
        assert who.patient_id is not None
        with db.session() as session:
            _visible(session, who, who.patient_id, "exercise_log.create")
            row = records.add_exercise_log(session, who.patient_id, who.user_id,
                                           orjson.dumps(doc).decode())
            records.audit(session, who, "exercise_log.create", patient_id=who.patient_id,
                          target_id=row.id)

    await run_in_threadpool(work)
    if symptoms:
        return render(request, "stop.html", title="Stop the exercises", patient_page=True,
                      symptoms=[known[s] for s in symptoms])
    raise WebRedirect("/my/exercises?saved=1")
