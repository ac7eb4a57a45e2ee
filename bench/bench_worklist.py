"""The clinician's worklist with 10,000 patients: p50/p95 of the whole page and of its query.

Seeds an SQLite database in a temporary directory with one clinician caring for 10,000
patients (and a colleague with 2,000 more, who must not slow the first): their worklist
entries as visits and alerts leave them (about 2% with open alerts, triage levels mixed, many
reviews overdue), and the open alerts themselves. Then asks for the worklist page through the
app (``GET /patients`` signed in, which renders the page and audits each patient shown) in the
ways a clinician uses it, and the service call alone. Run with `make bench-worklist`.

Target: every page under 200 ms (p95) on one core.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark password 1234"
SECRET = "bench-worklist-secret-" + "b" * 40
FIRST = ["Margaret", "John", "Ayesha", "Wei", "Olu", "Maria", "Peter", "Fatima", "Hugh", "Ines"]
LAST = ["Smith", "Jones", "Patel", "Chen", "Okafor", "Garcia", "Brown", "Khan", "Evans", "Silva"]
LEVELS = ["self_care", "routine", "routine", "routine", "urgent", "emergency"]


def seed(db: object, patients: int, others: int) -> int:
    from sqlalchemy import insert

    from spinecare.store import accounts
    from spinecare.store.db import Database
    from spinecare.store.models import Alert, CareTeamMember, Patient, WorklistEntry
    from spinecare.store.stamps import new_id, utcnow
    from spinecare.store.worklist import NEVER, order

    assert isinstance(db, Database)
    rng = random.Random(14)
    now = utcnow()
    with db.session() as session:
        me = accounts.create_user(session, "bench-doc", "clinician", PASSWORD).id
        colleague = accounts.create_user(session, "bench-other", "clinician", PASSWORD).id
    for owner, count in ((me, patients), (colleague, others)):
        rows, team, summaries, alerts = [], [], [], []
        for n in range(count):
            pid = new_id()
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}"
            rows.append({"id": pid, "display_name": name,
                         "birth_year": rng.randint(1930, 1980), "created_at": now,
                         "created_by": owner})
            team.append({"patient_id": pid, "user_id": owner, "added_at": now})
            level = rng.choice(LEVELS) if rng.random() < 0.9 else None
            visited = now - timedelta(days=rng.randint(0, 400)) if level else None
            has_alert = rng.random() < 0.02
            alert_level = rng.choice(["urgent", "emergency"]) if has_alert else None
            due = visited + timedelta(weeks=6) if visited else None
            summaries.append({
                "user_id": owner, "patient_id": pid, "name_key": name.lower(),
                "visit_count": rng.randint(1, 6) if level else 0, "last_visit_at": visited,
                "triage": level, "triage_order": order(level), "review_due_at": due,
                "review_order": due or NEVER, "open_alerts": 1 if has_alert else 0,
                "alert_level": alert_level, "alert_order": order(alert_level),
                "oldest_open_alert_at": now if has_alert else None})
            if has_alert:
                alerts.append({"id": new_id(), "patient_id": pid, "source": "intake",
                               "source_id": None, "level": alert_level, "flags_json": "[]",
                               "reasons_json": "[]", "created_at": now, "created_by": owner,
                               "reports": 1, "last_reported_at": now})
        with db.session() as session:
            session.execute(insert(Patient), rows)
            session.execute(insert(CareTeamMember), team)
            session.execute(insert(WorklistEntry), summaries)
            if alerts:
                session.execute(insert(Alert), alerts)
    return me


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from spinecare.app import create_app
    from spinecare.http.settings import Settings
    from spinecare.service import worklist
    from spinecare.store.accounts import Principal
    from spinecare.store.db import Database
    from spinecare.store.stamps import utcnow
    from spinecare.store.worklist import Filters

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        start = time.perf_counter()
        me = seed(db, args.patients, 2_000)
        print(f"seeded {args.patients:,} patients (+2,000 of a colleague) in "
              f"{time.perf_counter() - start:.1f} s")
        app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=Path(tmp),
                                  testing=True), db)
        pages = [("default: alerts, triage, review", "/patients"),
                 ("sorted by name, page 200", "/patients?sort=name&page=200"),
                 ("open alerts only", "/patients?alerts=1"),
                 ("triage urgent, 100 a page", "/patients?triage=urgent&size=100"),
                 ("review overdue, by review", "/patients?overdue=1&sort=review"),
                 ("name search 'smith'", "/patients?q=smith")]
        worst = 0.0
        with TestClient(app) as client:
            login = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token
            r = client.post("/login", data={"username": "bench-doc", "password": PASSWORD,
                                            "csrf_token": token.group(1)})
            assert r.url.path == "/patients", r.status_code
            print(f"\nGET the worklist page ({args.repeat} times each; ms)")
            print(f"{'page':36} {'p50':>7} {'p95':>7}  rows")
            for label, url in pages:
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    r = client.get(url)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200, r.status_code
                rows = r.text.count('<th scope="row">')
                worst = max(worst, percentile(times, 0.95))
                print(f"{label:36} {statistics.median(times):7.1f} "
                      f"{percentile(times, 0.95):7.1f}  {rows}")
        who = Principal(me, "clinician")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            worklist.page(db, who, Filters(), "priority", utcnow(), limit=25, offset=0)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"\nthe query alone (service, 25 rows, audited): p50 "
              f"{statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms")
        print(f"\nworst page p95: {worst:.1f} ms (target: under 200 ms); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        db.dispose()
    return 0 if worst < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
