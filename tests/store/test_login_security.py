"""Sign-in security in the store, on each database: usernames compared as people read them,
passwords checked against length and common lists, throttling counted in the database, and an
audit trail that is append-only and hash-chained."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from spinecare.store import accounts, passwords, throttle, usernames
from spinecare.store.audit import verify_chain
from spinecare.store.db import Database, _alembic_config, current_revision, head_revision
from spinecare.store.models import AuditEvent, LoginThrottle
from spinecare.store.stamps import utcnow
from spinecare.store.throttle import ThrottlePolicy
from tests.api.fixtures import POSTGRES_ENV, fresh_postgres_database

GOOD = "a long enough password"

# --- usernames ---------------------------------------------------------------------------------


LOOKALIKES = {
    "capitalised": str.capitalize,
    "upper case": str.upper,
    "padded": lambda name: f"  {name} ",
    "Cyrillic a": lambda name: "\u0430" + name[1:],
    "fullwidth a": lambda name: "\uff41" + name[1:],
    "mathematical bold a": lambda name: "\U0001d41a" + name[1:],
    "Cyrillic i": lambda name: name.replace("i", "\u0456", 1),
}


@pytest.mark.parametrize("spelling", LOOKALIKES)
def test_a_name_that_reads_as_an_existing_one_cannot_be_created(db: Database,
                                                                 spelling: str) -> None:
    name = f"alice-{uuid.uuid4().hex[:6]}"
    with db.session() as session:
        accounts.create_user(session, name, "clinician", GOOD)
    lookalike = LOOKALIKES[spelling](name)
    assert lookalike != name
    with pytest.raises(accounts.AccountError, match="is taken"), db.session() as session:
        accounts.create_user(session, lookalike, "clinician", GOOD)


def test_the_lookalike_keys_fold_case_width_and_cyrillic_letters() -> None:
    assert {usernames.username_key(n) for n in
            ("alice", "Alice", "ALICE", "\u0430lice", "\uff21LICE")} == {"alice"}
    # ASCII letters and digits are never folded into one another.
    assert usernames.username_key("a1ice") != usernames.username_key("alice")
    assert usernames.username_key("José") == "josé"


def test_sign_in_finds_the_account_by_any_spelling_of_its_name(db: Database) -> None:
    name = f"Bob-{uuid.uuid4().hex[:6]}"
    with db.session() as session:
        user_id = accounts.create_user(session, name, "clinician", GOOD).id
    with db.session() as session:
        for typed in (name, name.upper(), name.lower(), f"  {name}  "):
            found = accounts.authenticate(session, typed, GOOD)
            assert found is not None and found.id == user_id
        assert accounts.authenticate(session, name + "\x00", GOOD) is None


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "why"), [
    (" " * 12, "only spaces"),
    ("\t \u00a0" * 5, "only spaces"),
    ("short pw", "at least 12"),
    ("password1234", "too easy"),
    ("qwertyuiop12", "too easy"),
    ("aaaaaaaaaaaaaaaa", "too easy"),
    ("iloveyou2020!", "too easy"),
    ("x" * 1025, "at most 1024"),
])
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    found = passwords.problem(password)
    assert found is not None and why in found


def test_a_password_made_of_the_username_is_refused() -> None:
    assert passwords.problem("glimmerfoxtrot88") is None
    assert passwords.problem("glimmerfoxtrot88", username="glimmerfoxtrot") is not None


@pytest.mark.parametrize("password", [GOOD, "correct horse battery staple",
                                      "Tr0ub4dor&3xx", "x" * 60 + "q7#Lm2vR9zT!"])
def test_long_unusual_passwords_are_accepted(password: str) -> None:
    assert passwords.problem(password) is None


def test_creating_an_account_with_a_weak_password_is_refused(db: Database) -> None:
    with pytest.raises(accounts.AccountError, match="only spaces"), db.session() as session:
        accounts.create_user(session, f"spaces-{uuid.uuid4().hex[:6]}", "clinician", " " * 12)


# --- throttling --------------------------------------------------------------------------------


POLICY = ThrottlePolicy()


def _charge(db: Database, account: str, address: str, now: datetime) -> float | None:
    with db.session() as session:
        return throttle.charge(session, POLICY, account, address, now)


def test_an_account_and_address_pair_backs_off_exponentially(db: Database) -> None:
    account, address, now = uuid.uuid4().hex, "198.51.100.1", utcnow()
    # Five free attempts, then each one locks for twice as long as the one before.
    for n in range(5):
        assert _charge(db, account, address, now + timedelta(seconds=n)) is None
    waits = []
    t = now + timedelta(seconds=10)
    for _ in range(6):
        assert _charge(db, account, address, t) is None
        wait = _charge(db, account, address, t)
        assert wait is not None
        waits.append(wait)
        t += timedelta(seconds=wait)
    assert waits == [1, 2, 4, 8, 16, 32]


def test_a_locked_attempt_does_not_lengthen_the_lock(db: Database) -> None:
    account, address, now = uuid.uuid4().hex, "198.51.100.2", utcnow()
    for _ in range(6):  # the sixth is let through, and locks the pair for a second
        assert _charge(db, account, address, now) is None
    for _ in range(50):
        assert _charge(db, account, address, now) == 1
    assert _charge(db, account, address, now + timedelta(seconds=1)) is None


def test_an_attacker_elsewhere_locks_a_real_user_out_for_a_minute_at_most(db: Database) -> None:
    account, now = uuid.uuid4().hex, utcnow()
    # Guesses from 40 addresses, a few each: only the account's own (short) lock builds up.
    t = now
    for n in range(40):
        while (wait := _charge(db, account, f"203.0.113.{n}", t)) is not None:
            t += timedelta(seconds=wait)
    wait = _charge(db, account, "192.0.2.200", t)
    assert wait is not None and wait <= 60


def test_a_correct_sign_in_clears_the_account_but_not_the_address(db: Database) -> None:
    account, address, now = uuid.uuid4().hex, "198.51.100.3", utcnow()
    for _ in range(4):
        _charge(db, account, address, now)
    with db.session() as session:
        throttle.succeeded(session, POLICY, account, address)
        counts = {row.key.split(":")[0]: row.failures for row in session.scalars(
            select(LoginThrottle).where(LoginThrottle.key.contains(address)))}
    assert counts == {"address": 3}


def test_counts_are_forgotten_after_a_quiet_quarter_of_an_hour(db: Database) -> None:
    account, address, now = uuid.uuid4().hex, "198.51.100.4", utcnow()
    for _ in range(6):
        _charge(db, account, address, now)
    later = now + timedelta(minutes=16)
    assert _charge(db, account, address, later) is None
    assert _charge(db, account, address, later) is None


def test_ipv6_addresses_count_by_their_64_prefix() -> None:
    assert throttle.address_group("2001:db8:1:2:aaaa::1") == \
        throttle.address_group("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert throttle.address_group("::ffff:192.0.2.9") == "192.0.2.9"
    assert throttle.address_group(None) == "unknown"


# --- the audit trail ---------------------------------------------------------------------------


def _event(db: Database, action: str = "test.event") -> int:
    from spinecare.store.records import audit

    with db.session() as session:
        audit(session, None, action)
    with db.session(read_only=True) as session:
        found = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    assert found is not None
    return found


def test_replace_into_cannot_rewrite_an_audit_event(db: Database) -> None:
    event_id = _event(db)
    columns = ("id, at, action, outcome")
    values = f"{event_id}, '2020-01-01 00:00:00', 'rewritten', 'ok'"
    if db.dialect == "sqlite":
        statements = [f"REPLACE INTO audit_events ({columns}) VALUES ({values})",
                      f"INSERT OR REPLACE INTO audit_events ({columns}) VALUES ({values})"]
    else:
        statements = [f"INSERT INTO audit_events ({columns}) VALUES ({values}) ON CONFLICT "
                      "(id) DO UPDATE SET action = excluded.action"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(text(statement))
    with db.session(read_only=True) as session:
        assert session.get(AuditEvent, event_id).action == "test.event"  # type: ignore[union-attr]


def _verify(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spinecare", "audit", "verify", "--database",
                           url], capture_output=True, text=True, timeout=120, check=False)


def _tamper(db: Database, event_id: int, assignment: str) -> None:
    """What someone with write access to the database file or server can do."""
    if db.dialect == "sqlite":
        statements = ["DROP TRIGGER audit_events_no_update",
                      f"UPDATE audit_events SET {assignment} WHERE id = {event_id}",
                      "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                      "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"]
    else:
        statements = ["ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                      f"UPDATE audit_events SET {assignment} WHERE id = {event_id}",
                      "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"]
    with db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


@pytest.fixture
def own_db(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database of the same kind as ``db``, for a test that breaks its audit trail."""
    if db.dialect == "sqlite":
        fresh = Database(f"sqlite:///{tmp_path_factory.mktemp('own') / 'own.db'}")
        yield fresh
        fresh.dispose()
        return
    with fresh_postgres_database(os.environ[POSTGRES_ENV]) as url:
        fresh = Database(url)
        yield fresh
        fresh.dispose()


def test_audit_verify_names_the_event_that_was_tampered_with(own_db: Database) -> None:
    db = own_db
    first = _event(db, "test.chain")
    _event(db, "test.chain")
    ok = _verify(db.url)
    assert ok.returncode == 0, ok.stderr
    assert "audit trail intact" in ok.stdout
    _tamper(db, first, "outcome = 'denied'")
    broken = _verify(db.url)
    assert broken.returncode == 2
    assert f"audit event {first}: its content does not match its hash" in broken.stderr
    # Re-hashing the changed event does not hide it: the next one no longer follows it.
    with db.session(read_only=True) as session:
        changed = session.get(AuditEvent, first)
        assert changed is not None
        from spinecare.store.chain import event_hash

        rehashed = event_hash({c: getattr(changed, c) for c in (
            "at", "actor_id", "actor_role", "action", "patient_id", "target_id", "outcome",
            "address", "reason", "username", "prev_hash")})
    _tamper(db, first, f"hash = '{rehashed}'")
    with db.session(read_only=True) as session:
        problems = verify_chain(session).problems
    assert [event_id for event_id, _ in problems] == [first + 1]
    assert "does not follow the event before it" in problems[0][1]


def test_upgrading_an_old_database_chains_its_events_and_keys_its_users(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A database made by the first schema, with accounts and events, keeps working."""
    if os.environ.get(POSTGRES_ENV):
        with fresh_postgres_database(os.environ[POSTGRES_ENV]) as url:
            _upgrade_old(url)
    _upgrade_old(f"sqlite:///{tmp_path_factory.mktemp('old') / 'old.db'}")


def _upgrade_old(url: str) -> None:
    from spinecare.store.db import normalise_url

    engine = create_engine(normalise_url(url))
    with _alembic_config() as config, engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.commit()
    hashed = passwords.hasher.hash(GOOD)
    with engine.begin() as conn:
        for n, name in enumerate(("alice", "Alice", "bob")):
            conn.execute(text("INSERT INTO users (id, username, role, password_hash, disabled, "
                              "created_at) VALUES (:id, :name, 'clinician', :hash, false, "
                              ":at)"), {"id": n + 1, "name": name, "hash": hashed,
                                        "at": utcnow()})
        for action in ("auth.login", "patient.read", "auth.login"):
            conn.execute(text("INSERT INTO audit_events (at, action, outcome) VALUES "
                              "(:at, :action, 'ok')"), {"at": utcnow(), "action": action})
    engine.dispose()
    db = Database(url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.session() as session:
            report = verify_chain(session)
            assert (report.events, report.problems) == (3, [])
            # Both old accounts still sign in: "alice" by key, "Alice" by its exact name.
            for name in ("alice", "Alice", "bob", "BOB"):
                user = accounts.authenticate(session, name, GOOD)
                assert user is not None and user.username == (
                    "bob" if name.lower() == "bob" else name)
    finally:
        db.dispose()


def _spinecare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spinecare", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_backup_and_restore_are_audited_and_the_copy_keeps_its_chain(
        db: Database, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("backup")
    _event(db, "test.before-backup")
    run = _spinecare("backup", str(folder / "copy.jsonl"), "--database", db.url)
    assert run.returncode == 0, run.stderr
    with db.session(read_only=True) as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None and (last.action, last.address) == ("backup.create", "local")
    assert last.reason is not None and last.reason.startswith("copy.jsonl by system user ")
    target = f"sqlite:///{folder / 'restored.db'}"
    run = _spinecare("restore", str(folder / "copy.jsonl"), "--database", target)
    assert run.returncode == 0, run.stderr
    restored = Database(target)
    try:
        with restored.session(read_only=True) as session:
            actions = [e.action for e in session.scalars(
                select(AuditEvent).order_by(AuditEvent.id.desc()).limit(2))]
            report = verify_chain(session)
        assert actions == ["backup.restore", "test.before-backup"]
        assert report.problems == []
    finally:
        restored.dispose()
    assert _verify(target).returncode == 0
