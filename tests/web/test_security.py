"""The web door's share of the security work: the API docs from the package for signed-in
staff only, links from the configured public URL (never the Host header), Secure cookies behind
TLS, and form input parsed strictly (ASCII digits, no control characters) with clear errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.store.db import Database
from tests.web.helpers import PASSWORD, SECRET, add_clinician, add_patient, csrf_of, make_app


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database]:
    app, db = make_app(tmp_path_factory.mktemp("web-security"))
    app.state.test_clinician_id = add_clinician(db, "sec-doc")
    return app, db


def sign_in(app: FastAPI, username: str = "sec-doc",
            base_url: str = "http://testserver") -> TestClient:
    client = TestClient(app, base_url=base_url)
    page = client.get("/login")
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and r.url.path == "/patients", r.text
    return client


@pytest.fixture
def doc(built: tuple[FastAPI, Database]) -> Iterator[TestClient]:
    with sign_in(built[0]) as client:
        yield client


def other_app(db: Database, tmp: Path, **settings: object) -> FastAPI:
    return create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp,
                               testing=True, **settings), db)  # type: ignore[arg-type]


# --- the API docs ---------------------------------------------------------------------------


def test_the_api_docs_are_for_signed_in_staff_only(built: tuple[FastAPI, Database]) -> None:
    with TestClient(built[0]) as anonymous:
        for path in ("/docs", "/docs/swagger-ui-bundle.js"):
            r = anonymous.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/login", path
        assert anonymous.get("/redoc").status_code == 404
        # The contract's OpenAPI document stays public: it holds no patient data.
        assert anonymous.get("/openapi.json").status_code == 200


def test_the_api_docs_load_nothing_from_elsewhere(doc: TestClient) -> None:
    page = doc.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp
    assert "<script>" not in page.text  # no inline script: the policy would block it
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    for source in sources:
        r = doc.get(source)
        assert r.status_code == 200 and len(r.content) > 100, source
    bundle = doc.get("/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content
    assert doc.get("/docs/../../etc/passwd").status_code == 404
    assert doc.get("/docs/oauth2-redirect.html").status_code == 404


def test_the_api_docs_can_be_turned_off(built: tuple[FastAPI, Database],
                                        tmp_path: Path) -> None:
    app = other_app(built[1], tmp_path, api_docs="off")
    with sign_in(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/docs/swagger-ui.css").status_code == 404


# --- links and cookies ---------------------------------------------------------------------------


def invitation_link(client: TestClient, patient_id: str, host: str) -> str:
    page = client.get(f"/patients/{patient_id}")
    r = client.post(f"/patients/{patient_id}/invitations", headers={"Host": host},
                    data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    found = re.search(r'value="([^"]+/invite#[^"]+)"', r.text)
    assert found, r.text
    return found.group(1)


def test_the_host_header_does_not_change_the_invitation_link(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    app, db = built
    patient_id = add_patient(db, app.state.test_clinician_id, "Host Test")
    link = invitation_link(doc, patient_id, "evil.example")
    assert link.startswith("http://127.0.0.1:8000/invite#"), link
    assert "evil" not in link


def test_the_invitation_link_starts_with_the_configured_public_url(
        built: tuple[FastAPI, Database], tmp_path: Path) -> None:
    app = other_app(built[1], tmp_path, public_url="https://clinic.example/spine/")
    patient_id = add_patient(built[1], built[0].state.test_clinician_id, "Public Url")
    with sign_in(app, base_url="https://testserver") as client:
        link = invitation_link(client, patient_id, "evil.example")
    assert link.startswith("https://clinic.example/spine/invite#"), link


def test_cookies_are_secure_when_the_public_url_is_https(built: tuple[FastAPI, Database],
                                                         tmp_path: Path) -> None:
    """Behind a TLS proxy the app itself is reached over plain http."""
    app = other_app(built[1], tmp_path, public_url="https://clinic.example")
    with TestClient(app) as client:
        page = client.get("/login")
    assert page.url.scheme == "http"
    assert "spinecare_pre=" in page.headers["set-cookie"]
    assert "secure" in page.headers["set-cookie"].lower()
