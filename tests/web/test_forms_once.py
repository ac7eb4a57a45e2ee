"""Forms that hold state, over HTTP (no browser): one-time form tokens (a resent form writes
nothing twice and leads to the first result; a stale one shows the form again with what was
typed), the intake resumed from its server-side draft, and a signed-out patient signing in
again by a link e-mailed through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.service.notifications import SmtpSettings
from spinecare.store import education as addresses
from spinecare.store.db import Database
from spinecare.store.models import FormToken, PasskeyChallenge, Patient, Visit
from spinecare.web import mount
from tests.alerts.smtp import Inbox, smtp_server
from tests.web.helpers import SECRET, add_clinician, add_patient, csrf_of, form_fields
from tests.web.test_pages import MYELOPATHY, heading, invited, signed_in

ADDRESS = "margaret@example.org"


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory,
          mail: tuple[Inbox, int]) -> tuple[FastAPI, Database]:
    tmp = tmp_path_factory.mktemp("web-once")
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    settings = Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp, testing=True,
                        smtp=SmtpSettings(host="127.0.0.1", port=mail[1], starttls=False,
                                          from_address="care@clinic.example"))
    app = create_app(settings, db)
    mount(app)
    add_clinician(db, "doc")
    return app, db


@pytest.fixture
def doc(built: tuple[FastAPI, Database]) -> Iterator[TestClient]:
    with signed_in(built[0], "doc") as client:
        yield client


def _doc_id(db: Database) -> int:
    from spinecare.store.models import User

    with db.session(read_only=True) as session:
        found = session.scalar(select(User.id).where(User.username == "doc"))
    assert found is not None
    return found


def _deliver(app: FastAPI) -> None:
    # The mail worker's round, run here rather than on its thread: the test then knows when
    # the e-mail has gone.
    app.state.mailer.run_once()


def _link_in(message: EmailMessage) -> str:
    body = message.get_content()
    found = re.search(r"(http\S+/signin/link#\S+)", body)
    assert found, body
    return found.group(1)


# --- one-time form tokens --------------------------------------------------------------------


def test_a_new_patient_form_sent_twice_adds_one_patient_and_shows_it_both_times(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    page = doc.get("/patients/new")
    assert "form=" in str(page.url)
    data = {**form_fields(page.text, "/patients"), "display_name": "Twice Sent",
            "birth_year": "1950"}
    first = doc.post("/patients", data=data)
    second = doc.post("/patients", data=data)
    assert first.status_code == second.status_code == 200
    assert first.url.path == second.url.path and first.url.path.startswith("/patients/")
    with built[1].session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Patient).where(
            Patient.display_name == "Twice Sent")) == 1


def test_a_stale_form_token_shows_the_form_again_with_what_was_typed(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    page = doc.get("/patients/new")
    data = {**form_fields(page.text, "/patients"), "form_token": "not-a-token",
            "display_name": "Stale Form", "birth_year": "1951"}
    r = doc.post("/patients", data=data)
    assert r.status_code == 409
    assert "Nothing was saved yet" in r.text and 'value="Stale Form"' in r.text
    again = form_fields(r.text, "/patients")
    assert again["form_token"] not in ("", "not-a-token")
    r = doc.post("/patients", data={**data, "form_token": again["form_token"]})
    assert r.status_code == 200 and r.url.path.startswith("/patients/")


def test_a_form_token_of_another_account_is_stale(built: tuple[FastAPI, Database],
                                                  doc: TestClient) -> None:
    add_clinician(built[1], "doc2")
    with signed_in(built[0], "doc2") as other:
        foreign = form_fields(other.get("/patients/new").text, "/patients")["form_token"]
    page = doc.get("/patients/new")
    r = doc.post("/patients", data={**form_fields(page.text, "/patients"),
                                    "form_token": foreign, "display_name": "Borrowed",
                                    "birth_year": "1950"})
    assert r.status_code == 409


def test_back_to_a_saved_visit_form_leads_to_the_saved_visit(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    _, db = built
    pid = add_patient(db, _doc_id(db), "Back Button")
    form = doc.get(f"/patients/{pid}/visits/new")
    r = doc.post(f"/patients/{pid}/visits",
                 data={**form_fields(form.text, f"/patients/{pid}/visits"), **MYELOPATHY},
                 follow_redirects=False)
    assert r.status_code == 303
    # Back shows the form's address again: it now leads to the visit it saved.
    back = doc.get(str(form.url), follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/patients/{pid}#latest"
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Visit).where(
            Visit.patient_id == pid)) == 1


def test_the_sign_in_page_shown_to_many_browsers_writes_nothing(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built

    def stored() -> tuple[int, int]:
        with db.session(read_only=True) as session:
            return (int(session.scalar(select(func.count()).select_from(FormToken)) or 0),
                    int(session.scalar(select(func.count()).select_from(PasskeyChallenge))
                        or 0))

    before = stored()
    tokens = set()
    for _ in range(40):
        with TestClient(app) as browser:  # a new browser each time, as a flood would be
            page = browser.get("/signin")
            assert page.status_code == 200 and 'data-passkey="get"' in page.text
            tokens.add(form_fields(page.text, "/signin")["form_token"])
    assert len(tokens) == 40
    assert stored() == before


def test_every_successful_form_post_answers_303(built: tuple[FastAPI, Database],
                                                doc: TestClient) -> None:
    _, db = built
    pid = add_patient(db, _doc_id(db), "See Other")
    page = doc.get(f"/patients/{pid}").text
    for action in (f"/patients/{pid}/invitations", f"/patients/{pid}/signin-link"):
        r = doc.post(action, data=form_fields(page, action), follow_redirects=False)
        assert r.status_code == 303, (action, r.text)


# --- the intake's draft ----------------------------------------------------------------------


def test_a_double_sent_intake_step_counts_once(built: tuple[FastAPI, Database],
                                               doc: TestClient) -> None:
    app, db = built
    patient = invited(app, doc, add_patient(db, _doc_id(db), "Double Skip"))
    step = patient.get("/my/intake/step")
    fields = form_fields(step.text, "/my/intake/step")
    assert fields["question"] == "bladder"
    for _ in range(2):
        r = patient.post("/my/intake/step", data={**fields, "action": "skip"})
        assert r.status_code == 200
    # Skipped once: the intake is at the second question, not the third.
    assert form_fields(r.text, "/my/intake/step")["question"] == "bowel_incontinence"


def test_the_intake_resumes_after_signing_out_on_another_device(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, _doc_id(db), "Resumed Intake")
    patient = invited(app, doc, pid)
    step = patient.get("/my/intake/step")
    r = patient.post("/my/intake/step", data={**form_fields(step.text, "/my/intake/step"),
                                              "answer": "normal", "action": "answer"})
    second = heading(r.text)
    patient.post("/logout", data={"csrf_token": csrf_of(r.text)})
    with invited(app, doc, pid) as elsewhere:
        start = elsewhere.get("/my/intake").text
        assert "Go on with the questions" in start and "1 questions done" in start
        assert heading(elsewhere.get("/my/intake/step").text) == second


# --- signing in again by e-mail --------------------------------------------------------------


def test_a_signed_out_patient_signs_in_again_by_the_emailed_link(
        built: tuple[FastAPI, Database], doc: TestClient, mail: tuple[Inbox, int]) -> None:
    app, db = built
    inbox, _ = mail
    pid = add_patient(db, _doc_id(db), "Margaret Link")
    with db.session() as session:
        addresses.set_address(session, pid, ADDRESS)
    patient = invited(app, doc, pid)
    r = patient.post("/logout", data={"csrf_token": csrf_of(patient.get("/my").text)})
    assert 'href="/signin"' in r.text  # "Sign in again" leads to the patient sign-in
    assert patient.get("/my").url.path == "/signin"
    page = patient.get("/signin")
    before = len(inbox.messages)
    r = patient.post("/signin", data={**form_fields(page.text, "/signin"), "email": ADDRESS},
                     follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin/sent")
    _deliver(app)
    assert len(inbox.messages) == before + 1
    message = inbox.messages[-1]
    assert message["To"] == ADDRESS and "Margaret" not in message.get_content()
    code = _link_in(message).split("#", 1)[1]
    with TestClient(app) as phone:
        form = phone.get("/signin/link")
        r = phone.post("/signin/link", data={"csrf_token": csrf_of(form.text), "code": code})
        assert r.url.path == "/my" and "Margaret Link" in r.text
    with TestClient(app) as replay:
        form = replay.get("/signin/link")
        r = replay.post("/signin/link", data={"csrf_token": csrf_of(form.text), "code": code})
        assert r.status_code == 401 and "does not work" in r.text


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
        built: tuple[FastAPI, Database], doc: TestClient, mail: tuple[Inbox, int]) -> None:
    app, db = built
    pid = add_patient(db, _doc_id(db), "Known Address")
    with db.session() as session:
        addresses.set_address(session, pid, "known@example.org")
    answers = []
    for email in ("known@example.org", "unknown@example.org"):
        with TestClient(app) as client:
            page = client.get("/signin")
            r = client.post("/signin", data={**form_fields(page.text, "/signin"),
                                             "email": email})
            answers.append((r.status_code, str(r.url.path),
                            re.sub(r'value="[^"]*"', "", r.text)))
    assert answers[0] == answers[1]
    assert "If this e-mail address is the one your clinic has for you" in answers[0][2]


def test_a_clinician_resends_a_sign_in_link_from_the_patient_page(
        built: tuple[FastAPI, Database], doc: TestClient, mail: tuple[Inbox, int]) -> None:
    app, db = built
    inbox, _ = mail
    pid = add_patient(db, _doc_id(db), "Resend Patient")
    page = doc.get(f"/patients/{pid}").text
    action = f"/patients/{pid}/signin-link"
    r = doc.post(action, data=form_fields(page, action))
    assert "no e-mail address on record" in r.text
    with db.session() as session:
        addresses.set_address(session, pid, "resend@example.org")
    page = doc.get(f"/patients/{pid}").text
    r = doc.post(action, data=form_fields(page, action))
    assert "A sign-in link is on its way" in r.text
    _deliver(app)
    assert inbox.messages[-1]["To"] == "resend@example.org"
