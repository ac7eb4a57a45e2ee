"""Every route against every role: the clinician of the patient, another clinician, the
patient, another patient, an admin, no token, and the token of a disabled account (one of the
patient's own clinicians, disabled after signing in). Nobody sees another's patient: the answer
is 404 with the same text whether the patient exists or not. Every route of the app outside the
web pages (the OpenAPI's operations and the CDS Hooks services) must have its row, so a new route
without one fails here."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.service import access
from spinecare.store.alerts import NewAlert, raise_alert
from spinecare.store.db import Database
from spinecare.store.models import CareTeamMember
from tests.api.fixtures import (
    World,
    bearer,
    case_bytes,
    create_login,
    login,
    new_patient,
    patient_token,
)

ROLES = ["owner", "other_clinician", "patient", "other_patient", "admin", "anonymous",
         "disabled"]
NOT_FOUND = {"detail": "Patient not found"}
ARTICLE = "living_with_stenosis"


def _body(kind: str, world: World) -> dict[str, Any]:
    if kind == "case":
        return {"content": case_bytes()}
    if kind == "patient":
        return {"json": {"display_name": "New Patient", "birth_year": 1961}}
    if kind == "care_team":
        return {"json": {"username": "nobody-" + uuid.uuid4().hex}}
    if kind == "questionnaire":
        return {"json": {"instrument": "pain_nrs", "answers": {}}}
    if kind == "exercise_log":
        return {"json": {"day": 1, "pain_nrs": 3}}
    if kind == "education":
        return {"json": {"articles": [ARTICLE]}}
    if kind == "user":
        return {"json": {"username": f"u-{uuid.uuid4().hex}", "role": "clinician",
                         "password": "a long enough password"}}
    if kind == "login_incomplete":  # no password: refused before any account is looked at
        return {"data": {"username": f"u-{uuid.uuid4().hex}"}}
    if kind == "invitation":
        return {"json": {"token": "not-an-invitation-" + uuid.uuid4().hex}}
    if kind == "password_reset":
        return {"json": {"token": "not-a-reset-" + uuid.uuid4().hex,
                         "password": "a long enough new password"}}
    if kind == "bundle":
        return {"content": orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                         "entry": []})}
    if kind == "note":
        return {"json": {"note": "phoned the patient"}}
    if kind == "hook":
        return {"json": {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                         "context": {"userId": "Practitioner/1", "patientId": "p1"}}}
    if kind == "feedback":
        return {"json": {"feedback": []}}
    return {}


# method, path, body kind, expected status by role
# (owner, other clinician, patient, other patient, admin, anonymous); a disabled account's
# token is answered as no token at all, so its column is the anonymous one.
# In a path: {pid} the owner's patient, {vid} its visit, {iid} an open invitation of it made
# for the request, {aid} an open alert of it made for the request, {fresh} a patient of the
# owner made for the request (the "patient" role is then that patient), {uid} a clinician
# account made for the request.
P = "/api/v1/patients/{pid}"
A = "/api/v1/admin/users/{uid}"
ADMIN_ONLY = (403, 403, 403, 403, 200, 401)
MATRIX: list[tuple[str, str, str | None, tuple[int, ...]]] = [
    ("POST", "/api/v1/auth/token", "login_incomplete", (422, 422, 422, 422, 422, 422)),
    ("POST", "/api/v1/auth/invitation", "invitation", (401, 401, 401, 401, 401, 401)),
    ("POST", "/api/v1/auth/revoke", None, (204, 204, 204, 204, 204, 401)),
    ("POST", "/api/v1/auth/password-reset", "password_reset",
     (401, 401, 401, 401, 401, 401)),
    ("POST", "/api/v1/assess", "case", (200, 200, 200, 200, 200, 401)),
    ("POST", "/api/v1/fhir/to-case", "bundle", (200, 200, 200, 200, 200, 401)),
    ("POST", "/api/v1/patients", "patient", (201, 201, 403, 403, 403, 401)),
    ("GET", "/api/v1/patients", None, (200, 200, 200, 200, 200, 401)),
    ("GET", P, None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/care-team", "care_team", (422, 404, 403, 404, 404, 401)),
    ("DELETE", P + "/care-team/nobody", None, (422, 404, 403, 404, 422, 401)),
    ("POST", P + "/invitations", None, (201, 404, 403, 404, 404, 401)),
    ("GET", P + "/invitations", None, (200, 404, 403, 404, 200, 401)),
    ("DELETE", P + "/invitations", None, (200, 404, 403, 404, 200, 401)),
    ("DELETE", P + "/invitations/{iid}", None, (200, 404, 403, 404, 200, 401)),
    ("POST", "/api/v1/patients/{fresh}/end-access", None, (200, 404, 403, 404, 200, 401)),
    ("POST", P + "/visits", "case", (201, 404, 403, 404, 404, 401)),
    ("GET", P + "/visits", None, (200, 404, 200, 404, 404, 401)),
    ("GET", P + "/visits/{vid}", None, (200, 404, 200, 404, 404, 401)),
    ("GET", P + "/outcomes", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/questionnaires", "questionnaire", (201, 404, 201, 404, 404, 401)),
    ("GET", P + "/questionnaires", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/exercise-logs", "exercise_log", (201, 404, 201, 404, 404, 401)),
    ("GET", P + "/exercise-logs", None, (200, 404, 200, 404, 404, 401)),
    # Alerts are the clinicians': any patient's (their own too) is refused by role.
    ("GET", P + "/alerts", None, (200, 404, 403, 403, 403, 401)),
    ("GET", "/api/v1/alerts", None, (200, 200, 403, 403, 403, 401)),
    ("POST", "/api/v1/alerts/{aid}/acknowledge", "note", (200, 404, 404, 404, 404, 401)),
    ("GET", "/api/v1/education/articles", None, (200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/education/articles/" + ARTICLE, None, (200, 200, 200, 200, 200, 401)),
    ("GET", P + "/education", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/education/send", "education", (200, 404, 403, 404, 404, 401)),
    ("GET", "/api/v1/audit", None, ADMIN_ONLY),
    ("POST", "/api/v1/admin/users", "user", (403, 403, 403, 403, 201, 401)),
    ("GET", "/api/v1/admin/users", None, ADMIN_ONLY),
    ("POST", A + "/disable", None, ADMIN_ONLY),
    ("POST", A + "/enable", None, ADMIN_ONLY),
    ("POST", A + "/revoke-tokens", None, ADMIN_ONLY),
    ("POST", A + "/password-reset", None, (403, 403, 403, 403, 201, 401)),
    # CDS Hooks answer only a registered client's signed JWT (discovery too), which no
    # account's token is.
    ("GET", "/cds-services", None, (401, 401, 401, 401, 401, 401)),
    ("POST", "/cds-services/spinecare-triage", "hook", (401, 401, 401, 401, 401, 401)),
    ("POST", "/cds-services/spinecare-triage/feedback", "feedback",
     (401, 401, 401, 401, 401, 401)),
]
# Routes that answer without an account's token (their 401 is their own, not the bearer one).
PUBLIC = {"/api/v1/auth/token", "/api/v1/auth/invitation", "/api/v1/auth/password-reset",
          "/cds-services", "/cds-services/spinecare-triage",
          "/cds-services/spinecare-triage/feedback"}
# A 404 that is not about the patient.
NOT_FOUND_OF = {"/api/v1/alerts/{aid}/acknowledge": {"detail": "Alert not found"}}
# Answers that name every patient or account by design.
NAMES_EVERYONE = {"/api/v1/audit", "/api/v1/admin/users"}


@pytest.fixture(scope="module")
def disabled(client: TestClient, db: Database, world: World) -> str:
    """The token of one of the patient's own clinicians, whose account was then disabled."""
    name = f"gone-{uuid.uuid4().hex[:6]}"
    create_login(db, name)
    token = login(client, name)
    r = client.post(f"/api/v1/patients/{world.patient_id}/care-team",
                    headers=bearer(world.owner), json={"username": name})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/patients/{world.patient_id}",
                      headers=bearer(token)).status_code == 200
    with db.session(read_only=True) as session:
        user_id = max(session.scalars(select(CareTeamMember.user_id).where(
            CareTeamMember.patient_id == world.patient_id)))
    access.disable(db, None, user_id)
    return token


def _fresh_token(client: TestClient, db: Database, world: World, role: str) -> str:
    """A token of ``role`` for this request alone (one the request may revoke)."""
    if role in ("patient", "other_patient"):
        owner = world.owner if role == "patient" else world.other_clinician
        pid = world.patient_id if role == "patient" else world.other_patient_id
        return patient_token(client, owner, pid)
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    create_login(db, name, "admin" if role == "admin" else "clinician")
    return login(client, name)


def _owner_id(db: Database, patient_id: str) -> int:
    with db.session(read_only=True) as session:
        return min(session.scalars(select(CareTeamMember.user_id).where(
            CareTeamMember.patient_id == patient_id)))


def _request(client: TestClient, db: Database, world: World, disabled: str, role: str,
             method: str, path: str, body: str | None) -> tuple[str, Any]:
    """Fill the path's placeholders, choose the role's token, and send."""
    tokens = {"owner": world.owner, "other_clinician": world.other_clinician,
              "patient": world.patient, "other_patient": world.other_patient,
              "admin": world.admin, "disabled": disabled}
    token = tokens.get(role)
    values = {"pid": world.patient_id, "vid": world.visit_id}
    if "{fresh}" in path:
        values["fresh"] = new_patient(client, world.owner, "Fresh Patient")
        if role == "patient":
            token = patient_token(client, world.owner, values["fresh"])
    if "{uid}" in path:
        name = f"target-{uuid.uuid4().hex[:6]}"
        create_login(db, name)
        values["uid"] = str(access.user_id_of(db, name))
    if "{iid}" in path:
        r = client.post(f"/api/v1/patients/{world.patient_id}/invitations",
                        headers=bearer(world.owner))
        values["iid"] = r.json()["id"]
    if "{aid}" in path:
        with db.session() as session:
            alert, _ = raise_alert(session, world.patient_id, _owner_id(db, world.patient_id),
                                   NewAlert("questionnaire", None, "urgent",
                                            (uuid.uuid4().hex,), ("for the access test",)))
            values["aid"] = alert.id
    if path == "/api/v1/auth/revoke" and role not in ("anonymous", "disabled"):
        token = _fresh_token(client, db, world, role)
    url = path.format(**values)
    headers = bearer(token) if token else {}
    return url, client.request(method, url, headers=headers,
                               **(_body(body, world) if body else {}))


def _token(world: World, role: str) -> dict[str, str]:
    return {} if role == "anonymous" else bearer(getattr(world, role))


def _want(expected: tuple[int, ...], role: str) -> int:
    return expected[ROLES.index("anonymous" if role == "disabled" else role)]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_every_role_as_specified(
        client: TestClient, db: Database, world: World, disabled: str, role: str,
        method: str, path: str, body: str | None, expected: tuple[int, ...]) -> None:
    _, r = _request(client, db, world, disabled, role, method, path, body)
    want = _want(expected, role)
    assert r.status_code == want, r.text
    if want == 401 and path not in PUBLIC:
        message = "Invalid or expired token" if role == "disabled" else "Not authenticated"
        assert r.json() == {"detail": message}
        assert r.headers["www-authenticate"] == "Bearer"
    if want == 404 and role not in ("owner", "admin"):
        assert r.json() == NOT_FOUND_OF.get(path, NOT_FOUND)
    if want in (200, 201) and path not in NAMES_EVERYONE:
        theirs = world.patient_id if role in ("other_clinician", "other_patient") \
            else world.other_patient_id
        assert theirs not in r.text


def _app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route outside the web pages: the OpenAPI's operations and the
    CDS Hooks services (CORS preflights aside)."""
    found = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
             for method in operations}
    for included in app.router.routes:
        for route in getattr(included, "effective_route_contexts", lambda: iter(()))():
            if route.path.startswith("/cds-services"):
                found |= {(m, route.path) for m in route.methods if m != "OPTIONS"}
    return found


def _as_template(path: str) -> str:
    """A row's path with its placeholders named as the app names them."""
    return (path.replace("{pid}", "{patient_id}").replace("{fresh}", "{patient_id}")
            .replace("{vid}", "{visit_id}").replace("{iid}", "{invitation_id}")
            .replace("{aid}", "{alert_id}").replace("{uid}", "{user_id}")
            .replace("/care-team/nobody", "/care-team/{username}")
            .replace("/articles/" + ARTICLE, "/articles/{article_id}")
            .replace("/cds-services/spinecare-triage", "/cds-services/{service_id}"))


def test_every_route_of_the_app_has_a_row(app: FastAPI) -> None:
    rows = {(method, _as_template(path)) for method, path, _, _ in MATRIX}
    routes = _app_routes(app)
    assert len(routes) >= 40
    assert routes - rows == set(), "routes without a row in MATRIX"
    assert rows - routes == set(), "rows naming no route"


def test_the_route_check_would_see_a_route_without_a_row(app: FastAPI) -> None:
    extra = FastAPI()
    extra.include_router(app.router)

    @extra.get("/api/v1/brand-new")
    def brand_new() -> dict[str, str]:
        return {}

    rows = {(method, _as_template(path)) for method, path, _, _ in MATRIX}
    assert _app_routes(extra) - rows == {("GET", "/api/v1/brand-new")}


@pytest.mark.parametrize(("method", "path", "body", "expected"),
                         [row for row in MATRIX if row[1].startswith(P)],
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX if p.startswith(P)])
def test_a_patient_that_does_not_exist_looks_like_anothers(
        client: TestClient, world: World, method: str, path: str, body: str | None,
        expected: tuple[int, ...]) -> None:
    url = path.format(pid=uuid.uuid4().hex, vid=world.visit_id, iid=uuid.uuid4().hex)
    r = client.request(method, url, headers=bearer(world.owner),
                       **(_body(body, world) if body else {}))
    assert (r.status_code, r.json()) == (404, NOT_FOUND)


def test_an_invalid_token_is_refused_with_its_own_message(client: TestClient) -> None:
    r = client.get("/api/v1/patients", headers=bearer("not-a-token"))
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid or expired token"})


def test_the_patient_list_holds_only_the_callers_patients(client: TestClient,
                                                         world: World) -> None:
    for role, mine, theirs in (("owner", world.patient_id, world.other_patient_id),
                               ("patient", world.patient_id, world.other_patient_id),
                               ("other_clinician", world.other_patient_id, world.patient_id)):
        ids = [p["id"] for p in client.get("/api/v1/patients",
                                           headers=_token(world, role)).json()["items"]]
        assert mine in ids and theirs not in ids
    assert client.get("/api/v1/patients", headers=_token(world, "admin")).json() == \
        {"items": [], "total": 0}


def test_a_clinician_added_to_the_care_team_then_sees_the_patient(
        client: TestClient, world: World, db: Any) -> None:
    from tests.api.fixtures import create_login, login, new_patient

    name = f"colleague-{uuid.uuid4().hex[:6]}"
    create_login(db, name)
    colleague = login(client, name)
    pid = new_patient(client, world.owner)
    assert client.get(f"/api/v1/patients/{pid}", headers=bearer(colleague)).status_code == 404
    r = client.post(f"/api/v1/patients/{pid}/care-team", headers=bearer(world.owner),
                    json={"username": name})
    assert r.status_code == 200 and name in r.json()["care_team"]
    assert client.get(f"/api/v1/patients/{pid}", headers=bearer(colleague)).status_code == 200
