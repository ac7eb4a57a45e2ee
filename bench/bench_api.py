"""HTTP throughput and latency of `spinecare serve` on loopback: one worker on SQLite, then
PostgreSQL with one worker against several (``--workers``, default 1 and 4), with the ratio.

The server runs as ``spinecare serve --demo [--workers N]`` in a temporary data directory; the
load generator runs in a second process: an asyncio client on raw keep-alive HTTP/1.1
connections (a general HTTP client library would cost more CPU than the server it measures).
For ``POST /api/v1/assess`` and ``POST /api/v1/patients/{id}/visits`` it prints requests/s and
p50/p99 latency. Run with `make bench-api` (options: ``--seconds``, ``--connections``,
``--workers``, ``--postgres URL``). PostgreSQL is the server named by ``--postgres``, else
``SPINECARE_TEST_POSTGRES_URL``, else a throwaway one started with ``scripts/pg-test-server``
(skipped with a note when PostgreSQL is not installed); each run gets a new database.

Target (one worker): 1,000 assessments/s with p99 under 25 ms. The load generator shares the
machine's cores with the server: on a machine with fewer cores than workers plus one, the
ratio measures the machine as much as the server (``os.cpu_count()`` is printed beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASE = (ROOT / "tests" / "data" / "cases" / "lss-classic.case.json").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _request(url: str, data: bytes, headers: dict[str, str]) -> dict[str, object]:
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        out: dict[str, object] = json.loads(r.read())
    return out


async def _connection(host: str, port: int, request: bytes, deadline: float,
                      latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


async def _load(host: str, port: int, request: bytes, seconds: float,
                connections: int) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_connection(host, port, request, deadline, latencies, errors)
                           for _ in range(connections)))
    return latencies, errors, time.perf_counter() - start


def _raw(path: str, token: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def client_main(args: argparse.Namespace) -> int:
    """The load generator (the second process): one line of JSON per endpoint."""
    targets = [("POST /api/v1/assess", "/api/v1/assess"),
               ("POST /api/v1/patients/{id}/visits", f"/api/v1/patients/{args.patient}/visits")]
    for name, path in targets:
        request = _raw(path, args.token, CASE)
        asyncio.run(_load("127.0.0.1", args.port, request, 1.0, args.connections))  # warm-up
        latencies, errors, elapsed = asyncio.run(
            _load("127.0.0.1", args.port, request, args.seconds, args.connections))
        latencies.sort()
        n = len(latencies)
        print(json.dumps({
            "endpoint": name, "requests": n, "errors": len(errors),
            "requests_per_s": round(n / elapsed, 1),
            "p50_ms": round(latencies[n // 2] * 1000, 2),
            "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2),
        }), flush=True)
    return 0


def _serve(url: str | None, workers: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start ``spinecare serve`` on ``url`` (``None``: SQLite in the data directory), load it,
    stop it; one result per endpoint."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SPINECARE_DATA_DIR": data}
        env.pop("SPINECARE_DATABASE_URL", None)
        command = [str(Path(sys.executable).with_name("spinecare")), "serve", "--demo",
                   "--port", str(port), "--no-access-log", "--log-level", "info",
                   "--workers", str(workers)]
        if url is not None:
            command += ["--database", url]
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        ready = _count_started(server, workers)
        try:
            assert server.stdout is not None
            password = ""
            for line in server.stdout:
                found = re.search(r"password '([^']+)'", line)
                if found:
                    password = found.group(1)
                    break
            base = f"http://127.0.0.1:{port}"
            if not ready.wait(timeout=300):
                raise RuntimeError("the workers did not all start")
            _wait_ready(base)
            form = urllib.parse.urlencode({"username": "demo", "password": password}).encode()
            token = str(_request(f"{base}/api/v1/auth/token", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
                        ["access_token"])
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            patient = str(_request(f"{base}/api/v1/patients",
                                   b'{"display_name": "Bench", "birth_year": 1950}',
                                   auth)["id"])
            client = subprocess.run(
                [sys.executable, __file__, "--client", "--port", str(port), "--token", token,
                 "--patient", patient, "--seconds", str(args.seconds),
                 "--connections", str(args.connections)],
                capture_output=True, text=True, check=True)
            return [json.loads(line) for line in client.stdout.splitlines()]
        finally:
            server.terminate()
            server.wait(timeout=60)


def _count_started(server: subprocess.Popen[str], workers: int) -> threading.Event:
    """An event set once every worker has logged its start-up (the knowledge loaded); the
    server's log is drained to the end so that it never blocks on a full pipe."""
    ready = threading.Event()

    def read() -> None:
        assert server.stderr is not None
        started = 0
        for line in server.stderr:
            if "Application startup complete" in line:
                started += 1
                if started >= workers:
                    ready.set()

    threading.Thread(target=read, daemon=True).start()
    return ready


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/openapi.json", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def _print(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(f"  {r['endpoint']:<36} {r['requests_per_s']:>8.1f} req/s   "
              f"p50 {r['p50_ms']:>6.2f} ms   p99 {r['p99_ms']:>6.2f} ms   "
              f"({r['requests']} requests, {r['errors']} errors)", flush=True)


class _Postgres:
    """A PostgreSQL server URL: given, from the environment, or a throwaway one."""

    def __init__(self, given: str | None):
        self.url = given or os.environ.get("SPINECARE_TEST_POSTGRES_URL")
        self.dir: str | None = None

    def __enter__(self) -> str | None:
        if self.url:
            return self.url
        script = ROOT / "scripts" / "pg-test-server"
        started = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        if started.returncode != 0:
            print(f"PostgreSQL: not measured ({started.stderr.strip()})")
            return None
        found = dict(re.findall(r"export (\w+)=(\S+)", started.stdout))
        self.dir = found["SPINECARE_PG_TEST_DIR"]
        self.url = found["SPINECARE_TEST_POSTGRES_URL"]
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.dir:
            subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-server"), "stop",
                            self.dir], check=False)


def _fresh_database(server_url: str) -> tuple[str, Any]:
    sys.path.insert(0, str(ROOT))
    with warnings.catch_warnings():
        # The fixtures module imports FastAPI's test client, which warns about its httpx.
        warnings.simplefilter("ignore", DeprecationWarning)
        from tests.api.fixtures import fresh_postgres_database

    fresh = fresh_postgres_database(server_url)
    return fresh.__enter__(), fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,4",
                        help="worker counts to compare on PostgreSQL (default 1,4)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to use")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--patient", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)

    print(f"spinecare serve on loopback, {args.connections} keep-alive connections, "
          f"{args.seconds:g} s per endpoint, the load generator in one more process, "
          f"{os.cpu_count()} CPU cores")
    if not args.no_sqlite:
        print("SQLite, one worker:")
        _print(_serve(None, 1, args))
    counts = [int(n) for n in args.workers.split(",")]
    by_workers: dict[int, dict[str, float]] = {}
    with _Postgres(args.postgres) as server_url:
        if server_url is None:
            return 0
        for workers in counts:
            url, fresh = _fresh_database(server_url)
            try:
                print(f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}:")
                results = _serve(url, workers, args)
            finally:
                fresh.__exit__(None, None, None)
            _print(results)
            by_workers[workers] = {r["endpoint"]: r["requests_per_s"] for r in results}
    low, high = min(counts), max(counts)
    if low != high:
        print(f"PostgreSQL, {high} workers against {low} (throughput ratio):")
        for endpoint, rate in by_workers[high].items():
            base = by_workers[low][endpoint]
            print(f"  {endpoint:<36} {rate / base if base else float('nan'):>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
