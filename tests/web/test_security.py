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


# --- form input ----------------------------------------------------------------------------------

UNICODE_DIGITS = ["١٩٥٠", "¹⁹⁵⁰", "１９５０", "1_950", "1950.0e0", "nan"]


@pytest.mark.parametrize("year", UNICODE_DIGITS)
def test_a_birth_year_in_other_digits_is_a_form_error(doc: TestClient, year: str) -> None:
    page = doc.get("/patients/new")
    r = doc.post("/patients", data={"csrf_token": csrf_of(page.text),
                                    "display_name": "Digit Test", "birth_year": year})
    assert r.status_code == 422
    assert "in the digits 0 to 9" in r.text


@pytest.mark.parametrize("name", ["Ann\x00Smith", "Ann\tSmith", "Ann\nSmith", "Ann\x7f"])
def test_a_name_with_control_characters_is_refused_naming_the_field(
        built: tuple[FastAPI, Database], doc: TestClient, name: str) -> None:
    page = doc.get("/patients/new")
    r = doc.post("/patients", data={"csrf_token": csrf_of(page.text), "display_name": name,
                                    "birth_year": "1950"})
    assert r.status_code == 422
    assert 'id="display_name-error"' in r.text
    assert "must not contain control characters" in r.text
    assert "\x00" not in r.text


def test_a_search_with_a_nul_finds_nothing_rather_than_failing(doc: TestClient) -> None:
    r = doc.get("/patients", params={"q": "Ann\x00"})
    assert r.status_code == 200


def test_a_visit_form_number_in_other_digits_is_named_by_its_field(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, app.state.test_clinician_id, "Visit Digits")
    token = csrf_of(doc.get(f"/patients/{pid}/visits/new").text)
    r = doc.post(f"/patients/{pid}/visits", data={"csrf_token": token,
                                                  "instruments.pain_nrs.leg": "٣"})
    assert r.status_code == 422
    assert 'href="#f-instruments-pain_nrs-leg">Leg</a>: must be' in r.text
    r = doc.post(f"/patients/{pid}/visits", data={"csrf_token": token,
                                                  "instruments.pain_nrs.leg": "3"})
    assert r.status_code == 200  # redirected to the patient's page with the visit


def test_an_intake_number_in_other_digits_asks_again() -> None:
    from spinecare.instruments.intake import intake_form
    from spinecare.web.intake import decode

    item = intake_form().questions()["walking_tolerance_minutes"]
    for raw in ("٣", "³", "1_0", "nan", "inf", "1e3"):
        value, problem = decode(item, raw)
        assert value is None and problem and "digits 0 to 9" in problem, raw
    assert decode(item, "12.5") == (12.5, None)
    assert decode(item, " 20 ") == (20, None)


def test_a_patient_form_with_other_digits_gets_a_clear_error(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    app, db = built
    pid = add_patient(db, app.state.test_clinician_id, "Patient Digits")
    page = doc.get(f"/patients/{pid}")
    r = doc.post(f"/patients/{pid}/invitations", data={"csrf_token": csrf_of(page.text)})
    code = re.search(r'value="[^"]+/invite#([^"]+)"', r.text)
    assert code
    with TestClient(app) as patient:
        form = patient.get("/invite")
        r = patient.post("/invite", data={"csrf_token": csrf_of(form.text),
                                          "code": code.group(1)})
        assert r.url.path == "/my", r.text
        token = csrf_of(patient.get("/my/questionnaires/pain_nrs").text)
        r = patient.post("/my/questionnaires/pain_nrs", data={"csrf_token": token, "leg": "٤"})
        assert r.status_code == 422
        token = csrf_of(patient.get("/my/exercises").text)
        r = patient.post("/my/exercises", data={"csrf_token": token, "done": "yes",
                                                "pain_before": "³", "pain_after": "2"})
        assert r.status_code == 422
        assert "pain before the exercises as a whole number from 0 to 10" in r.text
