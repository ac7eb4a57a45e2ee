"""Sign-in under attack, against a real server on loopback: password guessing is throttled on
both doors with a 429 and Retry-After, a login flood does not stall other requests, and every
refusal leaves an audit event with who, where from and why."""

from __future__ import annotations

import math
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from spinecare.app import create_app
from spinecare.store.audit import verify_chain
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent
from spinecare.store.throttle import ThrottlePolicy
from tests.api.fixtures import (
    PASSWORD,
    LiveServer,
    World,
    bearer,
    case_bytes,
    create_login,
    make_settings,
    new_patient,
)


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(base_url=live_server.url, limits=limits, timeout=60) as c:
        yield c


def _guess(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/api/v1/auth/token", data={"username": username, "password": password})


def _events(db: Database, **where: str) -> list[AuditEvent]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AuditEvent).filter_by(**where)
                                    .order_by(AuditEvent.id)))


def test_the_201st_guess_is_refused_and_the_right_password_works_after_the_lock(
        http: httpx.Client, db: Database) -> None:
    name = f"guessed-{uuid.uuid4().hex[:6]}"
    create_login(db, name)
    answers = [_guess(http, name, f"wrong password {n}") for n in range(200)]
    statuses = Counter(r.status_code for r in answers)
    # Five free guesses, a sixth that sets the first lock (1 s), then refusals without a
    # check; each guess let through after a lock doubles the next (1, 2, 4, 8... s), so in the
    # few seconds the 200 take only a handful more are checked.
    assert [r.status_code for r in answers[:7]] == [401] * 6 + [429]
    assert statuses[401] <= 12 and statuses[401] + statuses[429] == 200
    refused = _guess(http, name, PASSWORD)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many failed sign-ins; try again later"}
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2 ** (statuses[401] - 6)
    time.sleep(wait + 0.1)
    assert _guess(http, name.upper(), PASSWORD).status_code == 200
    # Cleared by the success: the real user is not left one failure away from a lock.
    assert _guess(http, name, "one more typo").status_code == 401
    assert _guess(http, name, PASSWORD).status_code == 200
    failed = [e for e in _events(db, action="auth.login") if e.username == name]
    assert {(e.outcome, e.address) for e in failed} == {
        ("denied", "127.0.0.1"), ("throttled", "127.0.0.1"), ("ok", "127.0.0.1")}
    assert sum(e.outcome == "throttled" for e in failed) == statuses[429] + 1
    assert {e.reason for e in failed if e.outcome == "denied"} == {"wrong password"}


def test_guessing_at_unknown_names_is_throttled_the_same_way(http: httpx.Client) -> None:
    name = f"nobody-{uuid.uuid4().hex[:6]}"
    statuses = [_guess(http, name, "whatever it is").status_code for _ in range(8)]
    assert statuses == [401] * 6 + [429] * 2


def test_the_web_sign_in_is_throttled_with_a_page_saying_how_long_to_wait(
        http: httpx.Client, db: Database) -> None:
    name = f"webguess-{uuid.uuid4().hex[:6]}"
    create_login(db, name)
    page = http.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    statuses = []
    for n in range(8):
        r = http.post("/login", data={"username": name, "password": f"nope {n}",
                                      "csrf_token": csrf})
        statuses.append(r.status_code)
    assert statuses == [401] * 6 + [429] * 2
    assert r.headers["Retry-After"] in {"1", "2"}
    assert "Too many sign-in attempts. Please wait" in r.text
    assert r.headers["Cache-Control"] == "no-store"


def test_every_refusal_is_audited_with_who_where_from_and_why(
        http: httpx.Client, db: Database, world: World) -> None:
    before = max((e.id for e in _events(db)), default=0)
    assert http.get("/api/v1/patients").status_code == 401
    assert http.get("/api/v1/patients", headers=bearer("forged")).status_code == 401
    r = http.post("/api/v1/patients", headers=bearer(world.owner),
                  json={"display_name": "X", "birth_year": "secret-value"})
    assert r.status_code == 422
    r = http.post(f"/api/v1/patients/{world.patient_id}/visits", headers=bearer(world.patient),
                  content=case_bytes())
    assert r.status_code == 403
    assert http.get("/api/v1/audit", headers=bearer(world.owner)).status_code == 403
    new = [e for e in _events(db) if e.id > before]
    refused = [(e.action, e.actor_role, e.outcome, e.reason) for e in new
               if e.outcome != "ok"]
    assert refused == [
        ("request.refused", None, "denied",
         "401 Unauthorized: Not authenticated (GET /api/v1/patients)"),
        ("request.refused", None, "denied",
         "401 Unauthorized: Invalid or expired token (GET /api/v1/patients)"),
        ("request.refused", "clinician", "denied",
         "422 Unprocessable Content: Invalid request at birth_year (POST /api/v1/patients)"),
        ("visit.create", "patient", "denied", "patients cannot add visits"),
        ("request.refused", "clinician", "denied",
         "403 Forbidden: Only admins can do this (GET /api/v1/audit)"),
    ]
    assert {(e.action, e.address) for e in new if e.address != "127.0.0.1"} == set()
    assert not any("secret-value" in (e.reason or "") for e in new)
    # Admins read the address and the reason through the API.
    total = http.get("/api/v1/audit", headers=bearer(world.admin), params={"limit": 1}
                     ).json()["total"]
    items = http.get("/api/v1/audit", headers=bearer(world.admin),
                     params={"limit": 50, "offset": max(0, total - 40)}).json()["items"]
    assert {"action": "visit.create", "address": "127.0.0.1", "outcome": "denied",
            "reason": "patients cannot add visits"}.items() <= next(
        i for i in items if i["reason"] == "patients cannot add visits").items()


def test_a_login_flood_leaves_a_patient_read_fast(db: Database,
                                                  tmp_path_factory: pytest.TempPathFactory,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The finding: 30 parallel logins for an unknown user took a patient read from 7 ms to
    6.8 s (p50), because argon2 ran inside the transaction holding SQLite's write lock. With
    throttling off (the worst case: every login hashes), the read's p99 stays far below that.
    The bound asserted is generous for a loaded 2-core machine; ``make bench-api`` prints the
    figure against its 100 ms target."""
    settings = make_settings(tmp_path_factory.mktemp("flood"), db.url,
                             login_throttle=ThrottlePolicy(enabled=False))
    app: FastAPI = create_app(settings, db)
    name = f"flood-{uuid.uuid4().hex[:6]}"
    create_login(db, name)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        token = http.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD}
                          ).json()["access_token"]
        pid = new_patient(http, token)
        read = f"/api/v1/patients/{pid}"
        quiet: list[float] = []
        for _ in range(40):
            start = time.perf_counter()
            assert http.get(read, headers=bearer(token)).status_code == 200
            quiet.append(time.perf_counter() - start)
            time.sleep(0.01)
        latencies: list[float] = []
        flooding = threading.Event()

        def reads() -> None:
            with httpx.Client(base_url=server.url, timeout=120) as reader:
                while not flooding.is_set():
                    start = time.perf_counter()
                    assert reader.get(read, headers=bearer(token)).status_code == 200
                    latencies.append(time.perf_counter() - start)
                    time.sleep(0.01)

        # Made before the flood: 30 clients made at once hold this process's GIL long
        # enough to be measured as the server's slowness. A loaded machine hashes slowly,
        # hence the long timeout.
        attackers = [httpx.Client(base_url=server.url, timeout=600) for _ in range(30)]

        def flood(n: int) -> int:
            return _guess(attackers[n], "no-such-user", "a wrong password").status_code

        reader = threading.Thread(target=reads)
        reader.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(flood, range(30)))
        elapsed = time.perf_counter() - started
        flooding.set()
        reader.join()
        for attacker in attackers:
            attacker.close()
    assert statuses == [401] * 30
    assert len(latencies) >= 20
    p99 = _p99(latencies)
    with capsys.disabled():
        print(f"\nlogin flood: 30 logins in {elapsed:.1f} s; patient read before it: p50 "
              f"{statistics.median(quiet) * 1000:.1f} ms, p99 {_p99(quiet) * 1000:.1f} ms; "
              f"during it: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 "
              f"{p99 * 1000:.1f} ms over {len(latencies)} reads")
    # Before the fix the read took 6.8 s (p50). Generous for a loaded machine, where the read
    # is slow even without the flood; `make bench-api` prints the figure against 100 ms.
    assert p99 < max(0.5, 4 * _p99(quiet))


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, math.ceil(0.99 * len(values)) - 1)]


def test_an_admin_cannot_create_a_lookalike_name_or_a_blank_password(
        http: httpx.Client, world: World) -> None:
    name = f"carol-{uuid.uuid4().hex[:6]}"

    def create(username: str, password: str) -> httpx.Response:
        return http.post("/api/v1/admin/users", headers=bearer(world.admin), json={
            "username": username, "role": "clinician", "password": password})

    assert create(name, PASSWORD).status_code == 201
    for lookalike in (name.upper(), "\u0441" + name[1:]):  # Cyrillic с
        r = create(lookalike, PASSWORD)
        assert r.status_code == 422
        assert [p["path"] for p in r.json()["problems"]] == ["username"]
        assert "is taken" in r.json()["problems"][0]["message"]
    r = create(f"dave-{uuid.uuid4().hex[:6]}", " " * 12)
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "password",
                                     "message": "the password must not be only spaces"}]
    # A care team takes the clinician by any spelling of the name.
    pid = new_patient(http, world.owner)
    r = http.post(f"/api/v1/patients/{pid}/care-team", headers=bearer(world.owner),
                  json={"username": name.upper()})
    assert r.status_code == 200, r.text


def test_concurrent_requests_keep_the_audit_chain_whole(http: httpx.Client, db: Database,
                                                         world: World) -> None:
    """Appenders serialise on the chain's head (the write lock on SQLite, an advisory lock on
    PostgreSQL): many requests at once still leave one unbroken chain."""
    def work(n: int) -> int:
        if n % 3 == 0:
            return http.get("/api/v1/patients", headers=bearer("forged")).status_code
        if n % 3 == 1:
            return http.get(f"/api/v1/patients/{world.patient_id}",
                            headers=bearer(world.owner)).status_code
        return http.post(f"/api/v1/patients/{world.patient_id}/visits",
                         headers=bearer(world.owner), content=case_bytes()).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = Counter(pool.map(work, range(120)))
    assert statuses == {401: 40, 200: 40, 201: 40}
    with db.session(read_only=True) as session:
        report = verify_chain(session)
    assert report.problems == [] and report.events > 120
