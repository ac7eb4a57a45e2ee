"""Alerts through both doors on a real server: the API's alert routes, the mail worker that
e-mails after the request has answered (to a real SMTP server on loopback), the web pages that
say when e-mail is off, and the settings that configure it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spinecare.app import create_app
from spinecare.http.contacts import ContactSettingsError, clinic_from_env, smtp_from_env
from spinecare.http.settings import Settings
from spinecare.service.notifications import SmtpSettings
from spinecare.store.db import Database
from tests.alerts.smtp import Inbox, smtp_server
from tests.api.fixtures import (
    LiveServer,
    bearer,
    create_login,
    login,
    new_patient,
    patient_token,
)

SECRET = "alerts-http-secret-" + "h" * 40
STOP = {"day": 2, "done": False, "symptoms": ["bladder_or_bowel_change"]}


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           mail: tuple[Inbox, int]) -> Iterator[tuple[str, Database]]:
    tmp = tmp_path_factory.mktemp("alerts-http")
    db = Database(f"sqlite:///{tmp / 'a.db'}")
    # The public URL stays plain http: an https one makes the session cookie Secure, which a
    # client on http://127.0.0.1 would not send back.
    settings = Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp, testing=True,
                        smtp=SmtpSettings(host="127.0.0.1", port=mail[1], starttls=False,
                                          from_address="alerts@clinic.example"),
                        mail_poll_seconds=30)
    for name in ("http-doc", "http-nurse", "http-stranger"):
        create_login(db, name)
    with LiveServer(create_app(settings, db)) as live:
        yield live.url, db


def test_a_stop_symptom_from_the_api_is_emailed_after_the_answer_and_acknowledged(
        server: tuple[str, Database], mail: tuple[Inbox, int]) -> None:
    url, _ = server
    inbox, _ = mail
    with httpx.Client(base_url=url, timeout=20) as client:
        doc, stranger = login(client, "http-doc"), login(client, "http-stranger")
        pid = new_patient(client, doc, "Stop Patient")
        r = client.post(f"/api/v1/patients/{pid}/care-team", headers=bearer(doc),
                        json={"username": "http-nurse"})
        assert r.status_code in (200, 201), r.text
        for who in ("http-doc", "http-nurse"):
            token = login(client, who)
            # The address is set on the alerts page; the API has no route for it.
            _set_address(url, who, f"{who}@clinic.example")
            assert token
        me = patient_token(client, doc, pid)
        r = client.post(f"/api/v1/patients/{pid}/exercise-logs", headers=bearer(me), json=STOP)
        assert r.status_code == 201, r.text
        # The worker sends once woken by the request (its poll is 30 s: the wake did it).
        deadline = time.monotonic() + 15
        while len([m for m in inbox.messages if "/alerts/" in m.get_content()]
                  ) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        r = client.get("/api/v1/alerts", headers=bearer(doc))
        assert r.status_code == 200, r.text
        (alert,) = [a for a in r.json()["items"] if a["patient_id"] == pid]
        assert (alert["level"], alert["source"], alert["status"]) == (
            "emergency", "exercise_log", "open")
        assert alert["flags"] == ["bladder_or_bowel_change"]
        sent = [m for m in inbox.messages if alert["id"] in m.get_content()]
        assert sorted(m["To"] for m in sent) == ["http-doc@clinic.example",
                                                 "http-nurse@clinic.example"]
        assert "Stop Patient" not in sent[0].get_content()
        assert client.get("/api/v1/alerts", headers=bearer(stranger)).json()["total"] == 0
        r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=bearer(stranger),
                        json={"note": "x"})
        assert r.status_code == 404
        r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=bearer(doc),
                        json={"note": ""})
        assert r.status_code == 422 and r.json()["problems"][0]["path"] == "note"
        r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=bearer(doc),
                        json={"note": "Phoned: seen in A&E, exercises stopped."})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["acknowledged_by"]) == ("acknowledged", "http-doc")
        r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=bearer(doc),
                        json={"note": "again"})
        assert r.status_code == 409
        r = client.get(f"/api/v1/patients/{pid}/alerts", headers=bearer(doc))
        assert [a["status"] for a in r.json()["items"]] == ["acknowledged"]
        r = client.get(f"/api/v1/patients/{pid}/alerts", headers=bearer(me))
        assert r.status_code == 403
        assert client.get("/api/v1/alerts", headers=bearer(doc)).json()["total"] == 0


def _set_address(url: str, username: str, email: str) -> None:
    from tests.web.helpers import PASSWORD, csrf_of

    with httpx.Client(base_url=url, follow_redirects=True, timeout=20) as web:
        page = web.get("/login")
        r = web.post("/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": csrf_of(page.text)})
        assert r.url.path == "/patients", r.text
        page = web.get("/alerts")
        assert "E-mail is off" not in page.text
        r = web.post("/alerts/address", data={"email": email, "csrf_token": csrf_of(page.text)})
        assert r.status_code == 200 and f'value="{email}"' in r.text


def test_without_smtp_the_alert_pages_say_email_is_off(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.web.helpers import PASSWORD, csrf_of

    db = Database(f"sqlite:///{tmp_path / 'off.db'}")
    create_login(db, "off-doc")
    app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp_path,
                              testing=True), db)
    with TestClient(app) as web:
        page = web.get("/login")
        web.post("/login", data={"username": "off-doc", "password": PASSWORD,
                                 "csrf_token": csrf_of(page.text)})
        page = web.get("/alerts")
        assert "E-mail is off on this installation" in page.text
        r = web.post("/alerts/address", data={"email": "nope", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text


def test_smtp_and_clinic_settings_come_from_the_environment_and_bad_ones_are_named() -> None:
    assert smtp_from_env({}) is None
    smtp = smtp_from_env({"SPINECARE_SMTP_HOST": "mail.example", "SPINECARE_SMTP_FROM":
                          "a@b.example", "SPINECARE_SMTP_PORT": "2525",
                          "SPINECARE_SMTP_STARTTLS": "0"})
    assert smtp is not None and (smtp.port, smtp.starttls) == (2525, False)
    with pytest.raises(ContactSettingsError, match="SPINECARE_SMTP_FROM"):
        smtp_from_env({"SPINECARE_SMTP_HOST": "mail.example"})
    with pytest.raises(ContactSettingsError, match="SPINECARE_SMTP_PORT"):
        smtp_from_env({"SPINECARE_SMTP_HOST": "m", "SPINECARE_SMTP_FROM": "a@b.c",
                       "SPINECARE_SMTP_PORT": "smtp"})
    assert clinic_from_env({}).emergency_number == "112"
    demo = clinic_from_env({}, demo=True)
    assert (demo.emergency_number, demo.tel(demo.phone or "")) == ("999", "tel:01632960000")
    assert clinic_from_env({"SPINECARE_CLINIC_PHONE": "+44 (0)20 7946 0000"}).tel(
        "+44 20 7946 0000") == "tel:+442079460000"
    with pytest.raises(ContactSettingsError, match="SPINECARE_EMERGENCY_NUMBER"):
        clinic_from_env({"SPINECARE_EMERGENCY_NUMBER": "call 999"})
