"""The store on each database: migrations, the append-only audit trail, idempotent visits,
tokens and invitations, settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from spinecare.http.settings import SettingsError, load_settings
from spinecare.service.clinical import prepare_visit
from spinecare.store import accounts, records
from spinecare.store.db import Database, current_revision, head_revision
from spinecare.store.models import AuditEvent, Base, Visit
from tests.api.fixtures import case_bytes


def test_the_migrations_build_exactly_the_models_tables(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_changes_nothing(db: Database) -> None:
    again = Database(db.url)
    assert current_revision(again.engine) == head_revision()
    again.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_audit_trail_refuses_updates_and_deletes(db: Database) -> None:
    with db.session() as session:
        records.audit(session, None, "test.event")
    for statement in (update(AuditEvent).values(action="tampered"), delete(AuditEvent)):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(statement)
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "tampered")) == 0


def _clinician(db: Database, name: str) -> int:
    with db.session() as session:
        return accounts.create_user(session, name, "clinician", "a long enough password").id


def test_a_visit_with_a_used_key_returns_the_first(db: Database) -> None:
    uid = _clinician(db, "store-visits")
    new = prepare_visit(case_bytes())
    with db.session() as session:
        pid = records.create_patient(session, uid, "P", 1950).id
    with db.session() as session:
        first, created = records.add_visit(session, pid, uid, new, idempotency_key="k")
    with db.session() as session:
        again, created_again = records.add_visit(session, pid, uid, new, idempotency_key="k")
    assert (created, created_again, again.id) == (True, False, first.id)
    other = prepare_visit(case_bytes("dcm-moderate"))
    with pytest.raises(records.IdempotencyConflict), db.session() as session:
        records.add_visit(session, pid, uid, other, idempotency_key="k")
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Visit)
                              .where(Visit.patient_id == pid)) == 1


def test_tokens_expire_and_are_stored_only_as_hashes(db: Database) -> None:
    uid = _clinician(db, "store-tokens")
    with db.session() as session:
        token, _ = accounts.issue_token(session, uid, timedelta(hours=1))
        stale, _ = accounts.issue_token(session, uid, timedelta(seconds=-1))
    with db.session() as session:
        assert accounts.principal_for_token(session, accounts.hash_token(token)) is not None
        assert accounts.principal_for_token(session, accounts.hash_token(stale)) is None
        assert session.execute(text("SELECT count(*) FROM access_tokens WHERE token_hash = :t"),
                               {"t": token}).scalar() == 0
        assert accounts.revoke_token(session, accounts.hash_token(token))
        assert accounts.principal_for_token(session, accounts.hash_token(token)) is None


def test_an_expired_invitation_is_refused(db: Database) -> None:
    uid = _clinician(db, "store-invitations")
    with db.session() as session:
        pid = records.create_patient(session, uid, "P", 1950).id
        token, _ = accounts.create_invitation(session, "k" * 40, pid, uid, timedelta(-1))
    with db.session() as session:
        assert accounts.redeem_invitation(session, "k" * 40, token) is None


def test_passwords_are_argon2_hashes(db: Database) -> None:
    _clinician(db, "store-hash")
    with db.session() as session:
        stored = session.execute(text("SELECT password_hash FROM users WHERE username = "
                                      "'store-hash'")).scalar()
        assert str(stored).startswith("$argon2id$")
        assert accounts.authenticate(session, "store-hash", "a long enough password")
        assert accounts.authenticate(session, "store-hash", "wrong") is None


def test_a_weak_secret_key_is_refused_outside_demo_and_tests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINECARE_SECRET_KEY", "changeme")
    with pytest.raises(SettingsError, match="too weak"):
        load_settings(data_dir=tmp_path)
    assert load_settings(data_dir=tmp_path, demo=True).demo


def test_without_a_secret_key_one_is_generated_once_and_kept_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINECARE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SPINECARE_DATABASE_URL", raising=False)
    first, second = load_settings(data_dir=tmp_path), load_settings(data_dir=tmp_path)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 48
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    assert first.database_url == f"sqlite:///{tmp_path / 'spinecare.db'}"
