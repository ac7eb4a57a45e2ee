"""Visits, outcomes, invitations, tokens, errors and the audit trail through the API."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from spinecare.store.db import Database
from spinecare.store.models import AccessToken, AuditEvent
from tests.api.fixtures import CASES, World, bearer, case_bytes, new_patient, patient_token


def _visits(client: TestClient, token: str, pid: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/v1/patients/{pid}/visits", headers=bearer(token), params=params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_stored_visit_reads_back_exactly_as_it_was_stored(client: TestClient,
                                                           world: World) -> None:
    pid = new_patient(client, world.owner)
    r = client.post(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                    content=case_bytes("dcm-moderate"))
    assert r.status_code == 201
    created = r.json()
    assert r.headers["location"] == f"/api/v1/patients/{pid}/visits/{created['id']}"
    assert created["case"] == orjson.loads(case_bytes("dcm-moderate"))
    assert created["assessment"]["schema"] == "spinecare.assessment/1"
    assert created["plan"]["schema"] == "spinecare.plan/1"
    assert created["versions"] == created["assessment"]["versions"]
    again = client.get(f"/api/v1/patients/{pid}/visits/{created['id']}",
                       headers=bearer(world.owner))
    assert again.content == r.content


def test_visits_list_oldest_first_and_paginate(client: TestClient, world: World) -> None:
    pid = new_patient(client, world.owner)
    ids = []
    for _ in range(5):
        r = client.post(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                        content=case_bytes())
        ids.append(r.json()["id"])
    assert [v["id"] for v in _visits(client, world.owner, pid)["items"]] == ids
    page = _visits(client, world.owner, pid, limit=2, offset=3)
    assert page["total"] == 5 and [v["id"] for v in page["items"]] == ids[3:5]
    assert _visits(client, world.owner, pid, offset=10) == {"items": [], "total": 5}


@pytest.mark.parametrize(("params", "path", "message"), [
    ({"limit": 501}, "limit", "must be <= 500 (got \"501\")"),
    ({"limit": 0}, "limit", "must be >= 1 (got \"0\")"),
    ({"offset": -1}, "offset", "must be >= 0 (got \"-1\")"),
])
def test_pagination_bounds_are_enforced(client: TestClient, world: World,
                                        params: dict[str, int], path: str,
                                        message: str) -> None:
    r = client.get(f"/api/v1/patients/{world.patient_id}/visits", headers=bearer(world.owner),
                   params=params)
    assert r.status_code == 422
    assert r.json() == {"detail": "Invalid request",
                        "problems": [{"path": path, "message": message}]}


def _cli_problems(path: str) -> list[dict[str, str]]:
    run = subprocess.run([sys.executable, "-m", "spinecare", "assess", "--json", path],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    out = []
    for line in run.stderr.splitlines():
        _, where, message = line.split(": ", 2)
        out.append({"path": where, "message": message})
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in (CASES / "invalid").glob("*.json")))
def test_invalid_cases_name_the_same_json_paths_as_the_command_line(
        client: TestClient, world: World, name: str) -> None:
    path = CASES / "invalid" / name
    expected = {"detail": "Invalid case", "problems": _cli_problems(str(path))}
    for url in ("/api/v1/assess", f"/api/v1/patients/{world.patient_id}/visits"):
        r = client.post(url, headers=bearer(world.owner), content=path.read_bytes())
        assert (r.status_code, r.json()) == (422, expected)


def test_an_idempotency_key_replays_the_first_visit(client: TestClient, world: World) -> None:
    pid = new_patient(client, world.owner)
    url, key = f"/api/v1/patients/{pid}/visits", {"Idempotency-Key": "visit-1"}
    first = client.post(url, headers={**bearer(world.owner), **key}, content=case_bytes())
    second = client.post(url, headers={**bearer(world.owner), **key}, content=case_bytes())
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert _visits(client, world.owner, pid)["total"] == 1
    other = client.post(url, headers={**bearer(world.owner), **key},
                        content=case_bytes("dcm-moderate"))
    assert (other.status_code, other.json()) == (
        409, {"detail": "Idempotency-Key was already used for a different case"})
    # Keys belong to one patient: the same key for another patient is a new visit.
    pid2 = new_patient(client, world.owner)
    r = client.post(f"/api/v1/patients/{pid2}/visits", headers={**bearer(world.owner), **key},
                    content=case_bytes())
    assert r.status_code == 201


def test_outcomes_follow_each_measure_across_visits(client: TestClient, world: World) -> None:
    pid = new_patient(client, world.owner)
    case = orjson.loads(case_bytes())
    for odi in ([3] * 10, [1] * 10):
        case["instruments"]["odi"] = odi
        client.post(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                    content=orjson.dumps(case))
    r = client.get(f"/api/v1/patients/{pid}/outcomes", headers=bearer(world.owner))
    assert r.status_code == 200
    body = r.json()
    assert body["visits"] == 2
    odi = body["measures"]["odi"]
    assert [p["value"] for p in odi["series"]] == [60.0, 20.0]
    assert odi["changes"][0]["change"] == -40.0
    assert odi["changes"][0]["passes_mcid_absolute"] is True
    assert odi["status"] == "improved"
    visit_ids = [v["id"] for v in _visits(client, world.owner, pid)["items"]]
    assert [p["visit_id"] for p in odi["series"]] == visit_ids


def test_an_invitation_signs_the_patient_in_once(client: TestClient, world: World) -> None:
    pid = new_patient(client, world.owner)
    r = client.post(f"/api/v1/patients/{pid}/invitations", headers=bearer(world.owner))
    token = r.json()["token"]
    assert r.json()["link"].endswith(f"/invite#{token}")
    first = client.post("/api/v1/auth/invitation", json={"token": token})
    second = client.post("/api/v1/auth/invitation", json={"token": token})
    assert first.status_code == 200
    assert (second.status_code, second.json()) == (
        401, {"detail": "Invalid, expired or already used invitation"})
    forged = client.post("/api/v1/auth/invitation", json={"token": token[:-2] + "xx"})
    assert forged.status_code == 401
    patient = first.json()["access_token"]
    assert client.get(f"/api/v1/patients/{pid}", headers=bearer(patient)).status_code == 200


def test_a_revoked_token_is_refused(client: TestClient, world: World) -> None:
    token = patient_token(client, world.owner, world.patient_id)
    assert client.get("/api/v1/patients", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/revoke", headers=bearer(token)).status_code == 204
    r = client.get("/api/v1/patients", headers=bearer(token))
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid or expired token"})


def test_an_expired_token_is_refused(client: TestClient, world: World, db: Database) -> None:
    from spinecare.store.accounts import hash_token

    token = patient_token(client, world.owner, world.patient_id)
    with db.session() as session:
        session.execute(update(AccessToken).where(AccessToken.token_hash == hash_token(token))
                        .values(expires_at=AccessToken.created_at - timedelta(seconds=1)))
    assert client.get("/api/v1/patients", headers=bearer(token)).status_code == 401


def test_wrong_passwords_are_refused_alike_for_known_and_unknown_users(
        client: TestClient) -> None:
    for username in ("demo-nobody", "admin"):
        r = client.post("/api/v1/auth/token", data={"username": username, "password": "x"})
        assert (r.status_code, r.json()) == (401, {"detail": "Incorrect username or password"})


def test_every_patient_read_and_write_is_audited_with_ids_only(
        client: TestClient, world: World, db: Database) -> None:
    name = f"Audit Probe {uuid.uuid4().hex}"
    r = client.post("/api/v1/patients", headers=bearer(world.owner),
                    json={"display_name": name, "birth_year": 1950})
    pid = r.json()["id"]
    client.post(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                content=case_bytes())
    client.get(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner))
    client.get(f"/api/v1/patients/{pid}/outcomes", headers=bearer(world.owner))
    client.get(f"/api/v1/patients/{pid}", headers=bearer(world.other_clinician))
    r = client.get("/api/v1/audit", headers=bearer(world.admin),
                   params={"patient_id": pid})
    events = [(e["action"], e["outcome"]) for e in r.json()["items"]]
    assert events == [("patient.create", "ok"), ("visit.create", "ok"), ("visit.list", "ok"),
                      ("outcomes.read", "ok"), ("patient.read", "denied")]
    assert all(e["actor_id"] and e["at"] for e in r.json()["items"])
    with db.session() as session:
        rows = session.scalars(select(AuditEvent)).all()
        text = orjson.dumps([{c.name: str(getattr(row, c.name))
                              for c in AuditEvent.__table__.columns} for row in rows])
    assert name.encode() not in text
    assert b"lumbar" not in text and b"odi" not in text
