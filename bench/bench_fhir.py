"""What FHIR in and FHIR out cost per call: ``to_case`` on a record's Bundle of a Patient, 50
Observations, 4 Conditions and 2 QuestionnaireResponses (the size of a CDS Hooks prefetch), and
``to_bundle`` of the assessment and plan. Every resource is validated with the fhir.resources R4B
models on both sides, which is most of the cost. Times are this process's CPU time, p50 and p99
over ``--n`` calls. Run with ``python bench/bench_fhir.py [--n 300]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fhir.bundles import ON, bundle, case_bundle, observation  # noqa: E402

from spinecare.case import parse_case  # noqa: E402
from spinecare.fhir.incoming import to_case  # noqa: E402
from spinecare.fhir.outgoing import to_bundle  # noqa: E402
from spinecare.plan.planner import make_plan  # noqa: E402
from spinecare.reasoning.engine import default_engine  # noqa: E402

CASE = parse_case((ROOT / "tests" / "data" / "cases" / "lss-classic.case.json").read_bytes())
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def record() -> dict[str, object]:
    """The example case as FHIR, padded with dated repeats to 50 Observations and 4 Conditions."""
    base = case_bundle(CASE)
    resources = [e["resource"] for e in base["entry"]]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    n = 0
    while len(observations) < 50:
        obs = observation(f"r{n}", "exam.systolic_bp_mmhg", 120 + n % 40,
                          when=f"2026-{1 + n % 11:02d}-{1 + n % 27:02d}")
        observations.append(obs)
        resources.append(obs)
        n += 1
    for k, code in enumerate(("E11.9", "M81.0", "I73.9", "M48.062")):
        resources.append({"resourceType": "Condition", "id": f"c{k}",
                          "code": {"coding": [{"system": ICD, "code": code}]},
                          "subject": {"reference": "Patient/p1"}})
    return bundle(*resources)


def _timed(fn: object, n: int) -> tuple[float, float]:
    assert callable(fn)
    times = []
    for _ in range(n):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1e3)
    times.sort()
    return statistics.median(times), times[min(n - 1, int(n * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    doc = record()
    kinds: dict[str, int] = {}
    for e in doc["entry"]:  # type: ignore[attr-defined]
        kinds[e["resource"]["resourceType"]] = kinds.get(e["resource"]["resourceType"], 0) + 1
    result = to_case(doc, on=ON)
    case = parse_case(result.case)
    engine = default_engine()
    assessment = engine.assess(case)
    plan = make_plan(case, assessment)
    p50, p99 = _timed(lambda: to_case(doc, on=ON), args.n)
    print(f"to_case, {', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}: "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (CPU, n={args.n})")
    p50, p99 = _timed(lambda: to_bundle(case, assessment, plan, sources=result.sources),
                      args.n)
    size = len(to_bundle(case, assessment, plan, sources=result.sources)["entry"])
    print(f"to_bundle, {size} resources: p50 {p50:.1f} ms, p99 {p99:.1f} ms (CPU, n={args.n})")
    p50, p99 = _timed(lambda: engine.assess(parse_case(to_case(doc, on=ON).case)), args.n)
    print(f"to_case + assess: p50 {p50:.1f} ms, p99 {p99:.1f} ms (CPU, n={args.n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
