"""A soak run of `spinecare serve --workers N` on PostgreSQL: mixed reads and writes from
several clients for a while (default 10 minutes), one worker killed with SIGKILL midway (uvicorn
starts a new one), then every write the server acknowledged is read back.

    make soak                                  # 600 s, 2 workers, 8 clients
    SOAK_SECONDS=150 SOAK_WORKERS=4 make soak
    python bench/soak.py --seconds 150 --workers 2 --clients 8 [--postgres URL]

Writes are visits (each with its own Idempotency-Key, retried with the same key after a
connection error, so a visit stored by the killed worker comes back as a replay, not twice)
and questionnaire responses (not retried: one whose answer was lost is not acknowledged).
Reads are the patient, its visit list and its outcomes. Exit status 1 when an acknowledged
write is missing or a request got a 5xx.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

from bench_api import ROOT, _count_started, _free_port, _fresh_database, _Postgres

CASE = (ROOT / "tests" / "data" / "cases" / "lss-classic.case.json").read_bytes()
PASSWORD = "soak test password, long enough"


def worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes: the parent's spawned children."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


def _connections_by_worker(port: int, pids: list[int]) -> dict[int, int]:
    """How many established client connections each worker holds (through /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            inodes.add(fields[9])
    held = {}
    for pid in pids:
        mine = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    mine += 1
        except OSError:
            pass
        held[pid] = mine
    return held


class Client:
    """One keep-alive connection, reopened after an error and every 50 requests (so that
    the connections spread over the workers as they come and go)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        if self.conn is not None and self.used >= 50:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.used = 0
        self.used += 1
        try:
            self.conn.request(method, path, body=body, headers={**self.headers,
                                                                **(headers or {})})
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise


class Ledger:
    """What the server acknowledged, and what happened."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.visits: dict[str, tuple[str, str]] = {}  # visit id -> (patient, request hash)
        self.questionnaires: dict[str, str] = {}  # response id -> patient
        self.counts: Counter[str] = Counter()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def _visit(client: Client, ledger: Ledger, patient: str) -> None:
    key = uuid.uuid4().hex
    for attempt in range(6):
        try:
            status, body = client.call("POST", f"/api/v1/patients/{patient}/visits", CASE,
                                       {"Idempotency-Key": key})
        except (OSError, http.client.HTTPException):
            ledger.count("visit: connection error, retried with the same key")
            time.sleep(0.2 * (attempt + 1))
            continue
        ledger.count(f"visit: {status}")
        if status in (200, 201):
            visit_id = json.loads(body)["id"]
            with ledger.lock:
                ledger.visits[visit_id] = (patient, key)
        return


def _questionnaire(client: Client, ledger: Ledger, patient: str) -> None:
    body = json.dumps({"instrument": "pain_nrs",
                       "answers": {"back": random.randint(0, 10),
                                   "leg": random.randint(0, 10)}}).encode()
    try:
        status, answer = client.call("POST", f"/api/v1/patients/{patient}/questionnaires",
                                     body)
    except (OSError, http.client.HTTPException):
        ledger.count("questionnaire: connection error (not acknowledged, not retried)")
        return
    ledger.count(f"questionnaire: {status}")
    if status == 201:
        with ledger.lock:
            ledger.questionnaires[json.loads(answer)["id"]] = patient


def _read(client: Client, ledger: Ledger, patient: str) -> None:
    path = random.choice([f"/api/v1/patients/{patient}",
                          f"/api/v1/patients/{patient}/visits?limit=20",
                          f"/api/v1/patients/{patient}/outcomes"])
    try:
        status, _ = client.call("GET", path)
    except (OSError, http.client.HTTPException):
        ledger.count("read: connection error")
        return
    ledger.count(f"read: {status}")


def _load(port: int, token: str, patients: list[str], ledger: Ledger,
          stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = Client(port, token)
    while not stop.is_set():
        patient = rng.choice(patients)
        roll = rng.random()
        if roll < 0.35:
            _visit(client, ledger, patient)
        elif roll < 0.55:
            _questionnaire(client, ledger, patient)
        else:
            _read(client, ledger, patient)


def _verify(port: int, token: str, patients: list[str], ledger: Ledger) -> list[str]:
    client = Client(port, token)
    missing = []
    stored_visits: set[str] = set()
    stored_questionnaires: set[str] = set()
    for patient in patients:
        offset = 0
        while True:
            status, body = client.call(
                "GET", f"/api/v1/patients/{patient}/visits?limit=500&offset={offset}")
            assert status == 200, body
            page = json.loads(body)
            stored_visits.update(v["id"] for v in page["items"])
            offset += len(page["items"])
            if offset >= page["total"] or not page["items"]:
                break
        offset = 0
        while True:
            status, body = client.call(
                "GET", f"/api/v1/patients/{patient}/questionnaires?limit=500&offset={offset}")
            assert status == 200, body
            page = json.loads(body)
            stored_questionnaires.update(q["id"] for q in page["items"])
            offset += len(page["items"])
            if offset >= page["total"] or not page["items"]:
                break
    missing += [f"visit {v}" for v in ledger.visits if v not in stored_visits]
    missing += [f"questionnaire {q}" for q in ledger.questionnaires
                if q not in stored_questionnaires]
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SOAK_WORKERS", 2)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", 8)))
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to use")
    args = parser.parse_args()

    with _Postgres(args.postgres) as server_url:
        if server_url is None:
            print("soak: needs PostgreSQL (install Debian's postgresql, or give --postgres)")
            return 1
        url, fresh = _fresh_database(server_url)
        try:
            return _soak(url, args)
        finally:
            fresh.__exit__(None, None, None)


def _soak(url: str, args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    from spinecare.store.accounts import create_user
    from spinecare.store.db import Database

    db = Database(url)
    with db.session() as session:
        create_user(session, "soak", "clinician", PASSWORD)
    db.dispose()
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SPINECARE_DATA_DIR": data}
        env.pop("SPINECARE_DATABASE_URL", None)
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("spinecare")), "serve", "--database", url,
             "--port", str(port), "--workers", str(args.workers), "--no-access-log",
             "--log-level", "info"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        try:
            if not _count_started(server, args.workers).wait(timeout=300):
                print("soak: the workers did not start")
                return 1
            return _run(server, port, args)
        finally:
            server.terminate()
            server.wait(timeout=60)


def _run(server: subprocess.Popen[str], port: int, args: argparse.Namespace) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/auth/token",
                 urllib.parse.urlencode({"username": "soak", "password": PASSWORD}),
                 {"Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(conn.getresponse().read())["access_token"]
    setup = Client(port, token)
    patients = [json.loads(setup.call("POST", "/api/v1/patients", json.dumps(
        {"display_name": f"Soak {i}", "birth_year": 1940 + i}).encode())[1])["id"]
        for i in range(args.patients)]
    ledger = Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(port, token, patients, ledger, stop, i))
               for i in range(args.clients)]
    print(f"soak: {args.seconds:g} s, {args.workers} workers on PostgreSQL, {args.clients} "
          f"clients, {args.patients} patients, {os.cpu_count()} CPU cores", flush=True)
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.seconds / 2)
    before = worker_pids(server.pid)
    # The worker holding the most client connections, so that requests are cut mid-way.
    held = _connections_by_worker(port, before)
    victim = max(before, key=lambda pid: held[pid])
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    print(f"soak: killed worker {victim} (SIGKILL) at {killed_at - start:.0f} s, holding "
          f"{held[victim]} of {sum(held.values())} client connections", flush=True)
    restarted = None
    while time.monotonic() - start < args.seconds:
        if restarted is None:
            now = worker_pids(server.pid)
            if len(now) == args.workers and victim not in now:
                restarted = time.monotonic() - killed_at
                print(f"soak: a new worker was running {restarted:.1f} s later "
                      f"({', '.join(map(str, sorted(set(now) - set(before))))})", flush=True)
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    missing = _verify(port, token, patients, ledger)
    total = sum(ledger.counts.values())
    print(f"soak: {total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s)")
    for what, n in sorted(ledger.counts.items()):
        print(f"  {what:<60} {n:>7}")
    print(f"soak: acknowledged writes: {len(ledger.visits)} visits, "
          f"{len(ledger.questionnaires)} questionnaire responses; missing: {len(missing)}")
    for line in missing[:20]:
        print(f"  missing {line}")
    errors = sum(n for what, n in ledger.counts.items() if ": 5" in what)
    if errors:
        print(f"soak: {errors} answers were 5xx")
    if restarted is None:
        print("soak: the killed worker was not replaced before the end")
    return 1 if missing or errors or restarted is None else 0


if __name__ == "__main__":
    sys.exit(main())
