"""A patient read's latency while a flood of sign-ins hashes passwords (issue 13's finding).

The server runs in its own process (``spinecare serve --demo``, one worker, SQLite, in a
temporary data directory). This process first reads one patient for a few seconds on its own,
then again while 30 sign-ins for unknown usernames arrive at once (30 different names, so the
throttle lets every one of them be hashed: the worst case for the hasher). It prints the read's
p50 and p99 in both phases and the flood's duration. Run with `make bench-api`.

Target: the read's p99 under 100 ms during the flood (before the fix: 6.8 s at p50).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def _reads(base: str, token: str, path: str, until: threading.Event,
           seconds: float | None, started: list[float] | None = None) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds if seconds else float("inf")
    with httpx.Client(base_url=base, timeout=120) as client:
        while not until.is_set() and time.perf_counter() < deadline:
            start = time.perf_counter()
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
            latencies.append(time.perf_counter() - start)
            if started is not None:
                started.append(start)
            if r.status_code != 200:
                raise SystemExit(f"read failed: {r.status_code}")
            time.sleep(0.01)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--quiet-seconds", type=float, default=3.0)
    args = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
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
            with httpx.Client(base_url=base, timeout=120) as client:
                for _ in range(200):
                    try:
                        client.get("/openapi.json")
                        break
                    except httpx.TransportError:
                        time.sleep(0.05)
                token = client.post("/api/v1/auth/token", data={
                    "username": "demo", "password": password}).json()["access_token"]
                patient = client.post("/api/v1/patients", headers={
                    "Authorization": f"Bearer {token}"},
                    json={"display_name": "Bench", "birth_year": 1950}).json()["id"]
            path = f"/api/v1/patients/{patient}"
            quiet = _reads(base, token, path, threading.Event(), args.quiet_seconds)

            done = threading.Event()
            during: list[float] = []
            starts: list[float] = []
            reader = threading.Thread(
                target=lambda: during.extend(_reads(base, token, path, done, None, starts)))
            reader.start()

            # The attackers' clients are made before the clock starts: making 30 at once (an
            # SSL context each) took this process's GIL from the reader for a few hundred
            # milliseconds and was measured as the server's slowness.
            attackers = [httpx.Client(base_url=base, timeout=300) for _ in range(args.logins)]

            def login(n: int) -> int:
                return attackers[n].post("/api/v1/auth/token", data={
                    "username": f"nobody-{n}", "password": "not the password"}).status_code

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.logins) as pool:
                statuses = list(pool.map(login, range(args.logins)))
            flood = time.perf_counter() - start
            done.set()
            reader.join()
            for attacker in attackers:
                attacker.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"login flood: spinecare serve, one worker, SQLite; {args.logins} parallel sign-ins "
          f"for unknown users answered {sorted(set(statuses))} in {flood:.1f} s")
    for name, values in (("patient read, quiet", quiet), ("patient read, during flood", during)):
        print(f"  {name:<28} p50 {statistics.median(values) * 1000:>7.1f} ms   "
              f"p99 {_p(values, 0.99):>7.1f} ms   ({len(values)} reads)")
    # Where the slow reads fall (seconds after the flood began) tells a burst at its start
    # from contention all through it.
    slowest = sorted(zip(during, starts, strict=True), reverse=True)[:5]
    print("  slowest reads during the flood: " + ", ".join(
        f"{latency * 1000:.0f} ms at {at - start:+.2f} s" for latency, at in slowest))
    print("  target: p99 under 100 ms during the flood")
    return 0


if __name__ == "__main__":
    sys.exit(main())
