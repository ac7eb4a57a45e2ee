"""Names and other one-line text with control characters are refused by both doors with a
clear problem naming the field, on SQLite and PostgreSQL (which cannot store a NUL at all, and
used to answer 500 and log the patient's name with the database error)."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.store.db import Database
from tests.api.fixtures import PASSWORD, World, bearer, create_login

NAME = "Ann\x00Quackenbush"


@pytest.mark.parametrize("name", [NAME, "Ann\tQuackenbush", "Ann\x1bQuackenbush"])
def test_an_api_name_with_control_characters_is_refused(client: TestClient, world: World,
                                                        name: str) -> None:
    r = client.post("/api/v1/patients", headers=bearer(world.owner),
                    json={"display_name": name, "birth_year": 1950})
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert problem["path"] == "display_name"
    assert problem["message"].startswith("must not contain control characters")


def test_api_user_names_with_a_nul_are_refused(client: TestClient, world: World) -> None:
    r = client.post(f"/api/v1/patients/{world.patient_id}/care-team",
                    headers=bearer(world.owner), json={"username": "bob\x00"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "username"
    r = client.post("/api/v1/admin/users", headers=bearer(world.admin),
                    json={"username": "bob\x00", "role": "clinician",
                          "password": "a long enough password"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "username"


def test_ids_with_a_nul_are_not_found(client: TestClient, world: World) -> None:
    for path in (f"/api/v1/patients/{world.patient_id}%00",
                 f"/api/v1/patients/{world.patient_id}/visits/abc%00"):
        assert client.get(path, headers=bearer(world.owner)).status_code == 404


def test_a_web_name_with_a_nul_is_a_form_error_and_logs_nothing(
        app: FastAPI, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    username = f"nul-{uuid.uuid4().hex[:6]}"
    create_login(db, username)
    with caplog.at_level("DEBUG"), TestClient(app) as web:
        page = web.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        r = web.post("/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": csrf.group(1)})
        assert r.url.path == "/patients", r.text
        page = web.get("/patients/new")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        r = web.post("/patients", data={"csrf_token": csrf.group(1), "display_name": NAME,
                                        "birth_year": "1950"})
    assert r.status_code == 422 and "must not contain control characters" in r.text
    assert "Quackenbush" not in caplog.text
