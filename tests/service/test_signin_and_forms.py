"""One-time form tokens, intake drafts and e-mailed sign-in links, as use cases (no HTTP), on
SQLite and PostgreSQL: a spent token writes nothing twice, a link works once and only the
newest, requests are throttled and say nothing about which addresses are known."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from spinecare.service import access, patients, questionnaires, signin, visits
from spinecare.service.errors import Forbidden, NotAuthenticated, Throttled
from spinecare.store import accounts, drafts
from spinecare.store import education as addresses
from spinecare.store import once as forms
from spinecare.store import signin as links
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, FormToken, Patient, SigninEmail, SigninLink
from spinecare.store.once import Spent
from spinecare.store.stamps import utcnow
from spinecare.store.throttle import ThrottlePolicy
from tests.api.fixtures import PASSWORD

SECRET = "signin-test-secret-" + "s" * 40
NO_THROTTLE = ThrottlePolicy(enabled=False)


@pytest.fixture(scope="module")
def doc(db: Database) -> Principal:
    with db.session() as session:
        return accounts.principal_of(
            accounts.create_user(session, "once-doc", "clinician", PASSWORD))


def _ticket(owner: str, purpose: str) -> str:
    return forms.issue(SECRET, owner, purpose, utcnow())


def _claim(token: str, owner: str, purpose: str, where: str = "/patients/{}") -> Any:
    def claim(session: Any, target: str) -> None:
        forms.spend(session, SECRET, token, owner, purpose, where.format(target), utcnow())
    return claim


def _count_patients(db: Database, name: str) -> int:
    with db.session(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(Patient)
                                  .where(Patient.display_name == name)) or 0)


# --- form tokens -----------------------------------------------------------------------------


def test_a_form_token_spent_by_a_write_makes_a_second_send_write_nothing(
        db: Database, doc: Principal) -> None:
    owner = f"user:{doc.user_id}"
    token = _ticket(owner, "patient.create")
    first = patients.create(db, doc, "Once Only", 1950,
                            claim=_claim(token, owner, "patient.create"))
    with pytest.raises(Spent) as replay:
        patients.create(db, doc, "Once Only", 1950, claim=_claim(token, owner, "patient.create"))
    # The second send's patient was rolled back with it; it is led to the first's page.
    assert replay.value.location == f"/patients/{first.patient.id}"
    assert _count_patients(db, "Once Only") == 1


def test_a_form_token_works_only_for_its_owner_and_its_purpose(db: Database,
                                                               doc: Principal) -> None:
    owner = f"user:{doc.user_id}"
    token = _ticket(owner, "visit.create:abc")
    with db.session(read_only=True) as session:
        now = utcnow()

        def state(token: str, owner: str = owner, purpose: str = "visit.create:abc",
                  secret: str = SECRET) -> str:
            return forms.look(session, secret, token, owner, purpose, now).state

        assert state(token) == "open"
        assert state(token, owner="user:999999") == "unknown"
        assert state(token, purpose="visit.create:other") == "unknown"
        assert state(token, secret=SECRET + "x") == "unknown"
        assert state("forged") == "unknown"
        nonce, expiry, mac = token.split(".")
        # a later expiry, or another spelling of the same one, breaks the signature
        assert state(f"{nonce}.{int(expiry, 16) + 86400:x}.{mac}") == "unknown"
        assert state(f"{nonce}.{expiry.upper()}.{mac}") == "unknown"
        assert state(f"{nonce}.0{expiry}.{mac}") == "unknown"
    with pytest.raises(Spent):
        patients.create(db, doc, "Wrong Purpose", 1950,
                        claim=_claim(token, owner, "patient.create"))
    assert _count_patients(db, "Wrong Purpose") == 0


def test_an_expired_form_token_is_unknown_and_cannot_be_spent(db: Database,
                                                              doc: Principal) -> None:
    owner = f"user:{doc.user_id}"
    token = forms.issue(SECRET, owner, "patient.create",
                        utcnow() - forms.LIFETIME - timedelta(seconds=1))
    with db.session(read_only=True) as session:
        assert forms.look(session, SECRET, token, owner, "patient.create", utcnow()).state \
            == "unknown"
    with pytest.raises(Spent) as refused:
        patients.create(db, doc, "Too Late", 1950, claim=_claim(token, owner, "patient.create"))
    assert refused.value.location is None
    assert _count_patients(db, "Too Late") == 0


def _spent_rows(db: Database) -> int:
    with db.session(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(FormToken)) or 0)


def test_issuing_form_tokens_stores_nothing_and_spending_stores_one_row(
        db: Database, doc: Principal) -> None:
    owner = f"user:{doc.user_id}"
    before = _spent_rows(db)
    tokens = [_ticket(owner, "patient.create") for _ in range(200)]
    assert len(set(tokens)) == 200 and _spent_rows(db) == before
    created = patients.create(db, doc, "Stored Once", 1950,
                              claim=_claim(tokens[0], owner, "patient.create"))
    assert _spent_rows(db) == before + 1
    # Long after the form expired, Back to it still finds what it saved (until pruned).
    later = utcnow() + forms.LIFETIME + timedelta(hours=1)
    with db.session(read_only=True) as session:
        found = forms.look(session, SECRET, tokens[0], owner, "patient.create", later)
    assert found.state == "spent" and found.location == f"/patients/{created.patient.id}"
    with db.session() as session:
        forms.prune(session, later + forms.KEEP)
    with db.session(read_only=True) as session:
        assert forms.look(session, SECRET, tokens[0], owner, "patient.create",
                          later).state == "unknown"


def test_of_two_sends_at_once_one_writes_and_the_other_is_led_to_its_result(
        db: Database, doc: Principal) -> None:
    owner, purpose = f"user:{doc.user_id}", "visit.create:both"
    token = _ticket(owner, purpose)
    first_spent = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with db.session() as session:
            forms.spend(session, SECRET, token, owner, purpose, "/first", utcnow())
            first_spent.set()
            time.sleep(0.3)  # still uncommitted while the second send arrives
        outcome["first"] = "written"

    def second() -> None:
        first_spent.wait(10)
        try:
            with db.session() as session:
                forms.spend(session, SECRET, token, owner, purpose, "/second", utcnow())
            outcome["second"] = "written"
        except Spent as exc:
            outcome["second"] = exc.location

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == {"first": "written", "second": "/first"}


# --- intake drafts ---------------------------------------------------------------------------


def _patient_account(db: Database, doc: Principal, name: str) -> Principal:
    pid = patients.create(db, doc, name, 1950).patient.id
    with db.session() as session:
        token, _ = accounts.create_invitation(session, SECRET, pid, doc.user_id,
                                              timedelta(days=1))
        user = accounts.redeem_invitation(session, SECRET, token)
        assert user is not None
        return accounts.principal_of(user)


def _assessment(level: str) -> dict[str, Any]:
    return {"triage": {"level": level, "reasons": []}, "red_flags": []}


def test_an_intake_draft_is_kept_until_the_intake_is_finished(db: Database,
                                                              doc: Principal) -> None:
    me = _patient_account(db, doc, "Draft Patient")
    assert questionnaires.intake_draft(db, me) is None
    draft = drafts.Draft({"bladder": "normal"}, ["bowel_incontinence"],
                         ["bladder", "bowel_incontinence"])
    assert questionnaires.save_intake_step(db, me, draft, _assessment("routine"),
                                           finished=False, answers=draft.answers) is None
    again = questionnaires.intake_draft(db, me)
    assert again is not None
    assert (again.answers, again.skipped, again.order) == (
        {"bladder": "normal"}, ["bowel_incontinence"], ["bladder", "bowel_incontinence"])
    stored = questionnaires.save_intake_step(db, me, draft, _assessment("routine"),
                                             finished=True, answers=draft.answers)
    assert stored is not None and questionnaires.intake_draft(db, me) is None


def test_only_finished_intakes_fill_in_the_next_visit(db: Database, doc: Principal) -> None:
    me = _patient_account(db, doc, "Prefill Patient")
    assert me.patient_id is not None
    questionnaires.save_intake(db, me, {"bladder": "normal"}, _assessment("routine"), True)
    questionnaires.save_intake(db, me, {"bladder": "new_retention"}, _assessment("emergency"),
                               False)
    found = visits.prefill(db, doc, me.patient_id)
    assert len(found.intakes) == 1
    assert '"normal"' in found.intakes[0].answers_json


# --- sign-in links ---------------------------------------------------------------------------


def _with_address(db: Database, doc: Principal, name: str, email: str) -> Principal:
    me = _patient_account(db, doc, name)
    assert me.patient_id is not None
    with db.session() as session:
        addresses.set_address(session, me.patient_id, email)
    return me


def _links(db: Database, patient_id: str) -> list[SigninLink]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(SigninLink).where(
            SigninLink.patient_id == patient_id).order_by(SigninLink.created_at)))


def test_a_known_address_gets_a_link_that_signs_in_once(db: Database, doc: Principal) -> None:
    me = _with_address(db, doc, "Link Patient", "link.patient@example.org")
    assert me.patient_id is not None
    # The address is compared without its case.
    signin.request_link(db, "Link.Patient@Example.org", address="10.0.0.1", policy=NO_THROTTLE)
    (link,) = _links(db, me.patient_id)
    with db.session(read_only=True) as session:
        queued = session.scalars(select(SigninEmail).where(
            SigninEmail.link_id == link.id)).one()
    assert (queued.address, queued.status) == ("link.patient@example.org", "pending")
    code = links.token_of(SECRET, link.id)
    issued = signin.redeem(db, code, secret_key=SECRET, ttl=timedelta(days=30))
    assert issued.token
    with pytest.raises(NotAuthenticated):
        signin.redeem(db, code, secret_key=SECRET, ttl=timedelta(days=30))
    with pytest.raises(NotAuthenticated):
        signin.redeem(db, code + "x", secret_key=SECRET, ttl=timedelta(days=30))


def test_only_the_newest_link_works(db: Database, doc: Principal) -> None:
    me = _with_address(db, doc, "Newest Patient", "newest@example.org")
    assert me.patient_id is not None
    signin.request_link(db, "newest@example.org", address="10.0.0.2", policy=NO_THROTTLE)
    signin.resend(db, doc, me.patient_id, email_on=True)
    older, newer = _links(db, me.patient_id)
    assert older.cancelled_at is not None and newer.requested_by == doc.user_id
    with pytest.raises(NotAuthenticated):
        signin.redeem(db, links.token_of(SECRET, older.id), secret_key=SECRET,
                      ttl=timedelta(days=30))
    signin.redeem(db, links.token_of(SECRET, newer.id), secret_key=SECRET,
                  ttl=timedelta(days=30))


def test_a_link_past_its_minutes_signs_nobody_in(db: Database, doc: Principal) -> None:
    me = _with_address(db, doc, "Late Patient", "late@example.org")
    assert me.patient_id is not None
    signin.request_link(db, "late@example.org", address="10.0.0.3", policy=NO_THROTTLE)
    (link,) = _links(db, me.patient_id)
    with db.session() as session:
        row = session.get(SigninLink, link.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert timedelta(minutes=15) <= signin.LINK_TTL <= timedelta(minutes=30)
    with pytest.raises(NotAuthenticated):
        signin.redeem(db, links.token_of(SECRET, link.id), secret_key=SECRET,
                      ttl=timedelta(days=30))


def test_an_unknown_address_is_answered_the_same_and_audited_without_the_address(
        db: Database) -> None:
    assert signin.request_link(db, "nobody@example.org", address="10.0.0.4",
                               policy=NO_THROTTLE) is None
    with db.session(read_only=True) as session:
        last = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "auth.signin_link.request")
            .order_by(AuditEvent.id.desc())).first()
        assert last is not None and last.outcome == "not_found"
        assert "nobody" not in " ".join(str(v) for v in vars(last).values())
        assert session.scalar(select(func.count()).select_from(SigninEmail).where(
            SigninEmail.address == "nobody@example.org")) == 0


def test_link_requests_are_throttled_per_address_asked_for(db: Database,
                                                           doc: Principal) -> None:
    _with_address(db, doc, "Throttled Patient", "throttled@example.org")
    policy = ThrottlePolicy(pair_free=3, address_free=100, account_free=100)
    # As with sign-ins: the requests past the free ones start a lock, which refuses the next.
    for _ in range(policy.pair_free + 1):
        signin.request_link(db, "throttled@example.org", address="10.0.0.5", policy=policy)
    with pytest.raises(Throttled) as refused:
        signin.request_link(db, "throttled@example.org", address="10.0.0.5", policy=policy)
    assert refused.value.retry_after >= 1
    # An unknown address is throttled the same way: a lock says nothing about who exists.
    for _ in range(policy.pair_free + 1):
        signin.request_link(db, "unknown@example.org", address="10.0.0.5", policy=policy)
    with pytest.raises(Throttled):
        signin.request_link(db, "unknown@example.org", address="10.0.0.5", policy=policy)


def test_a_disabled_account_gets_no_link(db: Database, doc: Principal) -> None:
    me = _with_address(db, doc, "Disabled Patient", "disabled@example.org")
    assert me.patient_id is not None
    with db.session() as session:
        user = session.get(accounts.User, me.user_id)
        assert user is not None
        user.disabled = True
    signin.request_link(db, "disabled@example.org", address="10.0.0.6", policy=NO_THROTTLE)
    assert _links(db, me.patient_id) == []


def test_ended_access_gets_no_link_until_a_new_invitation(db: Database,
                                                          doc: Principal) -> None:
    """Ending a patient's access must not be undone by the patient asking for a sign-in
    link: no link is sent, one sent before is refused, a clinician cannot resend, and a new
    invitation gives e-mail sign-in back."""
    me = _with_address(db, doc, "Ended Patient", "ended@example.org")
    pid = me.patient_id
    assert pid is not None
    signin.request_link(db, "ended@example.org", address="10.0.0.7", policy=NO_THROTTLE)
    (before,) = _links(db, pid)
    access.end_patient_access(db, doc, pid)
    signin.request_link(db, "ended@example.org", address="10.0.0.7", policy=NO_THROTTLE)
    assert [link.id for link in _links(db, pid)] == [before.id]
    with pytest.raises(NotAuthenticated):
        signin.redeem(db, links.token_of(SECRET, before.id), secret_key=SECRET,
                      ttl=timedelta(days=30))
    with pytest.raises(Forbidden, match="a new invitation gives it back"):
        signin.resend(db, doc, pid, email_on=True)
    with db.session() as session:
        token, _ = accounts.create_invitation(session, SECRET, pid, doc.user_id,
                                              timedelta(days=1))
        assert accounts.redeem_invitation(session, SECRET, token) is not None
    signin.request_link(db, "ended@example.org", address="10.0.0.7", policy=NO_THROTTLE)
    newest = _links(db, pid)[-1]
    assert newest.id != before.id
    assert signin.redeem(db, links.token_of(SECRET, newest.id), secret_key=SECRET,
                         ttl=timedelta(days=30)).token
