"""The pages around alerts over HTTP (no browser): the patient's home after a stop symptom,
the worklist's filters and pages, the acknowledgement form's refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.app import create_app
from spinecare.http.contacts import ClinicContacts
from spinecare.http.settings import Settings
from spinecare.store.db import Database
from tests.web.helpers import (
    SECRET,
    add_clinician,
    add_patient,
    add_three_visits,
    form_fields,
)
from tests.web.test_pages import invited, signed_in


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database, int]:
    tmp = tmp_path_factory.mktemp("alert-pages")
    db = Database(f"sqlite:///{tmp / 'p.db'}")
    app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=Path(tmp),
                              testing=True, clinic=ClinicContacts(
                                  name="Hill Clinic", phone="+44 1632 960123",
                                  emergency_number="112")), db)
    return app, db, add_clinician(db, "pages-doc")


@pytest.fixture
def doc(built: tuple[FastAPI, Database, int]) -> Iterator[TestClient]:
    with signed_in(built[0], "pages-doc") as client:
        yield client


def test_after_a_stop_symptom_the_home_leads_with_the_advice_and_pauses_the_exercises(
        built: tuple[FastAPI, Database, int], doc: TestClient) -> None:
    app, db, uid = built
    pid = add_patient(db, uid, "Stop Home")
    add_three_visits(db, uid, pid)
    patient = invited(app, doc, pid)
    assert "Your home exercises and daily log" in patient.get("/my").text
    fields = form_fields(patient.get("/my/exercises").text, "/my/exercises")
    r = patient.post("/my/exercises", data={**fields, "done": "no",
                                            "symptoms": "saddle_numbness"})
    assert 'href="tel:112"' in r.text and 'href="tel:+441632960123"' in r.text
    home = patient.get("/my").text
    main = home.split('<main', 1)[1]
    assert main.index('data-advice="stop"') < main.index("What to do next")
    assert "Stop the exercises" in main and 'href="tel:112"' in main
    assert "Your home exercises and daily log" not in main
    assert "exercises are paused" in main
    # The exercises' own address, reached from a bookmark, says the same and lists none.
    exercises = patient.get("/my/exercises").text.split('<main', 1)[1]
    assert exercises.index('data-advice="stop"') < exercises.index("Today's log")
    assert "exercises are paused" in exercises and 'href="tel:112"' in exercises
    assert 'id="exercises-title"' not in exercises
    # The clinician acknowledges; the home is as before.
    page = doc.get(f"/patients/{pid}").text
    alert_id = re.search(r'href="/alerts/([0-9a-f]{32})"', page)
    assert alert_id
    alert_page = doc.get(f"/alerts/{alert_id.group(1)}").text
    ack = form_fields(alert_page, f"/alerts/{alert_id.group(1)}/acknowledge")
    r = doc.post(f"/alerts/{alert_id.group(1)}/acknowledge", data={**ack, "note": "   "})
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    r = doc.post(f"/alerts/{alert_id.group(1)}/acknowledge",
                 data={**ack, "note": "Phoned; seen in A&E."})
    assert r.status_code == 200 and "Phoned; seen in A&amp;E." in r.text
    home = patient.get("/my").text
    assert 'data-advice' not in home and "Your home exercises and daily log" in home
    assert 'id="exercises-title"' in patient.get("/my/exercises").text


def test_the_worklist_pages_and_filters_from_the_address(
        built: tuple[FastAPI, Database, int], doc: TestClient) -> None:
    _, db, uid = built
    for n in range(30):
        add_patient(db, uid, f"Paged Patient {n:02d}")
    first = doc.get("/patients?q=paged&sort=name").text
    assert first.count('<th scope="row">') == 25 and "page 1 of 2" in first
    assert 'href="/patients?q=paged&amp;sort=name&amp;page=2"' in first
    second = doc.get("/patients?q=paged&sort=name&page=2").text
    names = re.findall(r">(Paged Patient \d\d)</a>", first + second)
    assert names == [f"Paged Patient {n:02d}" for n in range(30)]
    # Nonsense in the address falls back to the defaults instead of failing.
    r = doc.get("/patients?sort=nonsense&size=7&triage=bad&page=0")
    assert r.status_code == 200 and "Open alerts, then triage" in r.text
    assert "No patient matches" in doc.get("/patients?q=nobody-has-this-name").text
    r = doc.get("/alerts/" + "0" * 32)
    assert r.status_code == 404 and "Alert not found" in r.text
