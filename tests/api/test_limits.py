"""Limits on a real loopback server (spinecare's uvicorn configuration, raw sockets): bodies over
their route's limit are refused before they are read, request headers have a deadline, the
connections a cap; and a refusal (422) never quotes a secret or a large input back."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import pytest
import uvicorn
from fastapi import Body, FastAPI
from fastapi.testclient import TestClient

from spinecare.app import create_app
from spinecare.http.limits import BODY_LIMITS, DEFAULT_BODY_LIMIT, MIB, body_limit
from spinecare.http.server import ServerLimits, server_config
from spinecare.store.db import Database
from tests.api.fixtures import World, bearer, make_settings

HUNDRED_MB = 100 * MIB


class GuardedServer:
    """The app behind :func:`spinecare.http.server.server_config`, on a free loopback port."""

    def __init__(self, app: FastAPI, limits: ServerLimits):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(app, host="127.0.0.1", port=self.port, limits=limits,
                               log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> GuardedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive()
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def guarded(app: FastAPI) -> Iterator[GuardedServer]:
    with GuardedServer(app, ServerLimits(header_timeout=1.0, keep_alive=5, max_connections=50,
                                         body_idle=1.0)) as server:
        yield server


def read_response(conn: socket.socket, timeout: float = 10) -> bytes:
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_every_route_has_a_body_limit_and_sign_in_is_the_smallest() -> None:
    assert body_limit("/api/v1/auth/token") == min(r.max_bytes for r in BODY_LIMITS)
    assert body_limit("/login") <= 8 * 1024
    assert body_limit("/api/v1/patients/abc/visits") == body_limit("/api/v1/assess") == MIB
    assert body_limit("/api/v1/patients") == DEFAULT_BODY_LIMIT


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/assess",
                                  "/api/v1/patients/0123/visits", "/login"])
def test_a_declared_100_mb_body_is_refused_before_one_byte_of_it_is_sent(
        guarded: GuardedServer, path: str) -> None:
    with guarded.connect() as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {HUNDRED_MB}\r\n\r\n".encode())
        # Not one byte of the body has left the client: the answer cannot have read it.
        response = read_response(conn)
    assert status_of(response) == 413
    assert b"connection: close" in response.lower()
    body = response.partition(b"\r\n\r\n")[2]
    if path.startswith("/api/"):
        assert "too large" in orjson.loads(body)["detail"]
    else:
        assert b"too large" in body and b"<h1>" in body


def send_chunked(conn: socket.socket, head: bytes) -> int:
    """Send ``head`` and then up to 100 MB in chunks until an answer is waiting; the bytes
    of body sent by then."""
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    conn.sendall(head)
    while sent < HUNDRED_MB:
        readable, _, _ = select.select([conn], [], [], 0)
        if readable:
            return sent
        try:
            conn.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            return sent
        sent += len(chunk)
    raise AssertionError("the server read the whole 100 MB")


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_chunked_100_mb_body_is_cut_off_after_the_limit(guarded: GuardedServer, world: World,
                                                          signed_in: bool) -> None:
    """No Content-Length: the server counts and stops reading just past the limit (or reads
    none of it, without a token); the client has its answer while it still has almost all of
    its 100 MB to send, and the answer is not lost to a connection reset."""
    token = f"Authorization: Bearer {world.owner}\r\n".encode() if signed_in else b""
    with guarded.connect() as conn:
        sent = send_chunked(conn, b"POST /api/v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Content-Type: application/json\r\n" + token +
                                  b"Transfer-Encoding: chunked\r\n\r\n")
        response = read_response(conn)
    assert status_of(response) == (413 if signed_in else 401)
    # Past the 1 MiB limit only by what the sockets' buffers hold.
    assert sent < 16 * MIB, sent


def test_a_body_under_its_limit_is_read(guarded: GuardedServer, world: World) -> None:
    case = (Path(__file__).resolve().parent.parent / "data" / "cases" /
            "lss-classic.case.json").read_bytes()
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        r = client.post("/api/v1/assess", content=case, headers=bearer(world.owner))
        assert r.status_code == 200, r.text
        # A large but valid JSON body past the default limit (a patient is tiny).
        r = client.post("/api/v1/patients", headers=bearer(world.owner),
                        json={"display_name": "x" * (DEFAULT_BODY_LIMIT + 10),
                              "birth_year": 1950})
        assert r.status_code == 413


def test_a_connection_that_never_finishes_its_headers_is_cut_off(
        guarded: GuardedServer) -> None:
    started = time.monotonic()
    with guarded.connect() as conn:
        conn.sendall(b"GET /api/v1/patients HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        # A byte every 0.2 s, as a slow-headers client keeps a connection alive.
        while time.monotonic() - started < 8:
            readable, _, _ = select.select([conn], [], [], 0.2)
            if readable and conn.recv(1024) == b"":
                closed = True
                break
            try:
                conn.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
    assert closed, "the server kept a connection without headers for 8 s"
    assert time.monotonic() - started < 4  # the deadline is 1 s in this server


def test_the_header_deadline_applies_again_after_an_answer(guarded: GuardedServer) -> None:
    with guarded.connect() as conn:
        conn.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status_of(read_response(conn)) == 200
        conn.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127")  # and then nothing
        started = time.monotonic()
        conn.settimeout(8)
        assert conn.recv(1024) == b""
        assert time.monotonic() - started < 4


def test_connections_past_the_cap_are_answered_503(app: FastAPI) -> None:
    with GuardedServer(app, ServerLimits(header_timeout=5, max_connections=2)) as server:
        held = [server.connect(), server.connect()]
        try:
            time.sleep(0.3)  # both accepted by the server's loop
            with server.connect() as third:
                response = read_response(third)
            assert status_of(response) == 503
            assert b"retry-after" in response.lower()
        finally:
            for conn in held:
                conn.close()
        time.sleep(0.3)
        with server.connect() as again:
            again.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert status_of(read_response(again)) == 200


# --- refusals quote no secret and no large input -----------------------------------------------


def test_a_rejected_password_is_not_echoed(client: TestClient, world: World) -> None:
    secret = "tooShort-9"  # under the 12-character minimum
    r = client.post("/api/v1/admin/users", headers=bearer(world.admin),
                    json={"username": "new-clinician", "role": "clinician",
                          "password": secret})
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "password"
    assert secret not in r.text
    r = client.post("/api/v1/admin/users", headers=bearer(world.admin),
                    json={"username": "new-clinician", "role": "clinician",
                          "password": ["not", "a", secret]})
    assert r.status_code == 422 and secret not in r.text


def test_a_rejected_invitation_token_is_not_echoed(client: TestClient) -> None:
    token = "t" * 1001
    r = client.post("/api/v1/auth/invitation", json={"token": token})
    assert r.status_code == 422 and "tttttttttt" not in r.text


def test_a_long_rejected_value_is_shortened(client: TestClient, world: World) -> None:
    long_value = "A" * 5000
    r = client.post("/api/v1/patients", headers=bearer(world.owner),
                    json={"display_name": "Ann", "birth_year": long_value})
    assert r.status_code == 422
    assert "A" * 100 not in r.text and len(r.content) < 1000
    case = orjson.loads((Path(__file__).resolve().parent.parent / "data" / "cases" /
                         "lss-classic.case.json").read_bytes())
    case["patient"]["sex"] = "Q" * 20000
    r = client.post("/api/v1/assess", headers=bearer(world.owner), content=orjson.dumps(case))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "patient.sex"
    assert "Q" * 100 not in r.text and len(r.content) < 2000


def test_every_answer_carries_the_security_headers(client: TestClient, world: World) -> None:
    answers = [client.get(f"/api/v1/patients/{world.patient_id}", headers=bearer(world.owner)),
               client.post("/api/v1/auth/invitation", json={"token": "nope"}),
               client.get("/api/v1/patients"),
               client.get("/login"),
               client.get("/openapi.json")]
    for r in answers:
        assert r.headers["cache-control"] == "no-store", r.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "strict-transport-security" not in r.headers  # served over plain http
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get(
        "cache-control", "")
    assert static.headers["x-content-type-options"] == "nosniff"


def test_hsts_is_sent_when_the_public_url_is_https(db: Database, tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, db.url, public_url="https://clinic.example/"), db)
    with TestClient(app) as client:
        r = client.get("/login")
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_an_unexpected_error_logs_no_request_content(db: Database, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A database error quotes its parameters (a patient's name); neither the log nor the
    answer may carry it."""
    app = create_app(make_settings(tmp_path, db.url), db)

    def fails(name: Annotated[str, Body(embed=True)]) -> None:
        raise RuntimeError(f"(psycopg.DataError) [parameters: {{'display_name': '{name}'}}]")

    app.add_api_route("/api/v1/boom", fails, methods=["POST"])
    app.add_api_route("/boom", fails, methods=["POST"])
    with caplog.at_level("DEBUG"), TestClient(app, raise_server_exceptions=False) as client:
        api = client.post("/api/v1/boom", json={"name": "Jane Doe-Smith"})
        page = client.post("/boom", json={"name": "Jane Doe-Smith"})
    assert api.status_code == page.status_code == 500
    assert api.json() == {"detail": "Internal server error"}
    assert "text/html" in page.headers["content-type"]
    assert "Doe-Smith" not in api.text + page.text + caplog.text
    assert "RuntimeError" in caplog.text and "test_limits.py" in caplog.text


def test_a_body_that_stops_arriving_is_cut_off(guarded: GuardedServer, world: World) -> None:
    started = time.monotonic()
    with guarded.connect() as conn:
        conn.sendall(f"POST /api/v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                     f"Bearer {world.owner}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 1000\r\n\r\n{{".encode())
        closed = False
        # A byte at first, then nothing: the 1 s idle deadline of this server cuts it off.
        conn.settimeout(10)
        try:
            closed = conn.recv(1024) == b""
        except ConnectionResetError:
            closed = True
    assert closed
    assert time.monotonic() - started < 5


def test_a_slow_body_that_keeps_arriving_is_read(guarded: GuardedServer, world: World) -> None:
    case = (Path(__file__).resolve().parent.parent / "data" / "cases" /
            "lss-classic.case.json").read_bytes()
    with guarded.connect() as conn:
        conn.sendall(f"POST /api/v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                     f"Bearer {world.owner}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(case)}\r\n\r\n".encode())
        step = len(case) // 4 + 1
        for start in range(0, len(case), step):  # 4 parts over 1.8 s, each within 1 s
            time.sleep(0.6)
            conn.sendall(case[start:start + step])
        assert status_of(read_response(conn)) == 200


def test_the_host_header_does_not_change_the_api_invitation_link(client: TestClient,
                                                                 world: World) -> None:
    r = client.post(f"/api/v1/patients/{world.patient_id}/invitations",
                    headers={**bearer(world.owner), "Host": "evil.example",
                             "X-Forwarded-Host": "evil.example"})
    assert r.status_code == 201
    assert r.json()["link"].startswith("http://127.0.0.1:8000/invite#")


def test_spinecare_serve_applies_its_limits_and_public_url(tmp_path: Path) -> None:
    """The command itself: its server cuts off slow headers and its links use --public-url."""
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SPINECARE_DATA_DIR": str(tmp_path / "data")}
    env.pop("SPINECARE_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "spinecare", "serve", "--port", str(port), "--demo",
         "--header-timeout", "1", "--public-url", "https://clinic.example",
         "--no-access-log"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["cache-control"] == "no-store"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            started = time.monotonic()
            conn.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
            assert conn.recv(1024) == b""
            assert time.monotonic() - started < 5
        assert (tmp_path / "data").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "https://clinic.example/login" in out
