"""The use cases without HTTP: each refusal is its domain error, and each one that touches a
patient leaves its audit event (kept although the use case raised)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from sqlalchemy import select

from spinecare.service import (
    admin,
    auth,
    care_team,
    exercise_logs,
    invitations,
    patients,
    questionnaires,
    reviews,
    visits,
)
from spinecare.service.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from spinecare.store import accounts
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, QuestionnaireResponse
from tests.api.fixtures import PASSWORD, case_bytes

SECRET = "service-test-secret-" + "z" * 40
WEEK = timedelta(weeks=1)


@pytest.fixture(scope="module")
def people(db: Database) -> dict[str, Principal]:
    with db.session() as session:
        made = {name: accounts.principal_of(accounts.create_user(session, name, role, PASSWORD))
                for name, role in (("svc-doc", "clinician"), ("svc-other", "clinician"),
                                   ("svc-admin", "admin"))}
    return made


@pytest.fixture
def patient_id(db: Database, people: dict[str, Principal]) -> str:
    return patients.create(db, people["svc-doc"], "Service Patient", 1948).patient.id


def as_patient(db: Database, who: Principal, patient_id: str) -> Principal:
    code = invitations.create(db, who, patient_id, secret_key=SECRET, ttl=WEEK).token
    token = invitations.redeem(db, code, secret_key=SECRET, ttl=WEEK).token
    with db.session(read_only=True) as session:
        found = accounts.principal_for_token(session, accounts.hash_token(token))
    assert found is not None
    return found[0]


def events(db: Database, patient_id: str | None, action: str) -> list[tuple[str, str]]:
    with db.session(read_only=True) as session:
        rows = session.scalars(select(AuditEvent).where(
            AuditEvent.patient_id == patient_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)).all()
        return [(str(r.actor_role), r.outcome) for r in rows]


def test_another_clinicians_patient_is_not_found_and_each_refusal_is_audited(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    other = people["svc-other"]
    refusals: list[tuple[str, Any]] = [
        ("patient.read", lambda: patients.get(db, other, patient_id)),
        ("visit.list", lambda: visits.page(db, other, patient_id, limit=5, offset=0)),
        ("visit.create", lambda: visits.create(db, other, patient_id, case_bytes())),
        ("outcomes.read", lambda: visits.outcomes(db, other, patient_id)),
        ("care_team.add", lambda: care_team.add(db, other, patient_id, "svc-other")),
        ("questionnaire.create",
         lambda: questionnaires.submit(db, other, patient_id, "pain_nrs", {"leg": 3})),
        ("exercise_log.create",
         lambda: exercise_logs.add(db, other, patient_id, {"day": 1})),
        ("invitation.create", lambda: invitations.create(db, other, patient_id,
                                                         secret_key=SECRET, ttl=WEEK)),
    ]
    for action, call in refusals:
        with pytest.raises(NotFound) as caught:
            call()
        assert str(caught.value) == "Patient not found" and caught.value.what == "patient"
        assert events(db, patient_id, action) == [("clinician", "denied")], action


def test_a_patient_may_not_write_to_their_own_record_and_the_refusals_are_audited(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    me = as_patient(db, people["svc-doc"], patient_id)
    for action, what, call in (
            ("visit.create", "add visits",
             lambda: visits.create(db, me, patient_id, case_bytes())),
            ("care_team.add", "change their care team",
             lambda: care_team.add(db, me, patient_id, "svc-other")),
            ("invitation.create", "invite",
             lambda: invitations.create(db, me, patient_id, secret_key=SECRET, ttl=WEEK))):
        with pytest.raises(Forbidden, match=f"^Patients cannot {what}$"):
            call()
        assert ("patient", "denied") in events(db, patient_id, action)
    # What a patient may add to their own record.
    row = questionnaires.submit(db, me, patient_id, "pain_nrs", {"leg": 4})
    assert orjson.loads(row.answers_json) == {"leg": 4}
    assert exercise_logs.add(db, me, patient_id, {"day": 2, "pain_nrs": 3}).patient_id \
        == patient_id


def test_only_clinicians_register_patients_and_only_admins_administer(
        db: Database, people: dict[str, Principal]) -> None:
    with pytest.raises(Forbidden, match=r"^Only clinicians can register patients$"):
        patients.create(db, people["svc-admin"], "Nobody", 1950)
    for call in (lambda: admin.audit_trail(db, people["svc-doc"], patient_id=None, limit=1,
                                           offset=0),
                 lambda: admin.create_user(db, people["svc-doc"], "x-user", "clinician",
                                           PASSWORD)):
        with pytest.raises(Forbidden, match=r"^Only admins can do this$"):
            call()
    with pytest.raises(Invalid) as caught:
        admin.create_user(db, people["svc-admin"], "svc-doc", "clinician", PASSWORD)
    assert [p.path for p in caught.value.problems] == ["username"]


def test_failed_sign_ins_are_refused_and_audited_without_an_actor(
        db: Database, people: dict[str, Principal]) -> None:
    before = len(events(db, None, "auth.login"))
    with pytest.raises(NotAuthenticated, match=r"^Incorrect username or password$"):
        asyncio.run(auth.login(db, "SVC-Doc", "not the password", WEEK, address="192.0.2.7"))
    with pytest.raises(NotAuthenticated, match=r"^Invalid, expired or already used invitation$"):
        invitations.redeem(db, "not-an-invitation", secret_key=SECRET, ttl=WEEK)
    assert events(db, None, "auth.login")[before:] == [("None", "denied")]
    with db.session(read_only=True) as session:
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")
                                 .order_by(AuditEvent.id.desc())).first()
    assert failed is not None
    assert (failed.username, failed.reason) == ("svc-doc", "wrong password")
    assert asyncio.run(auth.login(db, "svc-doc", PASSWORD, WEEK)).token


def test_an_invalid_case_is_refused_with_its_problems_and_audited(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    with pytest.raises(Invalid) as caught:
        visits.create(db, people["svc-doc"], patient_id, b'{"schema": "nonsense"}')
    assert caught.value.detail == "Invalid case" and caught.value.problems
    assert events(db, patient_id, "visit.create") == [("clinician", "invalid")]


def test_an_idempotency_key_replays_its_visit_and_conflicts_with_another_case(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    doc = people["svc-doc"]
    first, created = visits.create(db, doc, patient_id, case_bytes(), "key-1")
    again, created_again = visits.create(db, doc, patient_id, case_bytes(), "key-1")
    assert (created, created_again, again.id) == (True, False, first.id)
    with pytest.raises(Conflict):
        visits.create(db, doc, patient_id, case_bytes("dcm-moderate"), "key-1")
    assert events(db, patient_id, "visit.replay") == [("clinician", "ok")]


def test_a_missing_visit_is_not_found_and_audited_as_such(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    with pytest.raises(NotFound) as caught:
        visits.get(db, people["svc-doc"], patient_id, "0" * 32)
    assert (str(caught.value), caught.value.what) == ("Visit not found", "visit")
    assert events(db, patient_id, "visit.read") == [("clinician", "not_found")]


def test_questionnaire_answers_are_checked_by_their_instrument(
        db: Database, people: dict[str, Principal], patient_id: str) -> None:
    doc = people["svc-doc"]
    with pytest.raises(Invalid) as caught:
        questionnaires.submit(db, doc, patient_id, "no-such-instrument", {})
    assert [p.path for p in caught.value.problems] == ["instrument"]
    with pytest.raises(Invalid) as caught:
        questionnaires.submit(db, doc, patient_id, "pain_nrs", {"leg": 99})
    assert all(p.path.startswith("answers.") for p in caught.value.problems)
    assert events(db, patient_id, "questionnaire.create") == []


def _response(instrument: str, at: datetime) -> QuestionnaireResponse:
    return cast(QuestionnaireResponse, SimpleNamespace(instrument=instrument, created_at=at))


def test_a_review_is_due_once_its_date_passes_until_it_is_answered() -> None:
    visited = datetime(2026, 1, 1)
    plan = {"review": [{"instrument": "odi", "weeks": [6, 12], "patient_text": "ODI"},
                       {"instrument": "mjoa", "weeks": [6]}]}
    assert reviews.next_review(visited, plan) == visited + 6 * WEEK
    assert reviews.next_review(visited, {}) is None
    seven_weeks = visited + 7 * WEEK
    due, later = reviews.due(visited, plan, [], seven_weeks)
    # mJOA is the clinician's to administer: never on the patient's list.
    assert [d["id"] for d in due] == ["odi"] and later == []
    answered: Sequence[QuestionnaireResponse] = [_response("odi", seven_weeks)]
    due, later = reviews.due(visited, plan, answered, seven_weeks)
    assert due == [] and [(d["id"], d["when"]) for d in later] == [("odi",
                                                                    visited + 12 * WEEK)]


def test_a_flood_of_sign_ins_enters_the_database_step_a_few_at_a_time(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight sign-ins at once never hold more than the gate's width of write transactions
    (counting and reading the account) at the same time, and every one is still answered."""
    inside = 0
    most = 0
    real_begin = auth._begin

    def counted(*args: Any) -> Any:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        try:
            # Long enough that, without the gate, the threads would overlap here.
            time.sleep(0.02)
            return real_begin(*args)
        finally:
            inside -= 1

    monkeypatch.setattr(auth, "_begin", counted)
    monkeypatch.setattr(auth, "GATE_WIDTH", 3)

    async def flood() -> list[BaseException | auth.Token]:
        return await asyncio.gather(
            *(auth.login(db, f"flood-{n}", "not the password", WEEK, address="192.0.2.9")
              for n in range(8)), return_exceptions=True)

    answers = asyncio.run(flood())
    assert all(isinstance(a, NotAuthenticated) for a in answers)
    assert 1 <= most <= 3
