"""Batch throughput of `spinecare assess --json` on JSON Lines, beside the floor.

The floor is merely parsing and re-serialising the same lines with orjson: no engine can beat
it. Both run as separate processes pinned to one core, on the same file; the figures and their
ratio are printed. Run with `make bench` (N cases, default 100,000: `make bench N=20000`).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "data" / "cases"
SIDES = ["none", "left", "right", "both", None]


def _maybe(rng: random.Random, value: Any, p: float = 0.6) -> Any:
    return value if rng.random() < p else None


def generate(n: int, seed: int = 7) -> list[bytes]:
    """``n`` varied, valid cases: the examples, perturbed, and random ones."""
    rng = random.Random(seed)
    examples = [orjson.loads(p.read_bytes()) for p in sorted(CASES.glob("*.case.json"))]
    out = []
    for i in range(n):
        if i % 2 == 0:
            doc = orjson.loads(orjson.dumps(rng.choice(examples)))
            doc["patient"]["age"] = rng.randint(18, 95)
        else:
            doc = {"schema": "spinecare.case/1", "patient": {"age": rng.randint(18, 95)},
                   "history": {k: _maybe(rng, rng.random() < 0.15) for k in (
                       "fever", "cancer_history", "night_pain", "osteoporosis", "diabetes",
                       "smoker", "minor_trauma", "unexplained_weight_loss")},
                   "symptoms": {
                       "low_back_pain": _maybe(rng, rng.random() < 0.7),
                       "neck_pain": _maybe(rng, rng.random() < 0.3),
                       "leg_pain": rng.choice(SIDES), "arm_pain": rng.choice(SIDES),
                       "claudication": _maybe(rng, rng.random() < 0.4),
                       "relief_sitting": _maybe(rng, rng.random() < 0.4),
                       "hand_clumsiness": _maybe(rng, rng.random() < 0.1),
                       "gait_imbalance": _maybe(rng, rng.random() < 0.15),
                       "saddle_anesthesia": _maybe(rng, rng.random() < 0.02),
                       "bladder": rng.choice(["normal", "normal", "normal", None,
                                              "new_urgency_or_frequency"])},
                   "exam": {"hoffmann": _maybe(rng, rng.random() < 0.1, 0.3),
                            "straight_leg_raise": _maybe(rng, rng.random() < 0.3, 0.3)},
                   "instruments": {"odi": [rng.randint(0, 5) for _ in range(10)]}
                   if rng.random() < 0.5 else {}}
        doc["id"] = f"bench-{i}"
        out.append(orjson.dumps(doc))
    return out


FLOOR = """
import sys, orjson
out = sys.stdout.buffer
buf = []
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        if line.strip():
            buf.append(orjson.dumps(orjson.loads(line)) + b"\\n")
            if len(buf) >= 2048:
                out.write(b"".join(buf)); buf.clear()
out.write(b"".join(buf))
"""


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def timed(cmd: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, preexec_fn=_pin)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    n = int(os.environ.get("N", "100000"))
    repeats = int(os.environ.get("REPEATS", "3"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.jsonl"
        path.write_bytes(b"\n".join(generate(n)) + b"\n")
        floor = timed([sys.executable, "-c", FLOOR, str(path)], repeats)
        engine = timed([sys.executable, "-m", "spinecare", "assess", "--json", str(path)],
                       repeats)
        startup = timed([sys.executable, "-m", "spinecare", "assess", "--json",
                         str(CASES / "lss-classic.case.json")], repeats)
    print(f"cases: {n:,} (JSON Lines, one core, best of {repeats})")
    print(f"floor  (orjson parse + re-serialise): {floor:7.2f} s  {n / floor:12,.0f} cases/s")
    print(f"engine (spinecare assess --json):     {engine:7.2f} s  {n / engine:12,.0f} cases/s")
    print(f"engine excluding start-up ({startup:.2f} s):     "
          f"{n / max(engine - startup, 1e-9):12,.0f} cases/s")
    print(f"ratio engine/floor time: {engine / floor:.1f}x  (target: at least 10,000 cases/s)")


if __name__ == "__main__":
    main()
