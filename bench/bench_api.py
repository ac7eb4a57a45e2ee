"""HTTP throughput and latency of `spinecare serve` (one uvicorn worker, SQLite) on loopback.

The server runs in one process (``spinecare serve --demo`` in a temporary data directory); the
load generator runs in a second process: an asyncio client on raw keep-alive HTTP/1.1
connections (a general HTTP client library would cost more CPU than the server it measures).
For ``POST /api/v1/assess`` and ``POST /api/v1/patients/{id}/visits`` it prints requests/s and
p50/p99 latency. Run with `make bench-api` (options: ``--seconds``, ``--connections``).

Target (one worker): 1,000 assessments/s with p99 under 25 ms.
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
import time
import urllib.parse
import urllib.request
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--patient", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)

    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SPINECARE_DATA_DIR": data}
        env.pop("SPINECARE_DATABASE_URL", None)
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("spinecare")), "serve", "--demo",
             "--port", str(port), "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            password = ""
            for line in server.stdout:
                found = re.search(r"password '([^']+)'", line)
                if found:
                    password = found.group(1)
                    break
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/openapi.json", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            form = urllib.parse.urlencode({"username": "demo", "password": password}).encode()
            token = str(_request(f"{base}/api/v1/auth/token", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
                        ["access_token"])
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            patient = str(_request(f"{base}/api/v1/patients",
                                   b'{"display_name": "Bench", "birth_year": 1950}',
                                   auth)["id"])
            print(f"spinecare serve: one worker, SQLite, {args.connections} keep-alive "
                  f"connections, {args.seconds:g} s per endpoint (load generator in a second "
                  "process)")
            client = subprocess.run(
                [sys.executable, __file__, "--client", "--port", str(port), "--token", token,
                 "--patient", patient, "--seconds", str(args.seconds),
                 "--connections", str(args.connections)],
                capture_output=True, text=True, check=True)
            for line in client.stdout.splitlines():
                r = json.loads(line)
                print(f"  {r['endpoint']:<36} {r['requests_per_s']:>8.1f} req/s   "
                      f"p50 {r['p50_ms']:>6.2f} ms   p99 {r['p99_ms']:>6.2f} ms   "
                      f"({r['requests']} requests, {r['errors']} errors)")
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
