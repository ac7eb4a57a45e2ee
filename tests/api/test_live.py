"""Against a real uvicorn server over HTTP on loopback: a smoke test, 200 concurrent visit
submissions (some repeating an Idempotency-Key), and a backup taken while it serves."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from spinecare.store.db import Database
from tests.api.fixtures import (
    LiveServer,
    World,
    bearer,
    case_bytes,
    fresh_postgres_database,
    new_patient,
)


@pytest.fixture(scope="module")
def http(live_server: LiveServer):  # type: ignore[no-untyped-def]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(base_url=live_server.url, limits=limits, timeout=60) as c:
        yield c


def test_the_server_answers_over_http(http: httpx.Client, world: World) -> None:
    assert http.get("/openapi.json").json()["info"]["title"] == "spinecare"
    r = http.post("/api/v1/assess", headers=bearer(world.owner), content=case_bytes())
    assert r.status_code == 200 and r.json()["triage"]["level"]
    assert http.post("/api/v1/assess", content=case_bytes()).status_code == 401
    r = http.get(f"/api/v1/patients/{world.patient_id}", headers=bearer(world.other_clinician))
    assert (r.status_code, r.json()) == (404, {"detail": "Patient not found"})


def test_200_concurrent_submissions_store_each_visit_exactly_once(
        http: httpx.Client, world: World) -> None:
    pid = new_patient(http, world.owner)
    keys = [f"k-{n % 40}" for n in range(100)]  # 40 keys, each sent 2 or 3 times
    jobs: list[str | None] = [*keys, *([None] * 100)]
    body = case_bytes()

    def submit(key: str | None) -> tuple[str | None, int, str]:
        headers = bearer(world.owner) | ({"Idempotency-Key": key} if key else {})
        r = http.post(f"/api/v1/patients/{pid}/visits", headers=headers, content=body)
        return key, r.status_code, r.json().get("id", r.text)

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(submit, jobs))
    assert Counter(status for _, status, _ in results) == {201: 140, 200: 60}
    by_key: dict[str, set[str]] = {}
    for key, _, visit_id in results:
        if key:
            by_key.setdefault(key, set()).add(visit_id)
    assert all(len(ids) == 1 for ids in by_key.values()) and len(by_key) == 40
    stored = http.get(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                      params={"limit": 500}).json()
    assert stored["total"] == 140
    stored_ids = {v["id"] for v in stored["items"]}
    returned_ids = {visit_id for _, _, visit_id in results}
    assert stored_ids == returned_ids


def _spinecare(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spinecare", *args], input=stdin,
                          capture_output=True, text=True, check=False, timeout=120)


def test_a_backup_taken_while_serving_restores_every_visit(
        http: httpx.Client, world: World, db: Database, tmp_path: Path) -> None:
    pid = new_patient(http, world.owner)
    for name in ("lss-classic", "dcm-moderate", "ces-retention"):
        assert http.post(f"/api/v1/patients/{pid}/visits", headers=bearer(world.owner),
                         content=case_bytes(name)).status_code == 201
    target = tmp_path / "backup.jsonl.gz"
    with ThreadPoolExecutor(max_workers=4) as pool:
        # Writes keep arriving while the backup runs.
        writes = [pool.submit(http.post, f"/api/v1/patients/{pid}/visits",
                              headers=bearer(world.owner), content=case_bytes())
                  for _ in range(8)]
        run = _spinecare("backup", str(target), "--database", db.url)
        assert all(w.result().status_code == 201 for w in writes)
    assert run.returncode == 0, run.stderr
    with db.session(read_only=True) as session:
        from spinecare.store import records

        at_backup = {v.id for v in records.list_visits(session, pid)[0]}
    if db.dialect == "sqlite":
        restore_url = f"sqlite:///{tmp_path / 'restored.db'}"
        _restore_and_compare(target, restore_url, db)
    else:
        import os

        with fresh_postgres_database(os.environ["SPINECARE_TEST_POSTGRES_URL"]) as url:
            _restore_and_compare(target, url, db)
    assert at_backup  # the patient's visits were there before the backup started


def _restore_and_compare(backup: Path, url: str, source: Database) -> None:
    run = _spinecare("restore", str(backup), "--database", url)
    assert run.returncode == 0, run.stderr
    restored = Database(url)
    try:
        from sqlalchemy import select

        from spinecare.store.models import Visit

        with restored.session(read_only=True) as session:
            copied = {v.id: v for v in session.scalars(select(Visit))}
        with source.session(read_only=True) as session:
            original = {v.id: v for v in session.scalars(select(Visit)) if v.id in copied}
        # Every visit in the copy is identical to the source; none in the snapshot is missing.
        assert len(copied) >= 3 and set(original) == set(copied)
        for visit_id, v in copied.items():
            o = original[visit_id]
            assert (v.case_json, v.assessment_json, v.plan_json, v.created_at,
                    v.engine_version, v.knowledge_version, v.patient_id) == \
                (o.case_json, o.assessment_json, o.plan_json, o.created_at,
                 o.engine_version, o.knowledge_version, o.patient_id)
        assert orjson.loads(next(iter(copied.values())).assessment_json)["versions"]
        again = _spinecare("restore", str(backup), "--database", url)
        assert again.returncode == 2 and "restore into an empty database" in again.stderr
    finally:
        restored.dispose()


def test_create_user_reads_the_password_from_stdin(db: Database, http: httpx.Client) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    run = _spinecare("admin", "create-user", name, "--role", "clinician", "--password-stdin",
                     "--database", db.url, stdin="a long enough password\n")
    assert run.returncode == 0, run.stderr
    r = http.post("/api/v1/auth/token",
                  data={"username": name, "password": "a long enough password"})
    assert r.status_code == 200
    short = _spinecare("admin", "create-user", name + "x", "--role", "clinician",
                       "--password-stdin", "--database", db.url, stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
