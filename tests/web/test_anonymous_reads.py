"""What a browser that is not signed in can make the service write by reading pages: nothing
but the audit event of a refusal.
Every page of the web app (found from the app's routes, so a new page is covered when it is
added) is asked for by a new browser, and no table gains a row. A flood of page views, the
sign-in page's above all, then never queues for the database's write lock (form tokens and
passkey challenges are signed, not stored: ``spinecare.store.once``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import Route

from spinecare.http.audit import REFUSALS
from spinecare.store.db import Database
from spinecare.store.models import Base
from tests.web.helpers import add_clinician, add_patient, make_app


def _get_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, Route):
            if "GET" in (route.methods or set()):
                yield prefix + route.path
        elif hasattr(route, "original_router"):  # an included router (FastAPI's own class)
            inner = getattr(route.include_context, "prefix", "") or ""
            yield from _get_paths(route.original_router.routes, prefix + inner)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database, str]:
    app, db = make_app(Path(tmp_path_factory.mktemp("anonymous")))
    patient_id = add_patient(db, add_clinician(db, "doc"), "Anne Onymous")
    return app, db, patient_id


def _rows(db: Database) -> dict[str, int]:
    with db.session(read_only=True) as session:
        return {table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for table in Base.metadata.sorted_tables}


def test_no_page_read_by_a_browser_not_signed_in_writes_a_row(
        built: tuple[FastAPI, Database, str]) -> None:
    app, db, patient_id = built
    pages = sorted(p for p in set(_get_paths(app.routes)) if not p.startswith("/api/"))
    # the walk found the app's pages (a change in FastAPI's routing would show here)
    assert {"/signin", "/login", "/invite", "/patients/{patient_id}", "/my"} <= set(pages)
    assert len(pages) > 40
    for page in pages:
        url = re.sub(r"\{patient_id\}", patient_id, page)
        url = re.sub(r"\{[^}]+\}", "1", url)
        before = _rows(db)
        with TestClient(app) as browser:
            answer = browser.get(url)
        assert answer.status_code < 500, (url, answer.status_code)
        after = _rows(db)
        # a refusal (the articles ask a reader to sign in: 401) is audited, by design
        refused = answer.status_code in REFUSALS
        assert after["audit_events"] == before["audit_events"] + refused, url
        assert {**after, "audit_events": 0} == {**before, "audit_events": 0}, url
    before = _rows(db)
    # and the sign-in page, asked for again and again, as a flood would
    with TestClient(app) as browser:
        for _ in range(20):
            assert browser.get("/signin").status_code == 200
    assert _rows(db) == before
