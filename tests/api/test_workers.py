"""`spinecare serve --workers N` (issue 13, part 8): a real server with two worker processes on
PostgreSQL, on loopback. Each keep-alive connection is traced to the worker process that holds
its socket (through /proc), so the test knows that every worker answered: a disabled user's
token and a revoked token are refused at once by each of them.

SQLite refuses more than one worker with a clear message."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from spinecare.store.accounts import create_user
from spinecare.store.db import Database
from tests.api.fixtures import PASSWORD, POSTGRES_ENV, fresh_postgres_database

SPINECARE = str(Path(sys.executable).with_name("spinecare"))
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="traces connections to workers through /proc")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Server:
    """``spinecare serve --workers N`` in a subprocess, on a free loopback port."""

    def __init__(self, url: str, workers: int, data_dir: Path):
        self.port = _free_port()
        env = {**os.environ, "SPINECARE_DATA_DIR": str(data_dir)}
        env.pop("SPINECARE_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [SPINECARE, "serve", "--database", url, "--port", str(self.port),
             "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.workers = workers

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
            if len(worker_pids(self.process.pid)) == self.workers:
                try:
                    conn = self.connect()
                    status, _ = request(conn, "GET", "/openapi.json")
                    conn.close()
                    if status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.connect()
        return conn

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (its spawned children, not the
    multiprocessing resource tracker)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def worker_of(conn: http.client.HTTPConnection, server_port: int, pids: list[int]) -> int:
    """The worker process holding the server side of ``conn``."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and \
                int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode is not None, "no server socket for the connection"
    (owner,) = [pid for pid in pids if inode in _socket_inodes(pid)]
    return owner


def request(conn: http.client.HTTPConnection, method: str, path: str,
            body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def login(server: Server, username: str) -> str:
    conn = server.connect()
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    status, body = request(conn, "POST", "/api/v1/auth/token", form,
                           {"Content-Type": "application/x-www-form-urlencoded"})
    conn.close()
    assert status == 200, body
    token: str = json.loads(body)["access_token"]
    return token


def one_connection_per_worker(server: Server, token: str) -> dict[int, http.client.HTTPConnection]:
    """Keep-alive connections, one held by each worker, each having answered ``token`` (so a
    per-process cache, if there were one, would hold it)."""
    pids = worker_pids(server.process.pid)
    found: dict[int, http.client.HTTPConnection] = {}
    spare = []
    for _ in range(200):
        conn = server.connect()
        status, _ = request(conn, "GET", "/api/v1/patients", headers=_bearer(token))
        assert status == 200
        pid = worker_of(conn, server.port, pids)
        if pid in found:
            spare.append(conn)
        else:
            found[pid] = conn
        if len(found) == len(pids):
            break
    for conn in spare:
        conn.close()
    assert sorted(found) == pids, "the connections never reached every worker"
    return found


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"several workers need PostgreSQL: set {POSTGRES_ENV} (start a throwaway "
                    "server with `bash scripts/pg-test-server`)")
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = Database(pg_url)
    with db.session() as session:
        create_user(session, "admin", "admin", PASSWORD)
    db.dispose()
    running = Server(pg_url, 2, tmp_path_factory.mktemp("serve"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _new_clinician(pg_url: str) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    db = Database(pg_url, migrate_schema=False)
    with db.session() as session:
        create_user(session, name, "clinician", PASSWORD)
    db.dispose()
    return name


def test_a_disabled_users_token_fails_at_once_on_every_worker(server: Server,
                                                             pg_url: str) -> None:
    name = _new_clinician(pg_url)
    token, admin = login(server, name), login(server, "admin")
    by_worker = one_connection_per_worker(server, token)
    assert len(by_worker) == 2

    first = next(iter(by_worker.values()))
    status, body = request(first, "GET", "/api/v1/admin/users?limit=500",
                           headers=_bearer(admin))
    (user_id,) = [u["id"] for u in json.loads(body)["items"] if u["username"] == name]
    status, body = request(first, "POST", f"/api/v1/admin/users/{user_id}/disable",
                           headers=_bearer(admin))
    assert status == 200, body
    for pid, conn in by_worker.items():
        status, body = request(conn, "GET", "/api/v1/patients", headers=_bearer(token))
        assert status == 401, (pid, body)
        conn.close()


def test_a_token_revoked_through_one_worker_fails_at_once_on_the_others(
        server: Server, pg_url: str) -> None:
    token = login(server, _new_clinician(pg_url))
    by_worker = one_connection_per_worker(server, token)
    first = next(iter(by_worker.values()))
    assert request(first, "POST", "/api/v1/auth/revoke", headers=_bearer(token))[0] == 204
    for conn in by_worker.values():
        assert request(conn, "GET", "/api/v1/patients", headers=_bearer(token))[0] == 401
        conn.close()


def test_idempotency_keys_hold_across_workers(server: Server, pg_url: str) -> None:
    token = login(server, _new_clinician(pg_url))
    by_worker = one_connection_per_worker(server, token)
    conn = next(iter(by_worker.values()))
    status, body = request(conn, "POST", "/api/v1/patients",
                           b'{"display_name": "Across Workers", "birth_year": 1950}',
                           {**_bearer(token), "Content-Type": "application/json"})
    assert status == 201, body
    patient_id = json.loads(body)["id"]
    case = (Path(__file__).parent.parent / "data" / "cases" / "lss-classic.case.json").read_bytes()
    key = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
    answers = [request(c, "POST", f"/api/v1/patients/{patient_id}/visits", case,
                       {**_bearer(token), **key}) for c in by_worker.values()]
    assert sorted(s for s, _ in answers) == [200, 201]
    assert len({json.loads(b)["id"] for _, b in answers}) == 1
    for c in by_worker.values():
        c.close()


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path) -> None:
    env = {**os.environ, "SPINECARE_DATA_DIR": str(tmp_path)}
    env.pop("SPINECARE_DATABASE_URL", None)
    done = subprocess.run([SPINECARE, "serve", "--workers", "2"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
