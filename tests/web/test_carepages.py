"""The care team's pages over a real app and database: licensed questionnaires answered at
home, words instead of ids, identity fields, the report's PDF, the 404 page and the favicon."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.service import instrument_texts
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, Patient, QuestionnaireResponse
from spinecare.web.charts import outcome_chart, time_positions
from spinecare.web.forms import plain_number
from tests.web.helpers import (
    PASSWORD,
    add_clinician,
    add_patient,
    add_three_visits,
    csrf_of,
    licensed_text,
    make_app,
)
from tests.web.test_pages import invited


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database]:
    return make_app(tmp_path_factory.mktemp("carepages"))


@pytest.fixture(scope="module")
def doc_id(built: tuple[FastAPI, Database]) -> int:
    return add_clinician(built[1], "dr_carepages")


@pytest.fixture
def doc(built: tuple[FastAPI, Database], doc_id: int) -> Iterator[TestClient]:
    with TestClient(built[0]) as client:
        page = client.get("/login")
        r = client.post("/login", data={"username": "dr_carepages", "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text)})
        assert r.url.path == "/patients"
        yield client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- questionnaires at home ---------------------------------------------------------------


def test_a_licensed_questionnaire_is_offered_only_once_the_clinic_loads_its_wording(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, doc_id, "Licensed Patient")
    patient = invited(app, doc, pid)
    assert patient.get("/my/questionnaires/ndi").status_code == 404
    instrument_texts.load(db, None, licensed_text("ndi"), "a test")
    page = patient.get("/my/questionnaires/ndi")
    assert page.status_code == 200
    assert "Licensed item 1" in page.text and "Licensed answer 1.6" in page.text
    assert "record which statement" not in page.text and "sixth statement" not in page.text
    assert "Test licence ref. 0000" in page.text
    assert "When to get help at once" in page.text


def test_a_blank_questionnaire_is_refused_and_a_missing_required_item_is_named(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, doc_id, "Blank Patient")
    patient = invited(app, doc, pid)
    instrument_texts.load(db, None, licensed_text("odi"), "a test")
    token = csrf_of(patient.get("/my/questionnaires/odi").text)
    r = patient.post("/my/questionnaires/odi", data={"csrf_token": token})
    assert r.status_code == 422
    assert "Please answer the questions before sending: nothing was answered." in r.text
    answers = {f"{item}": "1" for item in ("pain_intensity", "personal_care", "lifting",
                                            "walking", "sitting", "standing", "sleeping",
                                            "social_life")}
    r = patient.post("/my/questionnaires/odi", data={"csrf_token": token, **answers})
    assert r.status_code == 422
    # Travelling is required and named with its number and licensed words; sex life (section
    # 8, "if applicable") may be left out.
    assert "Please answer \u201c10. Licensed item 10\u201d." in r.text
    assert "Licensed item 8\u201d" not in r.text
    with db.session(read_only=True) as session:
        assert not session.scalars(select(QuestionnaireResponse).where(
            QuestionnaireResponse.patient_id == pid)).all()
    r = patient.post("/my/questionnaires/odi",
                     data={"csrf_token": token, **answers, "travelling": "2"})
    assert r.status_code == 200 and "Thank you" in r.text
    with db.session(read_only=True) as session:
        row = session.scalars(select(QuestionnaireResponse).where(
            QuestionnaireResponse.patient_id == pid)).one()
    # Nine of ten sections: 10 / 45 by Fairbank's rule, scored.
    assert orjson.loads(row.score_json)["value"] == pytest.approx(22.2)


def test_pain_sites_without_symptoms_may_be_skipped_but_not_all_of_them(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    app, db = built
    patient = invited(app, doc, add_patient(db, doc_id, "Pain Patient"))
    token = csrf_of(patient.get("/my/questionnaires/pain_nrs").text)
    assert patient.post("/my/questionnaires/pain_nrs",
                        data={"csrf_token": token}).status_code == 422
    assert patient.post("/my/questionnaires/pain_nrs",
                        data={"csrf_token": token, "leg": "4"}).status_code == 200


def test_answers_given_at_home_join_the_outcome_charts_placed_by_date(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, doc_id, "Charted Patient")
    add_three_visits(db, doc_id, pid)
    patient = invited(app, doc, pid)
    token = csrf_of(patient.get("/my/questionnaires/pain_nrs").text)
    assert patient.post("/my/questionnaires/pain_nrs",
                        data={"csrf_token": token, "leg": "1"}).status_code == 200
    page = doc.get(f"/patients/{pid}").text
    leg = re.search(r'<svg class="chart"[^>]*data-measure="pain_nrs.leg".*?</svg>', page, re.S)
    assert leg is not None
    # Three visits (circles) six weeks apart, then the home answer (a square) today.
    assert len(re.findall(r"<circle class=\"point", leg.group(0))) == 3
    assert len(re.findall(r'<rect class="point[^"]*point-home"', leg.group(0))) == 1
    assert "(answered at home): 1" in leg.group(0)
    assert "at home" in text_of(page)


def test_points_are_placed_by_date_not_evenly() -> None:
    xs = time_positions(["2026-01-01T00:00:00Z", "2026-01-15T00:00:00Z",
                         "2026-07-01T00:00:00Z"], 500)
    assert xs[0] == 0 and xs[2] == 500
    assert 30 < xs[1] < 45  # two weeks of six months, not the middle
    assert time_positions(["2026-01-01", None], 100) == [0, 100]


def test_date_labels_that_would_overlap_are_left_to_the_table() -> None:
    dates = ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
             "2026-06-01T00:00:00Z"]
    series = [{"index": n, "date": d, "value": 30 - n} for n, d in enumerate(dates)]
    measure = {"label": "ODI", "series": series, "baseline": series[0], "higher_is_worse": True,
               "mcid": {"absolute": 10, "percent": None}, "changes": []}
    svg = str(outcome_chart("odi", measure))
    labels = re.findall(r'class="axis date"[^>]*>([^<]*)<', svg)
    assert labels == ["01 Jan 2026", "01 Jun 2026"]
    assert svg.count("<title>") == 4  # every point keeps its own date in its title


# --- words, not ids ----------------------------------------------------------------------


def test_the_blank_visit_preview_says_not_enough_information_yet_and_asks_the_red_flags(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    pid = add_patient(built[1], doc_id, "Preview Patient")
    form = doc.get(f"/patients/{pid}/visits/new").text
    # A first visit: the symptoms (saddle numbness, bladder) are open from the start.
    assert re.search(r'<details class="section" open>\s*<summary><h2>Symptoms', form)
    r = doc.post(f"/patients/{pid}/visits/preview", data={"csrf_token": csrf_of(form)})
    body = r.json()
    assert body["ok"] and body["triage"] is None
    assert "Not enough information yet" in body["html"] and "Routine" not in body["html"]
    assert "numbness between the legs" in body["html"]


def test_the_report_names_red_flags_scores_clinician_and_clinic_with_ids_in_a_toggle(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    _, db = built
    pid = add_patient(db, doc_id, "Report Patient")
    add_three_visits(db, doc_id, pid)
    page = doc.get(f"/patients/{pid}").text
    link = re.search(rf'href="(/patients/{pid}/visits/[0-9a-f]+)"', page)
    assert link is not None
    report = doc.get(link.group(1)).text
    words = text_of(report)
    assert "Clinician dr_carepages" in words and "Clinic your clinic" in words
    assert "<dt>ODI</dt>" in report and "<dt>Pain</dt>" in report and "<dt>odi</dt>" not in report
    assert "PAIN_NRS" not in report
    # Rule ids only inside a details toggle.
    outside = re.sub(r"<details class=\"ids\">.*?</details>", "", report, flags=re.S)
    assert "tr." not in text_of(outside) and "rf." not in text_of(outside)
    assert "likelihood</span>" in report


def test_likelihood_badges_use_no_urgency_colour() -> None:
    css = (Path(__file__).resolve().parents[2] / "src/spinecare/web/static/app.css").read_text()
    urgency = set(re.findall(r"--(?:emergency|urgent|routine|self-care): (#[0-9a-f]{6})", css))
    assert len(urgency) == 4
    rules = " ".join(re.findall(r"\.likelihood-[a-z]+ \{[^}]*\}", css))
    assert rules and not any(colour in rules for colour in urgency)
    assert "var(--emergency)" not in rules and "var(--urgent)" not in rules


def test_numbers_are_rounded_as_people_read_them() -> None:
    assert plain_number("history.duration_weeks", 34.785714285714285) == "34.8"
    assert plain_number("imaging.0.torg_pavlov_ratio", 0.8234) == "0.82"
    assert plain_number("history.duration_weeks", 12.0) == "12"


# --- identity ----------------------------------------------------------------------------


def test_identity_fields_are_stored_shown_and_a_bad_one_is_named_without_losing_any(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient) -> None:
    _, db = built
    pid = add_patient(db, doc_id, "Identity Patient", birth_year=1950)
    token = csrf_of(doc.get(f"/patients/{pid}").text)
    good = {"mrn": "MRN-0042", "birth_date": "1950-03-04", "phone": "+34 600 123 456",
            "email": "ana@example.org"}
    r = doc.post(f"/patients/{pid}/identity", data={"csrf_token": token, **good})
    assert r.status_code == 200 and r.url.path == f"/patients/{pid}"
    words = text_of(r.text)
    assert "MRN MRN-0042" in words and "04 Mar 1950" in words
    assert 'href="tel:+34600123456"' in r.text and "mailto:ana@example.org" in r.text
    r = doc.post(f"/patients/{pid}/identity", data={"csrf_token": token, **good,
                                                    "email": "ana at example",
                                                    "birth_date": "1950-02-30"})
    assert r.status_code == 422
    assert "give an e-mail address such as name@example.org" in r.text
    assert "give the date of birth as YYYY-MM-DD" in r.text
    assert 'id="id-email" name="email" value="ana at example"' in r.text
    with db.session(read_only=True) as session:
        stored = session.get(Patient, pid)
        assert stored is not None
        assert (stored.mrn, stored.email, str(stored.birth_date)) == (
            "MRN-0042", "ana@example.org", "1950-03-04")
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.patient_id == pid)).all()
    assert "patient.update" in actions


# --- the PDF -----------------------------------------------------------------------------


def test_the_report_and_plan_pdfs_render_to_png_with_their_text(
        built: tuple[FastAPI, Database], doc_id: int, doc: TestClient,
        tmp_path: Path) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    _, db = built
    pid = add_patient(db, doc_id, "Printed Patient")
    add_three_visits(db, doc_id, pid)
    page = doc.get(f"/patients/{pid}").text
    visit = re.search(rf'href="/patients/{pid}/visits/([0-9a-f]+)"', page)
    assert visit is not None
    base = f"/patients/{pid}/visits/{visit.group(1)}"
    assert f'href="{base}/report.pdf"' in doc.get(base).text
    for path, words in ((f"{base}/report.pdf", ["Visit report", "Printed Patient",
                                                "dr_carepages", "your clinic", "Assessment"]),
                        (f"{base}/plan.pdf", ["Care plan", "Printed Patient",
                                              "When to get help at once"])):
        r = doc.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert "attachment" in r.headers["content-disposition"]
        pdf = pdfium.PdfDocument(r.content)
        try:
            text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
            image = pdf[0].render(scale=1).to_pil()
        finally:
            pdf.close()
        for word in words:
            assert word in text, (path, word)
        assert "Download as PDF" not in text and "Skip to the main content" not in text
        # A4 at 72 dpi, and something drawn on it (not a blank page).
        assert abs(image.width - 595) <= 2 and abs(image.height - 842) <= 2
        darkest, lightest = image.convert("L").getextrema()
        assert lightest - darkest > 150
        image.save(tmp_path / "page.png")
    with db.session(read_only=True) as session:
        reads = session.scalars(select(AuditEvent.action).where(
            AuditEvent.patient_id == pid, AuditEvent.action == "visit.read")).all()
    assert len(reads) >= 3  # the page and both PDFs, each audited like the report


def test_another_clinicians_patient_has_no_pdf(built: tuple[FastAPI, Database],
                                               doc: TestClient) -> None:
    _, db = built
    other = add_clinician(db, "dr_other_pdf")
    pid = add_patient(db, other, "Not Mine")
    assert doc.get(f"/patients/{pid}/visits/0123456789abcdef0123456789abcdef/report.pdf"
                   ).status_code == 404


# --- 404 and favicon ---------------------------------------------------------------------


def test_an_unknown_address_is_an_html_page_but_the_api_keeps_json(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    r = doc.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text and 'href="/patients"' in r.text
    assert "content-security-policy" in r.headers
    api = doc.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    anonymous = TestClient(built[0]).get("/nowhere?lang=es")
    assert anonymous.status_code == 404 and "Página no encontrada" in anonymous.text


def test_the_favicon_is_served(built: tuple[FastAPI, Database]) -> None:
    r = TestClient(built[0]).get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
