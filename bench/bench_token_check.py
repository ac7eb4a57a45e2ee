"""What checking a bearer token against the database costs, per request, on SQLite and on
PostgreSQL: the one indexed join on a plain connection that every request makes since the
in-memory token cache was dropped (so that a revocation holds at once on every worker).
For scale, the same loop times one ``POST /assess`` worth of work (assessing the example
case). Times are this process's CPU time (a shared machine's load does not inflate them;
PostgreSQL's own work, in its server process, is not counted). Run with
``python bench/bench_token_check.py [--n 3000] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinecare.case import parse_case  # noqa: E402
from spinecare.reasoning.engine import default_engine  # noqa: E402
from spinecare.store.accounts import create_user, hash_token, issue_token  # noqa: E402
from spinecare.store.db import Database  # noqa: E402
from spinecare.store.lifecycle import check_token  # noqa: E402

CASE = (ROOT / "tests" / "data" / "cases" / "lss-classic.case.json").read_bytes()


def _per_call_us(fn: object, n: int) -> tuple[float, float]:
    assert callable(fn)
    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(n // 5):
            fn()
        runs.append((time.process_time() - start) / (n // 5) * 1e6)
    return min(runs), statistics.median(runs)


def _token_check(db: Database, n: int) -> tuple[float, float]:
    with db.session() as session:
        user = create_user(session, f"bench-{time.time_ns()}", "clinician", "x" * 16)
        token, _ = issue_token(session, user.id, timedelta(hours=1))
    token_hash = hash_token(token)
    assert check_token(db, token_hash) is not None
    return _per_call_us(lambda: check_token(db, token_hash), n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get("SPINECARE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    engine = default_engine()
    best, median = _per_call_us(lambda: engine.assess(parse_case(CASE)), args.n)
    print(f"assessing the example case (parse and assess): best {best:.0f} us, "
          f"median {median:.0f} us CPU")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        best, median = _token_check(db, args.n)
        db.dispose()
    print(f"token check, SQLite:     best {best:.0f} us, median {median:.0f} us CPU a request")
    if args.postgres:
        from tests.api.fixtures import fresh_postgres_database

        with fresh_postgres_database(args.postgres) as url:
            db = Database(url)
            best, median = _token_check(db, args.n)
            db.dispose()
        print(f"token check, PostgreSQL: best {best:.0f} us, median {median:.0f} us CPU a request")
    else:
        print("token check, PostgreSQL: not measured (no --postgres or "
              "SPINECARE_TEST_POSTGRES_URL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
