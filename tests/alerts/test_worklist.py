"""The worklist: open alerts first, then triage, then review due; filters; pages that are stable
and together hold every patient exactly once; only the caller's patients."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from spinecare.service import alerts, worklist
from spinecare.service.clinical import prepare_visit
from spinecare.service.errors import Forbidden
from spinecare.store import accounts, records
from spinecare.store import alerts as store
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.stamps import utcnow
from spinecare.store.worklist import SORTS, Filters
from tests.api.fixtures import PASSWORD, case_bytes


@pytest.fixture(scope="module")
def caseload(db: Database) -> dict[str, object]:
    with db.session() as session:
        me = accounts.principal_of(accounts.create_user(session, "wl-doc", "clinician",
                                                        PASSWORD))
        other = accounts.principal_of(accounts.create_user(session, "wl-other", "clinician",
                                                           PASSWORD))
    now = utcnow()
    ids: dict[str, str] = {}
    with db.session() as session:
        for name in ("Zoe Alert", "Yusuf Urgent", "Xena Routine Overdue", "Walt Routine",
                     "Vera New", "Una 100% Real", "Tom Emergency"):
            ids[name] = records.create_patient(session, me.user_id, name, 1950).id
        ids["Someone Else"] = records.create_patient(session, other.user_id,
                                                     "Someone Else", 1950).id
        for i in range(30):
            records.create_patient(session, me.user_id, f"Filler {i:02d}", 1960)
    def visit(name: str, case: str, weeks_ago: float) -> None:
        new = prepare_visit(case_bytes(case))
        with db.session() as session:
            records.add_visit(session, ids[name], me.user_id, new,
                              at=now - timedelta(weeks=weeks_ago))
    visit("Yusuf Urgent", "dcm-moderate", 0)
    visit("Xena Routine Overdue", "lss-classic", 52)
    visit("Walt Routine", "lss-classic", 0)
    visit("Tom Emergency", "ces-retention", 0)
    with db.session() as session:
        store.raise_alert(session, ids["Zoe Alert"], me.user_id, store.NewAlert(
            "intake", None, "emergency", ("cauda_equina_syndrome",), ("r",)))
    return {"me": me, "other": other, "ids": ids, "now": now}


EVERYONE = Filters()


def names(db: Database, who: Principal, filters: Filters = EVERYONE, sort: str = "priority",
          limit: int = 100, offset: int = 0) -> list[str]:
    rows, _ = worklist.page(db, who, filters, sort, utcnow(), limit=limit,  # type: ignore[arg-type]
                            offset=offset)
    return [r.patient.display_name for r in rows]


def test_open_alerts_come_first_then_triage_then_overdue_review(
        db: Database, caseload: dict[str, object]) -> None:
    me = caseload["me"]
    assert isinstance(me, Principal)
    first = names(db, me)[:5]
    # Visits stored straight into the store raise no alert: Tom is first by triage only.
    assert first[:2] == ["Zoe Alert", "Tom Emergency"]
    assert first[2] == "Yusuf Urgent"
    assert first[3] == "Xena Routine Overdue"  # routine, and its review is long overdue
    assert "Someone Else" not in names(db, me)


def test_filters_by_open_alerts_triage_overdue_and_name(
        db: Database, caseload: dict[str, object]) -> None:
    me = caseload["me"]
    assert isinstance(me, Principal)
    assert names(db, me, Filters(open_alerts=True)) == ["Zoe Alert"]
    assert names(db, me, Filters(triage="urgent")) == ["Yusuf Urgent"]
    overdue = names(db, me, Filters(overdue=True))
    assert "Xena Routine Overdue" in overdue and "Walt Routine" not in overdue
    assert "Vera New" not in overdue  # no visit, no review
    assert names(db, me, Filters(query="routine"), sort="name") == [
        "Walt Routine", "Xena Routine Overdue"]
    # LIKE's wildcards in a search are plain characters.
    assert names(db, me, Filters(query="100%")) == ["Una 100% Real"]
    assert names(db, me, Filters(query="_")) == []


@pytest.mark.parametrize("sort", SORTS)
def test_pages_are_stable_and_hold_every_patient_once(
        db: Database, caseload: dict[str, object], sort: str) -> None:
    me = caseload["me"]
    assert isinstance(me, Principal)
    everyone = names(db, me, sort=sort)
    paged = [n for offset in range(0, 40, 7) for n in names(db, me, sort=sort, limit=7,
                                                            offset=offset)]
    assert paged == everyone and len(set(everyone)) == len(everyone) == 37


def test_acknowledging_takes_the_patient_out_of_the_alert_filter(
        db: Database, caseload: dict[str, object]) -> None:
    me, ids = caseload["me"], caseload["ids"]
    assert isinstance(me, Principal) and isinstance(ids, dict)
    rows, _ = alerts.inbox(db, me, "open", limit=50, offset=0)
    zoe = next(r.alert for r in rows if r.patient and r.patient.id == ids["Zoe Alert"])
    alerts.acknowledge(db, me, zoe.id, "Called, seen in A&E.")
    assert names(db, me, Filters(open_alerts=True)) == []
    assert orjson.loads(zoe.flags_json) == ["cauda_equina_syndrome"]


def test_only_clinicians_have_a_worklist(db: Database) -> None:
    with pytest.raises(Forbidden):
        worklist.page(db, Principal(1, "admin"), Filters(), "name", utcnow(), limit=10,
                      offset=0)
