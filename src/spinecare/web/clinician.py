"""The clinician's pages: their patients, one patient's record, the visit form and report,
and invitation links. Authorisation is the use cases': a clinician sees only the patients of
their care teams (any other patient is "not found", never "forbidden"), and every read or
write of a patient's data is audited by the use case doing it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.instruments.intake import case_sections, intake_form
from spinecare.instruments.registry import instruments
from spinecare.service import (
    alerts,
    education,
    identity,
    invitations,
    patients,
    reviews,
    visits,
    worklist,
)
from spinecare.service.clinical import outcomes_with_home_answers
from spinecare.service.errors import Conflict, Invalid
from spinecare.store.accounts import Principal
from spinecare.store.models import Patient, QuestionnaireResponse, Visit
from spinecare.store.worklist import SORTS, Filters, Sort
from spinecare.vocabulary import TRIAGE_LEVELS
from spinecare.web.alerts import row_view
from spinecare.web.charts import outcome_chart
from spinecare.web.forms import (
    CONTROL_MESSAGE,
    VISIT_SECTIONS,
    ascii_int,
    case_from_form,
    form_values,
    has_control,
    plain_number,
    without_control,
)
from spinecare.web.i18n import N_, gettext_of, language_of
from spinecare.web.pages import (
    SECURITY_HEADERS,
    WebError,
    check_csrf,
    clinician,
    db_of,
    environment,
    from_service,
    now_utc,
    redirect,
    render,
    settings_of,
)
from spinecare.web.pdf import PdfUnavailable, html_to_pdf
from spinecare.web.views import age, form_dict, visit_view

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
Clinician = Annotated[Principal, Depends(clinician)]

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
_OPENED = re.compile(r"[0-9]{14}")


def _next_review(visit: dict[str, Any] | None) -> datetime | None:
    if visit is None:
        return None
    return reviews.next_review(visit["created_at"], visit["plan"])


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


def _short_name(instrument_id: str) -> str:
    inst = instruments().get(instrument_id)
    return inst.short_name if inst else instrument_id


def _intake_view(row: QuestionnaireResponse) -> dict[str, Any]:
    questions = intake_form().questions()
    answers = orjson.loads(row.answers_json)
    summary = orjson.loads(row.score_json)
    shown = []
    for link, value in answers.items():
        item = questions.get(link)
        if item is None:
            continue
        option = item.option(value) if item.type == "choice" else None
        if option is not None:
            text = option.display
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, (int, float)) and item.units:
            # An amount in the item's base unit, in tenths: "34.8 weeks", not "34.7857".
            text = f"{round(value, 1):g} {item.units[0].display}"
        else:
            text = plain_number(link, value) if isinstance(value, float) else str(value)
        shown.append((item.text, text))
    return {"created_at": row.created_at, "answers": shown, "triage": summary.get("triage"),
            "complete": summary.get("complete", False), "reasons": summary.get("reasons", [])}


def _prefill(visits: Sequence[Visit], intakes: Sequence[QuestionnaireResponse]) -> dict[str, str]:
    values: dict[str, str] = {}
    if visits:
        values = form_values(orjson.loads(visits[-1].case_json))
    if intakes and (not visits or intakes[-1].created_at >= visits[-1].created_at):
        sections = case_sections(orjson.loads(intakes[-1].answers_json))
        values = {k: v for k, v in values.items()
                  if not k.startswith(("history.", "symptoms."))}
        values.update(form_values(sections))
    return values


SORT_TEXT = {"priority": N_("Open alerts, then triage, then review due"),
             "alerts": N_("Open alerts"), "triage": N_("Triage of the last visit"),
             "review": N_("Review due, soonest first"), "name": N_("Name")}


@router.get("/patients")
async def patient_list(request: Request, who: Clinician, q: str = "",
                       alerts_only: Annotated[str, Query(alias="alerts")] = "",
                       triage: str = "", overdue: str = "", sort: str = "priority",
                       page: int = 1, size: int = 25) -> Response:
    """The worklist: open alerts first (by default), filters, pages of a stable order."""
    db = db_of(request)
    # A search term is not stored, so its control characters are simply dropped.
    query = without_control(q).strip()[:200]
    filters = Filters(query=query.lower(), open_alerts=alerts_only == "1",
                      triage=triage if triage in TRIAGE_LEVELS else None,
                      overdue=overdue == "1")
    chosen: Sort = next((s for s in SORTS if s == sort), "priority")
    per_page = size if size in worklist.PAGE_SIZES else worklist.PAGE_SIZES[0]
    number = max(1, min(page, 100_000))
    now = now_utc()
    rows, total = await run_in_threadpool(
        lambda: worklist.page(db, who, filters, chosen, now, limit=per_page,
                              offset=(number - 1) * per_page))
    pages = max(1, -(-total // per_page))
    params = {"q": query, "alerts": "1" if filters.open_alerts else "",
              "triage": filters.triage or "", "overdue": "1" if filters.overdue else "",
              "sort": chosen, "size": str(per_page)}

    def link(**change: Any) -> str:
        merged = {**params, **{k: str(v) for k, v in change.items()}}
        return "/patients?" + urlencode({k: v for k, v in merged.items()
                                         if v and not (k == "sort" and v == "priority")
                                         and not (k == "size" and v == "25")
                                         and not (k == "page" and v == "1")})

    filtered = bool(filters.query or filters.open_alerts or filters.triage or filters.overdue)
    return render(request, "patients.html", title=gettext_of(request)("Your patients"),
                  rows=rows, q=q, now=now,
                  total=total, page=number, pages=pages, size=per_page, sort=chosen,
                  sorts=SORT_TEXT, sizes=worklist.PAGE_SIZES, levels=TRIAGE_LEVELS,
                  filters=filters, filtered=filtered, link=link)


@router.post("/patients")
async def create_patient(request: Request, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = str(form.get("display_name") or "").strip()
    year_raw = str(form.get("birth_year") or "").strip()
    errors = {}
    if not 1 <= len(name) <= 200:
        errors["display_name"] = "Give the patient's name (1 to 200 characters)."
    elif has_control(name):
        errors["display_name"] = f"The patient's name {CONTROL_MESSAGE}."
    year = ascii_int(year_raw) or 0
    if not 1900 <= year <= date.today().year:
        errors["birth_year"] = (f"Give a year of birth from 1900 to {date.today().year}, "
                                "in the digits 0 to 9.")
    if errors:
        return render(request, "patient_new.html", status_code=422,
                      title=gettext_of(request)("Add a patient"),
                      errors=errors, values={"display_name": without_control(name)[:200],
                                             "birth_year": without_control(year_raw)[:10]})
    created = await run_in_threadpool(patients.create, db_of(request), who, name, year)
    return redirect(f"/patients/{created.patient.id}")


@router.get("/patients/new")
async def new_patient_page(request: Request, who: Clinician) -> Response:
    return render(request, "patient_new.html", title=gettext_of(request)("Add a patient"),
                  errors={}, values={})


@router.get("/patients/{patient_id}")
async def patient_page(request: Request, patient_id: str, who: Clinician, sent: str = "",
                       emailed: str = "") -> Response:
    db = db_of(request)
    language = language_of(request)

    def work() -> dict[str, Any]:
        chart = patients.chart(db, who, patient_id)
        p, answered = chart.patient, chart.responses
        measures = outcomes_with_home_answers(chart.visits, answered)["measures"]
        charts = [{"key": k, "measure": m, "svg": outcome_chart(k, m)}
                  for k, m in measures.items()]
        intakes = [r for r in answered if r.instrument == "intake"]
        raised = [row_view(a) for a in alerts.of_patient(db, who, patient_id)]
        return {"patient": p, "age": age(p), "visits": [visit_view(v) for v in chart.visits],
                "open_alerts": [a for a in raised if a["acknowledged_at"] is None],
                "closed_alerts": [a for a in raised if a["acknowledged_at"] is not None],
                "charts": charts, "team": chart.care_team,
                "responses": [{"instrument": _short_name(r.instrument),
                               "created_at": r.created_at,
                               "score": _score_text(orjson.loads(r.score_json))}
                              for r in answered if r.instrument != "intake"],
                "intake": _intake_view(intakes[-1]) if intakes else None,
                "education": education.of_patient(db, who, patient_id, language)}

    data = await run_in_threadpool(work)
    latest = data["visits"][-1] if data["visits"] else None
    return render(request, "patient.html", title=data["patient"].display_name, latest=latest,
                  review=_next_review(latest), now=now_utc(),
                  library_articles=list(education.library(language).articles.values()),
                  sent_count=ascii_int(sent) if sent else None, emailed=emailed == "1",
                  identity_fields=IDENTITY_FIELDS, **data)


IDENTITY_FIELDS = {"mrn": N_("Medical record number (MRN)"), "birth_date": N_("Date of birth"),
                   "phone": N_("Contact phone"), "email": N_("Contact e-mail")}


@router.post("/patients/{patient_id}/identity")
async def edit_identity(request: Request, patient_id: str, who: Clinician) -> Response:
    """The patient's MRN, date of birth and contact details, edited on the patient's page."""
    form = await request.form()
    check_csrf(request, form)
    values = {k: without_control(str(form.get(k) or ""))[:254] for k in IDENTITY_FIELDS}
    given = identity.Identity(**values)
    try:
        await run_in_threadpool(identity.update, db_of(request), who, patient_id, given,
                                date.today())
    except Invalid as exc:
        _ = gettext_of(request)
        problems = {p.path: p.message for p in exc.problems}
        return render(request, "identity_edit.html", status_code=422,
                      title=_("Patient details"), patient_id=patient_id, values=values,
                      errors=problems, fields=IDENTITY_FIELDS)
    return redirect(f"/patients/{patient_id}?saved=details#details")


@router.post("/patients/{patient_id}/invitations")
async def invite(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    db, settings = db_of(request), settings_of(request)
    invitation = await run_in_threadpool(
        lambda: invitations.create(db, who, patient_id, secret_key=settings.secret_key,
                                   ttl=settings.invitation_ttl))
    # The token travels in the fragment, which browsers never send to a server or its logs.
    # The link starts with the configured public address: the Host header is the caller's.
    return render(request, "invitation.html", title=gettext_of(request)("Invitation link"),
                  patient=invitation.patient,
                  link=f"{settings.public_url}/invite#{invitation.token}",
                  days=settings.invitation_ttl.days)


@router.get("/patients/{patient_id}/visits/new")
async def new_visit_page(request: Request, patient_id: str, who: Clinician) -> Response:
    found = await run_in_threadpool(visits.prefill, db_of(request), who, patient_id)
    p, values = found.patient, _prefill(found.visits, found.intakes)
    # One key per form: a double click or a resent form stores the visit once. The case id
    # comes from when the form was opened, so a resent form builds the very same case.
    values["idempotency_key"] = secrets.token_urlsafe(18)
    values["form_opened"] = f"{now_utc():%Y%m%d%H%M%S}"
    return render(request, "visit_new.html", title=f"New visit: {p.display_name}", patient=p,
                  sections=VISIT_SECTIONS, values=values, errors={}, age=age(p),
                  first_visit=not found.visits)


@router.post("/patients/{patient_id}/visits")
async def create_visit(request: Request, patient_id: str, who: Clinician) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = form_dict(form)
    db = db_of(request)

    def work() -> tuple[Patient, str | None, dict[str, str]]:
        # The case is built from the form with the patient's age, so the patient comes first.
        p = patients.require(db, who, patient_id, "visit.create")
        opened = values.get("form_opened", "")
        stamp = opened if _OPENED.fullmatch(opened) else f"{now_utc():%Y%m%d%H%M%S}"
        doc = case_from_form(values, age=age(p), case_id=f"visit-{stamp}")
        key = values.get("idempotency_key", "")
        try:
            visit, _ = visits.create(db, who, patient_id, orjson.dumps(doc),
                                     f"web:{key}" if _KEY.fullmatch(key) else None)
        except Invalid as exc:
            return p, None, {pr.path.replace("imaging[0]", "imaging.0"): pr.message
                             for pr in exc.problems}
        except Conflict:
            raise WebError(409, "This form was already saved",
                           "Open the patient's page to see the visit, or start a new visit "
                           "form.") from None
        return p, visit.id, {}

    p, visit_id, errors = await run_in_threadpool(work)
    if visit_id is None:
        return render(request, "visit_new.html", status_code=422,
                      title=f"New visit: {p.display_name}", patient=p, sections=VISIT_SECTIONS,
                      values=values, errors=errors, age=age(p))
    wake(request)
    return redirect(f"/patients/{patient_id}#latest")


def red_flag_questions(assessment: dict[str, Any]) -> list[str]:
    """The engine's own questions (``ask``) still open whose answer could make the case an
    emergency, each once, in the engine's order."""
    return list(dict.fromkeys(q["question"] for q in assessment.get("ask", [])
                              if q.get("could_raise_to") == "emergency"))


@router.post("/patients/{patient_id}/visits/preview")
async def preview_visit(request: Request, patient_id: str, who: Clinician) -> Response:
    """The assessment of the visit form as filled in so far; stores nothing."""
    form = await request.form()
    check_csrf(request, form)
    values = form_dict(form)
    db = db_of(request)

    def work() -> dict[str, Any]:
        p = patients.read(db, who, patient_id, "visit.preview")
        doc = case_from_form(values, age=age(p), case_id="preview")
        try:
            assessment = visits.assess(doc)
        except Invalid as exc:
            return {"ok": False, "problems": [{"path": pr.path, "message": pr.message}
                                              for pr in exc.problems]}
        level = assessment["triage"]["level"]
        open_questions = red_flag_questions(assessment)
        if open_questions and level not in ("emergency", "urgent"):
            # A level below urgent is only as good as the red-flag questions behind it: on a
            # blank or half-filled form it would read "Routine" with no red flag asked.
            html = environment().get_template("_preview_pending.html").render(
                questions=open_questions)
            return {"ok": True, "triage": None, "html": html}
        html = environment().get_template("_assessment.html").render(a=assessment,
                                                                      compact=True)
        return {"ok": True, "triage": level, "html": html}

    return JSONResponse(await run_in_threadpool(work), headers=SECURITY_HEADERS)


async def _printed(request: Request, who: Principal, patient_id: str, visit_id: str,
                   template: str, title: str, pdf: bool) -> Response:
    """A visit's printed page (the report or the plan) as HTML, or as its PDF: the same
    template and context, so the two cannot drift apart. Both reads are audited by
    :func:`visits.get` like the page."""
    db = db_of(request)
    p, v = await run_in_threadpool(visits.get, db, who, patient_id, visit_id)
    clinician_name = await run_in_threadpool(identity.author, db, v.created_by)
    page = render(request, template, title=f"{title}: {p.display_name}", patient=p,
                  visit=visit_view(v), age=age(p), clinician_name=clinician_name,
                  clinic_name=settings_of(request).clinic.name, pdf=pdf, printed_at=now_utc(),
                  patient_page=template == "plan.html")
    if not pdf:
        return page
    try:
        body = await run_in_threadpool(html_to_pdf, bytes(page.body).decode())
    except PdfUnavailable:
        raise WebError(503, N_("The PDF cannot be made here"),
                       N_("Print the page from the browser instead.")) from None
    kind = "report" if template == "report.html" else "plan"
    name = f"spinecare-{kind}-{v.created_at:%Y-%m-%d}-{visit_id[:8]}.pdf"
    return Response(body, media_type="application/pdf", headers={
        **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/patients/{patient_id}/visits/{visit_id}")
async def visit_report(request: Request, patient_id: str, visit_id: str,
                       who: Clinician) -> Response:
    return await _printed(request, who, patient_id, visit_id, "report.html", "Visit report",
                          pdf=False)


@router.get("/patients/{patient_id}/visits/{visit_id}/report.pdf")
async def visit_report_pdf(request: Request, patient_id: str, visit_id: str,
                           who: Clinician) -> Response:
    return await _printed(request, who, patient_id, visit_id, "report.html", "Visit report",
                          pdf=True)


@router.get("/patients/{patient_id}/visits/{visit_id}/plan")
async def visit_plan(request: Request, patient_id: str, visit_id: str,
                     who: Clinician) -> Response:
    return await _printed(request, who, patient_id, visit_id, "plan.html", "Care plan",
                          pdf=False)


@router.get("/patients/{patient_id}/visits/{visit_id}/plan.pdf")
async def visit_plan_pdf(request: Request, patient_id: str, visit_id: str,
                         who: Clinician) -> Response:
    return await _printed(request, who, patient_id, visit_id, "plan.html", "Care plan",
                          pdf=True)
