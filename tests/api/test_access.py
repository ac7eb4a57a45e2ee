"""Every route against every role: the clinician of the patient, another clinician, the
patient, another patient, an admin, and no token. Nobody sees another's patient: the answer
is 404 with the same text whether the patient exists or not."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.fixtures import World, bearer, case_bytes

ROLES = ["owner", "other_clinician", "patient", "other_patient", "admin", "anonymous"]
NOT_FOUND = {"detail": "Patient not found"}


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
        return {"json": {"articles": ["living_with_stenosis"]}}
    if kind == "user":
        return {"json": {"username": f"u-{uuid.uuid4().hex}", "role": "clinician",
                         "password": "a long enough password"}}
    return {}


# method, path, body kind, expected status by role
# (owner, other clinician, patient, other patient, admin, anonymous)
P = "/api/v1/patients/{pid}"
MATRIX: list[tuple[str, str, str | None, tuple[int, ...]]] = [
    ("POST", "/api/v1/assess", "case", (200, 200, 200, 200, 200, 401)),
    ("POST", "/api/v1/patients", "patient", (201, 201, 403, 403, 403, 401)),
    ("GET", "/api/v1/patients", None, (200, 200, 200, 200, 200, 401)),
    ("GET", P, None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/care-team", "care_team", (422, 404, 403, 404, 404, 401)),
    ("POST", P + "/invitations", None, (201, 404, 403, 404, 404, 401)),
    ("POST", P + "/visits", "case", (201, 404, 403, 404, 404, 401)),
    ("GET", P + "/visits", None, (200, 404, 200, 404, 404, 401)),
    ("GET", P + "/visits/{vid}", None, (200, 404, 200, 404, 404, 401)),
    ("GET", P + "/outcomes", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/questionnaires", "questionnaire", (201, 404, 201, 404, 404, 401)),
    ("GET", P + "/questionnaires", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/exercise-logs", "exercise_log", (201, 404, 201, 404, 404, 401)),
    ("GET", P + "/exercise-logs", None, (200, 404, 200, 404, 404, 401)),
    ("GET", P + "/education", None, (200, 404, 200, 404, 404, 401)),
    ("POST", P + "/education/send", "education", (200, 404, 403, 404, 404, 401)),
    ("GET", "/api/v1/audit", None, (403, 403, 403, 403, 200, 401)),
    ("POST", "/api/v1/admin/users", "user", (403, 403, 403, 403, 201, 401)),
]


def _token(world: World, role: str) -> dict[str, str]:
    return {} if role == "anonymous" else bearer(getattr(world, role))


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_every_role_as_specified(
        client: TestClient, world: World, role: str, method: str, path: str,
        body: str | None, expected: tuple[int, ...]) -> None:
    url = path.format(pid=world.patient_id, vid=world.visit_id)
    r = client.request(method, url, headers=_token(world, role),
                       **(_body(body, world) if body else {}))
    want = expected[ROLES.index(role)]
    assert r.status_code == want, r.text
    if want == 401:
        assert r.json() == {"detail": "Not authenticated"}
        assert r.headers["www-authenticate"] == "Bearer"
    if want == 404:
        assert r.json() == NOT_FOUND
    if want in (200, 201) and path != "/api/v1/audit":  # the audit names every patient id
        theirs = world.patient_id if role in ("other_clinician", "other_patient") \
            else world.other_patient_id
        assert theirs not in r.text


@pytest.mark.parametrize(("method", "path", "body", "expected"),
                         [row for row in MATRIX if row[1].startswith(P)],
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX if p.startswith(P)])
def test_a_patient_that_does_not_exist_looks_like_anothers(
        client: TestClient, world: World, method: str, path: str, body: str | None,
        expected: tuple[int, ...]) -> None:
    url = path.format(pid=uuid.uuid4().hex, vid=world.visit_id)
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
