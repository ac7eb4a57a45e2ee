"""Database, app and server fixtures shared by tests/api and tests/store.

Every database fixture runs twice: on SQLite (a temporary file) and on PostgreSQL when
``SPINECARE_TEST_POSTGRES_URL`` names a server (``bash scripts/pg-test-server`` starts one);
each test module gets a fresh PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.store.db import Database, normalise_url

POSTGRES_ENV = "SPINECARE_TEST_POSTGRES_URL"
SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"
CASES = Path(__file__).resolve().parent.parent / "data" / "cases"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'spinecare.db'}"
        return
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (start a throwaway server with "
                    "`bash scripts/pg-test-server`)")
    with fresh_postgres_database(admin_url) as url:
        yield url


class fresh_postgres_database:
    """A new, empty database on the test server, dropped on exit."""

    def __init__(self, admin_url: str):
        self.admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
        self.name = f"spinecare_test_{uuid.uuid4().hex[:12]}"
        self.url = make_url(normalise_url(admin_url)).set(database=self.name)

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url.render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def make_settings(tmp: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "secret_key": SECRET, "data_dir": tmp,
                              "testing": True, **overrides}
    return Settings(**values)


@pytest.fixture(scope="module")
def app(db: Database, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(make_settings(tmp_path_factory.mktemp("data"), db.url), db)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def case_bytes(name: str = "lss-classic") -> bytes:
    return (CASES / f"{name}.case.json").read_bytes()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_login(db: Database, username: str, role: str = "clinician") -> None:
    from spinecare.store.accounts import create_user

    with db.session() as session:
        create_user(session, username, role, PASSWORD)  # type: ignore[arg-type]


def login(client: TestClient | httpx.Client, username: str) -> str:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def new_patient(client: TestClient | httpx.Client, token: str, name: str = "Test Patient") -> str:
    r = client.post("/api/v1/patients", headers=bearer(token),
                    json={"display_name": name, "birth_year": 1950})
    assert r.status_code == 201, r.text
    patient_id: str = r.json()["id"]
    return patient_id


def patient_token(client: TestClient | httpx.Client, clinician_token: str,
                  patient_id: str) -> str:
    r = client.post(f"/api/v1/patients/{patient_id}/invitations",
                    headers=bearer(clinician_token))
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/auth/invitation", json={"token": r.json()["token"]})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@dataclass
class World:
    """Two clinicians with a patient each, both patients signed in, an admin."""

    owner: str
    other_clinician: str
    patient: str
    other_patient: str
    admin: str
    patient_id: str
    other_patient_id: str
    visit_id: str


@pytest.fixture(scope="module")
def world(client: TestClient, db: Database) -> World:
    tag = uuid.uuid4().hex[:6]
    for name, role in ((f"owner-{tag}", "clinician"), (f"other-{tag}", "clinician"),
                       (f"admin-{tag}", "admin")):
        create_login(db, name, role)
    owner, other, admin = (login(client, f"{n}-{tag}") for n in ("owner", "other", "admin"))
    pid, other_pid = new_patient(client, owner), new_patient(client, other)
    r = client.post(f"/api/v1/patients/{pid}/visits", headers=bearer(owner),
                    content=case_bytes())
    assert r.status_code == 201, r.text
    return World(owner=owner, other_clinician=other, admin=admin,
                 patient=patient_token(client, owner, pid),
                 other_patient=patient_token(client, other, other_pid),
                 patient_id=pid, other_patient_id=other_pid, visit_id=r.json()["id"])


class LiveServer:
    """uvicorn on a loopback port chosen by the OS, in a background thread."""

    def __init__(self, app: FastAPI):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        # The server keeps idle connections longer than httpx's keep-alive expiry (5 s): with
        # both at 5 s, a connection the server was closing could be reused by the client, and a
        # request failed with a connection reset under load.
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                backlog=512, timeout_keep_alive=60)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@pytest.fixture(scope="module")
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
