"""Passkeys through the use cases (``spinecare.service.passkeys``) on a real database (SQLite,
and PostgreSQL where it is set up), answered by a software authenticator that signs like a
platform one (``tests.store.authenticator``): adding a passkey, signing in with it, and every
way an answer is refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from spinecare.service import access, passkeys
from spinecare.service.errors import Forbidden
from spinecare.service.passkeys import PasskeyRefused, RelyingParty
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal, principal_of
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, Passkey, PasskeyChallenge, Patient, User
from spinecare.store.passkeys import CHALLENGE_TTL, Challenges, Opened
from spinecare.store.stamps import utcnow
from tests.store.authenticator import Authenticator, b64url, unb64url, with_challenge

RP = RelyingParty(id="localhost", name="spinecare", origins=("http://localhost:8000",))
ORIGIN = "http://localhost:8000"
TTL = timedelta(days=30)
BROWSER, OTHER_BROWSER = "pre:browser-one", "pre:browser-two"


def new_patient(db: Database, name: str = "Pat Key") -> tuple[Principal, Principal]:
    """A clinician and a signed-in patient account of their new patient."""
    with db.session() as session:
        doc = accounts.create_user(session, f"dr.{name.split()[0].lower()}.{id(name)}",
                                   "clinician", "correct horse battery staple")
        patient = records.create_patient(session, doc.id, name, 1950)
        user = User(username=None, role="patient", password_hash=None, patient_id=patient.id,
                    disabled=False, created_at=utcnow())
        session.add(user)
        session.flush()
        return principal_of(doc), principal_of(user)


#: The service's challenges, signed with a test secret.
CHALLENGES = Challenges("passkey-test-secret-" + "p" * 40)


def signin_options(owner: str = BROWSER, rp: RelyingParty = RP) -> str:
    return passkeys.signin_options(rp, owner, challenges=CHALLENGES)


def add_passkey(db: Database, who: Principal, device: Authenticator,
                owner: str = "user:1") -> Passkey:
    options = passkeys.registration_options(db, who, RP, owner, challenges=CHALLENGES)
    return passkeys.add(db, who, RP, owner, device.create(options, ORIGIN), "My phone",
                        challenges=CHALLENGES)


def sign_in(db: Database, device: Authenticator, owner: str = BROWSER, **kw: Any) -> str:
    options = signin_options(owner)
    return passkeys.sign_in(db, RP, owner, device.get(options, ORIGIN, **kw), ttl=TTL,
                            challenges=CHALLENGES).token


def refused(db: Database, credential: str, owner: str = BROWSER) -> str:
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.sign_in(db, RP, owner, credential, ttl=TTL, challenges=CHALLENGES)
    return caught.value.why


def last_audit(db: Database, action: str) -> AuditEvent:
    with db.session(read_only=True) as session:
        row = session.scalar(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(AuditEvent.id.desc()).limit(1))
    assert row is not None
    return row


def test_a_patient_adds_a_passkey_and_signs_in_with_it_as_their_account(db: Database) -> None:
    _, me = new_patient(db, "Ann Added")
    device = Authenticator()
    row = add_passkey(db, me, device)
    assert (row.name, row.sign_count, row.rp_id) == ("My phone", 0, "localhost")
    added = last_audit(db, "passkey.add")
    assert (added.outcome, added.patient_id, added.target_id) == ("ok", me.patient_id,
                                                                   str(row.id))
    token = sign_in(db, device)
    with db.session(read_only=True) as session:
        found = accounts.principal_for_token(session, accounts.hash_token(token))
        kept = session.get(Passkey, row.id)
    assert found is not None and found[0].user_id == me.user_id
    # the session lasts as long as an e-mailed link's
    assert abs((found[1] - utcnow()) - TTL) < timedelta(minutes=1)
    assert kept is not None and kept.sign_count == 1 and kept.last_used_at is not None
    event = last_audit(db, "auth.passkey")
    assert (event.outcome, event.actor_id, event.patient_id) == ("ok", me.user_id,
                                                                  me.patient_id)


def test_the_user_handle_is_random_not_the_patient_id_and_one_per_account(
        db: Database) -> None:
    _, me = new_patient(db, "Hana Handle")
    first = add_passkey(db, me, Authenticator())
    second = add_passkey(db, me, Authenticator())
    assert first.user_handle == second.user_handle
    handle = unb64url(first.user_handle)
    assert len(handle) == 32 and me.patient_id is not None
    assert me.patient_id.encode() not in handle and str(me.user_id).encode() != handle


def test_a_replayed_assertion_is_refused(db: Database) -> None:
    _, me = new_patient(db, "Rita Replay")
    device = Authenticator()
    add_passkey(db, me, device)
    options = signin_options()
    answer = device.get(options, ORIGIN)
    passkeys.sign_in(db, RP, BROWSER, answer, ttl=TTL, challenges=CHALLENGES)
    assert refused(db, answer) == "expired"
    event = last_audit(db, "auth.passkey")
    assert event.outcome == "denied" and "already used" in (event.reason or "")


def test_an_answer_to_another_browsers_challenge_is_refused(db: Database) -> None:
    _, me = new_patient(db, "Otto Other")
    device = Authenticator()
    add_passkey(db, me, device)
    options = signin_options(OTHER_BROWSER)
    assert refused(db, device.get(options, ORIGIN), owner=BROWSER) == "expired"


def test_a_challenge_never_given_out_or_run_out_is_refused(db: Database) -> None:
    _, me = new_patient(db, "Eve Expired")
    device = Authenticator()
    add_passkey(db, me, device)
    options = signin_options()
    assert refused(db, device.get(with_challenge(options, b"x" * 32), ORIGIN)) == "expired"
    # signed here, for this browser, but handed out a second longer ago than it lives
    old = CHALLENGES.issue(BROWSER, "signin", utcnow() - CHALLENGE_TTL - timedelta(seconds=1))
    assert refused(db, device.get(with_challenge(signin_options(), old), ORIGIN)) == "expired"
    # the same, signed with another secret (another service, or before the key changed)
    other = Challenges("another-secret-" + "o" * 40).issue(BROWSER, "signin", utcnow())
    assert refused(db, device.get(with_challenge(signin_options(), other), ORIGIN)) == "expired"
    # a genuine challenge with one bit changed
    fresh = bytearray(CHALLENGES.issue(BROWSER, "signin", utcnow()))
    fresh[20] ^= 1
    assert refused(db, device.get(with_challenge(signin_options(), bytes(fresh)), ORIGIN)) \
        == "expired"
    assert sign_in(db, device)


def test_handing_out_challenges_stores_nothing_and_an_answer_stores_one_row(
        db: Database) -> None:
    _, me = new_patient(db, "Nora Nothing")
    device = Authenticator()
    add_passkey(db, me, device)

    def rows() -> int:
        with db.session(read_only=True) as session:
            return len(session.scalars(select(PasskeyChallenge.challenge_hash)).all())

    before = rows()
    answers = [device.get(signin_options(), ORIGIN) for _ in range(50)]
    assert rows() == before
    passkeys.sign_in(db, RP, BROWSER, answers[0], ttl=TTL, challenges=CHALLENGES)
    assert rows() == before + 1


def test_a_counter_that_did_not_move_on_is_refused_as_a_possible_clone(db: Database) -> None:
    _, me = new_patient(db, "Cleo Clone")
    device = Authenticator()
    add_passkey(db, me, device)
    sign_in(db, device)
    options = signin_options()
    assert refused(db, device.get(options, ORIGIN, counter_step=0)) == "invalid"


def test_a_forged_signature_or_another_origin_is_refused(db: Database) -> None:
    _, me = new_patient(db, "Fred Forged")
    device = Authenticator()
    add_passkey(db, me, device)
    answer = json.loads(device.get(signin_options(), ORIGIN))
    signature = bytearray(unb64url(answer["response"]["signature"]))
    signature[-1] ^= 1
    answer["response"]["signature"] = b64url(bytes(signature))
    assert refused(db, json.dumps(answer)) == "invalid"
    options = signin_options()
    assert refused(db, device.get(options, "http://evil.example")) == "invalid"


def test_a_passkey_of_another_account_handle_is_refused(db: Database) -> None:
    _, me = new_patient(db, "Uma Handle")
    device = Authenticator()
    add_passkey(db, me, device)
    device.credentials[-1].user_handle = b"someone else"
    assert refused(db, device.get(signin_options(), ORIGIN)) \
        == "invalid"


def test_a_passkey_made_for_another_site_is_unknown_here(db: Database) -> None:
    _, me = new_patient(db, "Sid Site")
    device = Authenticator()
    add_passkey(db, me, device)
    elsewhere = RelyingParty(id="clinic.example", name="spinecare",
                             origins=("https://clinic.example",))
    options = signin_options(BROWSER, elsewhere)
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.sign_in(db, elsewhere, BROWSER,
                         device.get(options, "https://clinic.example",
                                    credential=device.credentials[-1]),
                         ttl=TTL, challenges=CHALLENGES)
    assert caught.value.why == "unknown"


def test_a_removed_passkey_no_longer_signs_in(db: Database) -> None:
    _, me = new_patient(db, "Rob Removed")
    device = Authenticator()
    row = add_passkey(db, me, device)
    assert passkeys.remove(db, me, row.id) is True
    assert passkeys.remove(db, me, row.id) is False
    assert refused(db, device.get(signin_options(), ORIGIN)) \
        == "unknown"


def test_a_patient_cannot_remove_another_patients_passkey(db: Database) -> None:
    _, owner = new_patient(db, "Olga Owner")
    _, other = new_patient(db, "Ivan Intruder")
    row = add_passkey(db, owner, Authenticator())
    assert passkeys.remove(db, other, row.id) is False
    assert [p.id for p in passkeys.mine(db, owner)] == [row.id]


def test_ending_access_removes_the_passkeys_and_blocks_any_left(db: Database) -> None:
    doc, me = new_patient(db, "Enid Ended")
    device = Authenticator()
    add_passkey(db, me, device)
    add_passkey(db, me, Authenticator())
    assert me.patient_id is not None
    assert passkeys.count_of_patient(db, doc, me.patient_id) == 2
    access.end_patient_access(db, doc, me.patient_id)
    assert passkeys.count_of_patient(db, doc, me.patient_id) == 0
    assert refused(db, device.get(signin_options(), ORIGIN)) \
        == "unknown"


def test_a_passkey_of_a_patient_whose_access_ended_does_not_sign_in(db: Database) -> None:
    _, me = new_patient(db, "Bea Blocked")
    device = Authenticator()
    add_passkey(db, me, device)
    # Ended without going through the use case (as by an older version that kept passkeys).
    with db.session() as session:
        patient = session.get(Patient, me.patient_id)
        assert patient is not None
        patient.access_ended_at = utcnow()
    assert refused(db, device.get(signin_options(), ORIGIN)) == "ended"
    event = last_audit(db, "auth.passkey")
    assert event.outcome == "denied" and event.patient_id == me.patient_id
    with db.session() as session:
        user = session.get(User, me.user_id)
        assert user is not None
        user.disabled = True
        patient = session.get(Patient, me.patient_id)
        assert patient is not None
        patient.access_ended_at = None
    assert refused(db, device.get(signin_options(), ORIGIN)) == "ended"


def test_one_credential_cannot_stand_for_two_accounts(db: Database) -> None:
    _, first = new_patient(db, "Dana Double")
    _, second = new_patient(db, "Dora Double")
    device = Authenticator()
    add_passkey(db, first, device)
    options = passkeys.registration_options(db, second, RP, "user:2", challenges=CHALLENGES)
    again = device.create(options, ORIGIN, same_as=device.credentials[-1])
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.add(db, second, RP, "user:2", again, "Stolen", challenges=CHALLENGES)
    assert caught.value.why == "duplicate"
    assert passkeys.mine(db, second) == []


def test_a_registration_answer_is_spent_once_and_bound_to_its_browser(db: Database) -> None:
    _, me = new_patient(db, "Bo Bound")
    device = Authenticator()
    options = passkeys.registration_options(db, me, RP, "user:a", challenges=CHALLENGES)
    answer = device.create(options, ORIGIN)
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.add(db, me, RP, "user:b", answer, "Elsewhere", challenges=CHALLENGES)
    assert caught.value.why == "expired"
    passkeys.add(db, me, RP, "user:a", answer, "Here", challenges=CHALLENGES)
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.add(db, me, RP, "user:a", answer, "Again", challenges=CHALLENGES)
    assert caught.value.why == "expired"
    assert [p.name for p in passkeys.mine(db, me)] == ["Here"]


def test_malformed_answers_are_refused_and_audited(db: Database) -> None:
    for junk in ("", "not json", "{}", json.dumps({"id": "x", "response": {}}), "[1, 2]"):
        assert refused(db, junk) == "invalid"
    event = last_audit(db, "auth.passkey")
    assert event.outcome == "denied" and "malformed" in (event.reason or "")


def test_a_clinician_cannot_add_a_passkey(db: Database) -> None:
    doc, _ = new_patient(db, "Cal Clinician")
    with pytest.raises(Forbidden):
        passkeys.registration_options(db, doc, RP, "user:x", challenges=CHALLENGES)


def test_an_ip_address_cannot_be_a_relying_party() -> None:
    for host in ("127.0.0.1", "::1", "[::1]", "10.0.0.7", ""):
        assert not RelyingParty(id=host, name="s", origins=()).usable
    for host in ("localhost", "clinic.example", "spine-care"):
        assert RelyingParty(id=host, name="s", origins=()).usable


# --- the library's own recorded answers, through the use cases ----------------------------------

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "webauthn" / "py_webauthn-vectors.json")
    .read_text(encoding="utf-8"))
VECTOR_RP = RelyingParty(id=VECTORS["rp_id"], name="spinecare", origins=(VECTORS["origin"],))


@dataclass(frozen=True)
class Recorded(Challenges):
    """The vector's challenge, as if this service had signed it: a recorded answer cannot
    carry this service's signature, so only the signature check is stood in for; spending
    it (and refusing it spent) is the real store's."""

    given: bytes = b""
    owner: str = ""
    purpose: str = ""
    handle: str | None = None

    def opened(self, challenge: bytes, owner: str, purpose: str) -> Opened | None:
        if (challenge, owner, purpose) != (self.given, self.owner, self.purpose):
            return None
        return Opened(utcnow() + CHALLENGE_TTL, self.handle)


def recorded(challenge_b64: str, owner: str, purpose: str,
             handle: str | None = None) -> Recorded:
    return Recorded("unused", unb64url(challenge_b64), owner, purpose, handle)


def test_the_librarys_recorded_registration_is_kept_as_a_passkey(db: Database) -> None:
    vector = VECTORS["registration"]
    _, me = new_patient(db, "Vera Vector")
    given = recorded(vector["challenge"], "user:vector", "register",
                     handle=b64url(b"h" * 32))
    row = passkeys.add(db, me, VECTOR_RP, "user:vector", json.dumps(vector["credential"]),
                       "Security key", challenges=given)
    assert row.credential_id == vector["credential"]["id"]
    assert row.public_key == vector["public_key"]
    assert row.sign_count == vector["sign_count"]


def test_the_librarys_recorded_assertion_signs_in_once_and_moves_the_counter(
        db: Database) -> None:
    vector = VECTORS["authentication"]
    _, me = new_patient(db, "Vito Vector")
    with db.session() as session:
        session.add(Passkey(user_id=me.user_id, credential_id=vector["credential"]["id"],
                            public_key=vector["public_key"], sign_count=vector["sign_count"],
                            rp_id=VECTORS["rp_id"], user_handle=b64url(b"v" * 32),
                            name="Vector", transports=None, created_at=utcnow(),
                            last_used_at=None))
    answer = json.dumps(vector["credential"])
    given = recorded(vector["challenge"], BROWSER, "signin")
    passkeys.sign_in(db, VECTOR_RP, BROWSER, answer, ttl=TTL, challenges=given)
    with db.session(read_only=True) as session:
        row = session.scalar(select(Passkey).where(
            Passkey.credential_id == vector["credential"]["id"]))
    assert row is not None and row.sign_count == vector["new_sign_count"]
    # The same answer again: its challenge is spent; handed out again, its counter is stale.
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.sign_in(db, VECTOR_RP, BROWSER, answer, ttl=TTL, challenges=given)
    assert caught.value.why == "expired"
    with db.session() as session:
        session.execute(delete(PasskeyChallenge))
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.sign_in(db, VECTOR_RP, BROWSER, answer, ttl=TTL, challenges=given)
    assert caught.value.why == "invalid"
