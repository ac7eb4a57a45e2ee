"""Batch throughput of `spinecare assess --json` on JSON Lines, beside the floor.

Two mixes of N cases each (default 100,000: `make bench N=20000`):

- sparse: the examples perturbed, and short random cases (about 19 known fields), as a triage
  line or an intake form gives them;
- dense: complete clinic visits (history, symptoms, examination with motor deficits, every
  instrument and imaging filled in at realistic rates), where every rule has something to read.

The floor is merely parsing and re-serialising the same lines with orjson: no engine can beat
it. Everything runs as separate processes pinned to one core, on the same files; the best of
REPEATS runs is printed with the ratio to the floor. Times are the processes' CPU time (user +
system), which the load of others on a shared machine moves far less than the wall clock.
Then the same batch with ``--jobs`` set to the processors available (all cores, no pinning) is
timed by the wall clock, the time a user waits: the figure a whole machine gives, which moves
with the load of others (the load average is printed beside it).
Beside ``this`` (which runs the generated function natively where ``make native`` built it) the
same version runs as ``python``, with ``SPINECARE_NATIVE=off`` (``NATIVE_TOO=0``: not).
With ``BASELINE=DIR`` (a ``src`` folder of another version, e.g. ``git archive main src | tar
-x -C /tmp/base``) that version runs too, in the same process order, and the ratio of the two is
printed: a change is compared with what it changes on the same machine under the same load.
"""

from __future__ import annotations

import compileall
import os
import random
import resource
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


def _p(rng: random.Random, rate: float, known: float = 0.95) -> bool | None:
    """A yes/no answer: true at ``rate``, unknown (not asked) at ``1 - known``."""
    return None if rng.random() >= known else rng.random() < rate


def _pick(rng: random.Random, options: list[Any], weights: list[float]) -> Any:
    return rng.choices(options, weights)[0]


def _side(rng: random.Random, rate: float) -> str | None:
    if rng.random() < 0.05:
        return None
    if rng.random() >= rate:
        return "none"
    return _pick(rng, ["left", "right", "both"], [4, 4, 2])


# The complaint a visit is about, and how common it is in a spine clinic: it sets the rates of
# the findings that go with it (rough clinic proportions, for the benchmark only: no clinical
# claim rests on them).
PROFILES = [("lss", 0.35), ("radiculopathy", 0.2), ("dcm", 0.12), ("cervical_root", 0.1),
            ("mechanical", 0.18), ("red_flag", 0.05)]


def visit(rng: random.Random) -> dict[str, Any]:
    """One complete clinic visit: every section filled in, as an examining clinician records it."""
    kind = _pick(rng, [k for k, _ in PROFILES], [w for _, w in PROFILES])
    lss, rad, dcm = kind == "lss", kind == "radiculopathy", kind == "dcm"
    neck = kind in ("dcm", "cervical_root")
    red = kind == "red_flag"
    age = rng.randint(55, 92) if lss or dcm else rng.randint(25, 85)
    history = {
        "duration_weeks": round(rng.uniform(0.5, 260), 1),
        "onset": _pick(rng, ["gradual", "sudden", "after_trauma"], [8, 1.5, 0.5 + red]),
        "course": _pick(rng, ["improving", "stable", "worsening", "rapidly_worsening"],
                        [2, 5, 3, 0.2 + 2 * red]),
        "major_trauma": _p(rng, 0.02 + 0.1 * red), "minor_trauma": _p(rng, 0.05),
        "osteoporosis": _p(rng, 0.1 if age > 65 else 0.02),
        "long_term_steroids": _p(rng, 0.04), "cancer_history": _p(rng, 0.05 + 0.2 * red),
        "unexplained_weight_loss": _p(rng, 0.02 + 0.2 * red), "fever": _p(rng, 0.01 + 0.1 * red),
        "iv_drug_use": _p(rng, 0.01), "immunosuppression": _p(rng, 0.03),
        "recent_infection_or_spinal_procedure": _p(rng, 0.03 + 0.1 * red),
        "night_pain": _p(rng, 0.1 + 0.3 * red), "diabetes": _p(rng, 0.15),
        "peripheral_arterial_disease": _p(rng, 0.06 if age > 60 else 0.01),
        "smoker": _p(rng, 0.2),
    }
    leg = 0.9 if lss or rad else 0.3 if red else 0.15
    arm = 0.8 if neck else 0.05
    ces = red and rng.random() < 0.4
    symptoms = {
        "neck_pain": _p(rng, 0.8 if neck else 0.1), "thoracic_pain": _p(rng, 0.05 + 0.1 * red),
        "low_back_pain": _p(rng, 0.2 if neck else 0.85), "arm_pain": _side(rng, arm),
        "arm_paresthesia": _side(rng, arm * 0.8), "hand_clumsiness": _p(rng, 0.7 if dcm else 0.03),
        "leg_pain": _side(rng, leg), "leg_pain_below_knee": _p(rng, 0.8 if rad else leg * 0.5),
        "leg_paresthesia": _side(rng, leg * 0.6), "leg_weakness": _side(rng, 0.15 + 0.2 * ces),
        "leg_heaviness": _p(rng, 0.5 if lss else 0.05),
        "gait_imbalance": _p(rng, 0.6 if dcm else 0.15 if lss else 0.05),
        "falls": _p(rng, 0.2 if dcm else 0.05),
        "leg_pain_exceeds_back_pain": _p(rng, 0.7 if rad else 0.5 if lss else 0.1),
        "claudication": _p(rng, 0.8 if lss else 0.05),
        "walking_tolerance_minutes": (round(rng.uniform(1, 30 if lss else 120))
                                      if rng.random() < 0.8 else None),
        "worse_standing": _p(rng, 0.7 if lss else 0.2),
        "relief_sitting": _p(rng, 0.8 if lss else 0.2),
        "relief_forward_flexion": _p(rng, 0.7 if lss else 0.15),
        "relief_standing_still": _p(rng, 0.1),
        "worse_extension": _p(rng, 0.6 if lss else 0.2),
        "uphill_easier_than_downhill": _p(rng, 0.5 if lss else 0.1, 0.6),
        "cycling_tolerated": _p(rng, 0.6 if lss else 0.4, 0.6),
        "calf_cramping": _p(rng, 0.2), "lhermitte": _p(rng, 0.2 if dcm else 0.01),
        "bladder": ("new_retention" if ces and rng.random() < 0.5 else
                    _pick(rng, ["normal", "new_urgency_or_frequency", "reduced_sensation",
                                "new_incontinence", None], [85, 6, 1 + 10 * ces, 1, 5])),
        "bowel_incontinence": _p(rng, 0.3 if ces else 0.002),
        "saddle_anesthesia": _p(rng, 0.6 if ces else 0.003),
        "new_sexual_dysfunction": _p(rng, 0.3 if ces else 0.01, 0.7),
    }
    deficits = [{"limb": rng.choice(["arm", "leg"]) if neck else "leg",
                 "side": rng.choice(["left", "right"]),
                 "myotome": rng.choice(["C5", "C6", "C7", "C8"] if neck else ["L4", "L5", "S1"])
                 if rng.random() < 0.8 else None,
                 "mrc_grade": rng.choices([1, 2, 3, 4], [0.2, 0.4, 1.5, 12])[0]}
                for _ in range(rng.choices([0, 1, 2, 3], [12, 3, 1, 0.3])[0])]
    exam = {
        "gait": _pick(rng, ["normal", "broad_based_unsteady", "spastic", "antalgic", "steppage",
                            None], [60, 20 if dcm else 2, 8 if dcm else 1, 10, 2, 5]),
        "tandem_gait_impaired": _p(rng, 0.6 if dcm else 0.1),
        "romberg": _p(rng, 0.3 if dcm else 0.05),
        "hoffmann": _p(rng, 0.6 if dcm else 0.05),
        "inverted_supinator": _p(rng, 0.4 if dcm else 0.03),
        "babinski": _p(rng, 0.3 if dcm else 0.02), "ankle_clonus": _p(rng, 0.2 if dcm else 0.01),
        "lower_limb_hyperreflexia": _p(rng, 0.6 if dcm else 0.05),
        "achilles_reflex": _pick(rng, ["normal", "reduced", "absent", "increased", None],
                                 [60, 15, 10, 5 + 10 * dcm, 10]),
        "straight_leg_raise": _p(rng, 0.7 if rad else 0.15),
        "spurling": _p(rng, 0.6 if kind == "cervical_root" else 0.05, 0.7 if neck else 0.3),
        "hip_rotation_pain": _p(rng, 0.1),
        "pedal_pulses": _pick(rng, ["present", "reduced", "absent", None], [80, 8, 2, 10]),
        "ankle_brachial_index": (round(rng.uniform(0.5, 1.3), 2) if rng.random() < 0.3
                                 else None),
        "perianal_sensation": ("reduced" if ces and rng.random() < 0.5 else
                               _pick(rng, ["normal", "reduced", "absent", None], [50, 1, 0.2, 49])),
        "anal_tone": _pick(rng, ["normal", "reduced", None], [30, 1 + 5 * ces, 69]),
        "post_void_residual_ml": (rng.randint(0, 800 if ces else 150) if ces or rng.random() < 0.1
                                  else None),
        "motor_deficits": deficits,
        "progressive_motor_deficit": _p(rng, 0.3 if deficits and red else 0.02),
    }

    def items(n: int, low: int, high: int) -> list[int | None]:
        return [None if rng.random() < 0.03 else rng.randint(low, high) for _ in range(n)]

    instruments: dict[str, Any] = {
        "pain_nrs": {part: rng.randint(0, 10) if rng.random() < 0.9 else None
                     for part in ("back", "leg", "neck", "arm")},
    }
    if not neck or rng.random() < 0.3:
        instruments["odi"] = items(10, 0, 5)
    if neck or rng.random() < 0.1:
        instruments["ndi"] = items(10, 0, 5)
    if dcm or (neck and rng.random() < 0.3):
        instruments["mjoa"] = {"upper_extremity_motor": rng.randint(2, 5),
                               "lower_extremity_motor": rng.randint(3, 7),
                               "upper_extremity_sensation": rng.randint(1, 3),
                               "micturition": rng.randint(2, 3)}
    if lss and rng.random() < 0.7:
        instruments["zcq"] = {"symptom_severity": items(7, 1, 5),
                              "physical_function": items(5, 1, 4)}
    imaging = []
    if rng.random() < 0.6:
        for _ in range(rng.choices([1, 2], [4, 1])[0]):
            region = "cervical" if neck else _pick(rng, ["lumbar", "thoracic"], [9, 1])
            imaging.append({
                "modality": _pick(rng, ["mri", "ct", "xray"], [7, 2, 1]), "region": region,
                "level": rng.choice(["C4-C5", "C5-C6", "C6-C7"] if region == "cervical" else
                                    ["T11-T12"] if region == "thoracic" else
                                    ["L3-L4", "L4-L5", "L5-S1"]),
                "canal_ap_diameter_mm": round(rng.uniform(6, 16), 1) if rng.random() < 0.6
                else None,
                "torg_pavlov_ratio": round(rng.uniform(0.5, 1.1), 2)
                if region == "cervical" and rng.random() < 0.4 else None,
                "dural_sac_csa_mm2": round(rng.uniform(40, 160)) if region == "lumbar"
                and rng.random() < 0.5 else None,
                "schizas_grade": _pick(rng, ["A", "B", "C", "D", None], [3, 3, 2, 1, 4])
                if region == "lumbar" else None,
                "cord_compression": _p(rng, 0.5 if dcm else 0.1, 0.7)
                if region != "lumbar" else None,
                "cord_t2_hyperintensity": _p(rng, 0.3 if dcm else 0.02, 0.7)
                if region != "lumbar" else None,
                "foraminal_stenosis": _side(rng, 0.4),
                "spondylolisthesis_grade": rng.choices([0, 1, 2], [8, 3, 1])[0]
                if rng.random() < 0.7 else None,
                "fracture": _p(rng, 0.02 + 0.1 * red, 0.8),
                "lesion_suspicious_for_tumor_or_infection": _p(rng, 0.01 + 0.15 * red, 0.8),
            })
    doc = {"schema": "spinecare.case/1",
           "patient": {"age": age, "sex": rng.choice(["female", "male"])},
           "history": history, "symptoms": symptoms, "exam": exam,
           "instruments": instruments}
    if imaging:
        doc["imaging"] = imaging
    return doc


def generate_dense(n: int, seed: int = 11) -> list[bytes]:
    """``n`` complete clinic visits (see :func:`visit`)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc = visit(rng)
        doc["id"] = f"visit-{i}"
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


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(cmd: list[str], repeats: int, env: dict[str, str] | None = None) -> float:
    """The least CPU time of ``repeats`` runs of ``cmd``."""
    best = float("inf")
    for _ in range(repeats):
        start = _cpu()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, preexec_fn=_pin, env=env)
        best = min(best, _cpu() - start)
    return best


def wall(cmd: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def _run(label: str, path: Path, n: int, repeats: int, trees: list[tuple[str, dict[str, str]]]
         ) -> dict[str, float]:
    # The runs of the versions alternate, so a burst of load from elsewhere on a shared machine
    # falls on all of them alike; the best of each is kept.
    floor = float("inf")
    best = {name: float("inf") for name, _ in trees}
    startup = dict(best)
    for _ in range(repeats):
        floor = min(floor, timed([sys.executable, "-c", FLOOR, str(path)], 1))
        for name, env in trees:
            best[name] = min(best[name], timed(
                [sys.executable, "-m", "spinecare", "assess", "--json", str(path)], 1, env))
            startup[name] = min(startup[name], timed(
                [sys.executable, "-m", "spinecare", "assess", "--json",
                 str(CASES / "lss-classic.case.json")], 1, env))
    print(f"{label}: {n:,} cases (JSON Lines, one core, best of {repeats})")
    print(f"  floor  (orjson parse + re-serialise): {floor:7.2f} s  {n / floor:12,.0f} cases/s")
    for name, _ in trees:
        engine = best[name]
        print(f"  {name:<8} spinecare assess --json: {engine:7.2f} s  {n / engine:12,.0f} cases/s"
              f"  ({n / max(engine - startup[name], 1e-9):,.0f} excluding start-up of "
              f"{startup[name]:.2f} s; {engine / floor:.1f}x the floor's time)")
    rates = {name: n / t for name, t in best.items()}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    if cores > 1:
        took = wall([sys.executable, "-m", "spinecare", "assess", "--json", "--jobs",
                     str(cores), str(path)], repeats)
        print(f"  this --jobs {cores} ({cores} cores, wall clock): {took:7.2f} s"
              f"  {n / took:12,.0f} cases/s  (load average {os.getloadavg()[0]:.1f})")
        rates[f"jobs{cores}"] = n / took
    return rates


def main() -> None:
    n = int(os.environ.get("N", "100000"))
    repeats = int(os.environ.get("REPEATS", "3"))
    trees: list[tuple[str, dict[str, str]]] = [("this", dict(os.environ))]
    if os.environ.get("NATIVE_TOO", "1") != "0":
        # the same version with its generated function run by the interpreter, as where
        # `make native` has not built it: what the extension gives, measured in the same run
        trees.insert(0, ("python", {**os.environ, "SPINECARE_NATIVE": "off"}))
    baseline = os.environ.get("BASELINE")
    if baseline:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(Path(baseline).resolve())
        trees.insert(0, ("baseline", env))
        # its bytecode written as `make bench` writes this tree's: start-up compared fairly
        compileall.compile_dir(baseline, quiet=1)
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in (("sparse", generate), ("dense", generate_dense)):
            path = Path(tmp) / f"{label}.jsonl"
            path.write_bytes(b"\n".join(make(n)) + b"\n")
            rates[label] = _run(label, path, n, repeats, trees)
    print("target: at least 10,000 cases/s in both mixes")
    for label, r in rates.items():
        parallel = [f"{name}: {rate:,.0f}" for name, rate in r.items() if name.startswith("jobs")]
        print(f"{label}: one core {r['this']:,.0f} cases/s (CPU time)"
              + (f"; all cores {', '.join(parallel)} cases/s (wall clock)" if parallel else ""))
    print(f"dense/sparse (this): {rates['dense']['this'] / rates['sparse']['this']:.2f}")
    for other in ("python", "baseline"):
        for label, r in rates.items():
            if other in r:
                print(f"{label}: this/{other} {r['this'] / r[other]:.3f}")


if __name__ == "__main__":
    main()
