"""Building a web app over a temporary database, and seeding it through the store."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.store import accounts, records
from spinecare.store.db import Database
from spinecare.web import mount
from tests.api.fixtures import LiveServer

PASSWORD = "correct horse battery staple"
SECRET = "web-test-secret-" + "y" * 40
CASES = Path(__file__).resolve().parent.parent / "data" / "cases"


def make_app(tmp: Path) -> tuple[FastAPI, Database]:
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    settings = Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp, testing=True)
    app = create_app(settings, db)
    mount(app)
    return app, db


def add_clinician(db: Database, username: str) -> int:
    with db.session() as session:
        user_id: int = accounts.create_user(session, username, "clinician", PASSWORD).id
    return user_id


def add_patient(db: Database, clinician_id: int, name: str, birth_year: int = 1952) -> str:
    with db.session() as session:
        patient_id: str = records.create_patient(session, clinician_id, name, birth_year).id
    return patient_id


def lss_case(odi: list[int], leg: int, back: int) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((CASES / "lss-classic.case.json").read_bytes())
    doc = copy.deepcopy(doc)
    doc["instruments"] = {"odi": odi, "pain_nrs": {"back": back, "leg": leg}}
    return doc


def add_three_visits(db: Database, clinician_id: int, patient_id: str) -> None:
    """Baseline, 6 and 12 weeks: disability and pain falling past their MCIDs."""
    from spinecare.service.clinical import prepare_visit
    from spinecare.store.stamps import utcnow

    start = utcnow() - timedelta(weeks=12)
    series = [([2, 1, 2, 3, 2, 2, 1, 2, 2, 2], 7, 4), ([2, 1, 1, 2, 2, 1, 1, 1, 2, 1], 5, 3),
              ([1, 0, 1, 1, 1, 0, 0, 1, 1, 1], 2, 2)]
    for n, (odi, leg, back) in enumerate(series):
        new = prepare_visit(orjson.dumps(lss_case(odi, leg, back)))
        with db.session() as session:
            records.add_visit(session, patient_id, clinician_id, new,
                              at=start + timedelta(weeks=6 * n))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


# The web tests run on the same live server as the API tests.
Server = LiveServer




def licensed_text(instrument_id: str, language: str = "en") -> dict[str, Any]:
    """A stand-in for a clinic's licensed wording of an instrument: every item and answer
    option of the registry, reworded as "Licensed item N" and "Licensed answer N.M" (the real
    wording is under licence and never in this repository)."""
    from spinecare.instruments.registry import instrument

    inst = instrument(instrument_id)
    items = []
    for n, item in enumerate(inst.item, 1):
        scale = inst.scale_of(item)
        items.append({"link_id": item.link_id, "text": f"Licensed item {n}",
                      "options": [f"Licensed answer {n}.{m}"
                                  for m in range(1, len(scale.options) + 1)]})
    return {"instrument": inst.id, "version": inst.version, "language": language,
            "licence": "Test licence ref. 0000", "instructions": "Licensed instructions.",
            "gates": {g: f"Licensed question {g}" for g in inst.gate}, "item": items}


def licensed_odi_text() -> dict[str, Any]:
    return licensed_text("odi")
