"""The demo clinic (``spinecare serve --demo`` only): a demo clinician and a few patients built
from the example cases, each with several visits over the past months.

Follow-up visits repeat the example case with the questionnaires answered as the patient
recovers (every item one step better per visit, never below the scale's floor), so that
``/outcomes`` has a series to show. The names are invented.
"""

from __future__ import annotations

import copy
import secrets
from datetime import timedelta
from importlib.resources import files
from typing import Any

import orjson
from sqlalchemy import select

from spinecare.store import accounts, records
from spinecare.store.db import Database
from spinecare.store.models import User
from spinecare.store.stamps import utcnow

DEMO_USERNAME = "demo"

# (display name, birth year, case file, weeks before today of each visit)
PATIENTS = [
    ("Demo Patient A", 1952, "lss-classic", (24, 12, 4)),
    ("Demo Patient B", 1960, "dcm-moderate", (20, 8, 2)),
    ("Demo Patient C", 1979, "lumbar-radiculopathy", (10, 3)),
    ("Demo Patient D", 1948, "back-pain-from-the-neck", (16, 6)),
]


def _case(name: str) -> dict[str, Any]:
    data = files("spinecare.demo").joinpath("cases", f"{name}.case.json").read_bytes()
    doc: dict[str, Any] = orjson.loads(data)
    return doc


def _recovered(case: dict[str, Any], steps: int) -> dict[str, Any]:
    doc = copy.deepcopy(case)
    doc["id"] = f"{case['id']}-followup-{steps}"
    inst = doc.get("instruments") or {}
    if isinstance(inst.get("odi"), list):
        inst["odi"] = [None if v is None else max(0, v - steps) for v in inst["odi"]]
    pain = inst.get("pain_nrs")
    if isinstance(pain, dict):
        inst["pain_nrs"] = {k: None if v is None else max(0, v - 2 * steps)
                            for k, v in pain.items()}
    mjoa = inst.get("mjoa")
    if isinstance(mjoa, dict):
        tops = {"upper_extremity_motor": 5, "lower_extremity_motor": 7,
                "upper_extremity_sensation": 3, "micturition": 3}
        inst["mjoa"] = {k: min(tops[k], v + steps) for k, v in mjoa.items()}
    return doc


def seed(db: Database) -> tuple[str, str]:
    """Create the demo clinic if it is not there; give the demo clinician a new password.
    Returns the login (username, password)."""
    from spinecare.service.clinical import prepare_visit

    password = secrets.token_urlsafe(12)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == DEMO_USERNAME))
        if user is not None:
            accounts.set_password(session, DEMO_USERNAME, password)
            return DEMO_USERNAME, password
        user = accounts.create_user(session, DEMO_USERNAME, "clinician", password)
        today = utcnow()
        for display_name, birth_year, case_name, weeks in PATIENTS:
            patient = records.create_patient(session, user.id, display_name, birth_year)
            base = _case(case_name)
            for step, weeks_ago in enumerate(weeks):
                doc = base if step == 0 else _recovered(base, step)
                visit = prepare_visit(orjson.dumps(doc))
                records.add_visit(session, patient.id, user.id, visit,
                                  at=today - timedelta(weeks=weeks_ago))
    return DEMO_USERNAME, password
