"""Files holding patient data or secrets are private (folders 0700, files 0600), backups can be
encrypted and authenticated with a key file, and a changed backup is refused before the target
database is touched. The commands run as a user runs them (``spinecare.cli.main``)."""

from __future__ import annotations

import hashlib
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spinecare.cli import main
from spinecare.http.settings import SettingsError, check_public_url, load_settings
from spinecare.store import records
from spinecare.store.accounts import create_user
from spinecare.store.db import Database
from spinecare.store.models import Patient
from spinecare.store.sealed import MAGIC

NAME = "Philippa Quackenbush-Sealed"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seeded(db: Database) -> Database:
    with db.session() as session:
        user = create_user(session, f"files-{uuid.uuid4().hex[:6]}", "clinician",
                           "a long enough password")
        records.create_patient(session, user.id, NAME, 1950)
    return db


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    assert main(["backup", "--generate-key", str(path)]) == 0
    return path


# --- the data directory and the database ------------------------------------------------------


def test_a_new_data_directory_is_private_and_so_are_its_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINECARE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SPINECARE_DATABASE_URL", raising=False)
    monkeypatch.setattr("os.umask", lambda _mask: 0o022)  # nothing relies on the umask
    where = tmp_path / "new" / "spinecare"
    settings = load_settings(data_dir=where)
    assert mode(where) == 0o700 and mode(where / "secret.key") == 0o600
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            create_user(session, "files-mode", "clinician", "a long enough password")
    finally:
        db.dispose()
    files = [p for p in where.iterdir() if p.name.startswith("spinecare.db")]
    assert files and all(mode(p) == 0o600 for p in files), [(p.name, oct(mode(p)))
                                                               for p in files]


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_the_public_url_must_be_an_http_address() -> None:
    assert check_public_url("https://clinic.example/spine/") == "https://clinic.example/spine"
    for bad in ("clinic.example", "ftp://clinic.example", "https://", "http://a@b.example",
                "https://clinic.example/?next=x"):
        with pytest.raises(SettingsError, match="SPINECARE_PUBLIC_URL"):
            check_public_url(bad)


# --- backups ------------------------------------------------------------------------------------


def test_a_plain_backup_is_readable_by_its_owner_only(seeded: Database, tmp_path: Path) -> None:
    target = tmp_path / "plain.jsonl"
    assert main(["backup", str(target), "--database", seeded.url]) == 0
    assert mode(target) == 0o600 and NAME.encode() in target.read_bytes()


def test_a_key_file_is_private_and_never_overwritten(key: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert mode(key) == 0o600 and len(key.read_text().strip()) == 44
    before = key.read_bytes()
    assert main(["backup", "--generate-key", str(key)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert key.read_bytes() == before


def test_an_encrypted_backup_reveals_nothing_and_restores_whole(
        seeded: Database, key: Path, tmp_path: Path) -> None:
    target = tmp_path / "sealed.bak"
    assert main(["backup", str(target), "--encrypt", "--key-file", str(key),
                 "--database", seeded.url]) == 0
    data = target.read_bytes()
    assert mode(target) == 0o600 and data.startswith(MAGIC)
    for plain in (NAME.encode(), b"patients", b"argon2", b"spinecare.backup/1"):
        assert plain not in data
    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    assert main(["restore", str(target), "--key-file", str(key),
                 "--database", restored_url]) == 0
    restored = Database(restored_url)
    try:
        with restored.session(read_only=True) as session:
            names = set(session.scalars(select(Patient.display_name)))
    finally:
        restored.dispose()
    assert NAME in names


def sealed_backup(seeded: Database, key: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sealed.bak"
    assert main(["backup", str(target), "--encrypt", "--key-file", str(key),
                 "--database", seeded.url]) == 0
    return target


def empty_target(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "target.db"
    Database(f"sqlite:///{path}").dispose()
    return path, f"sqlite:///{path}"


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "drop the last part",
                                    "append", "change the header"])
def test_a_changed_backup_is_refused_and_the_target_is_untouched(
        seeded: Database, key: Path, tmp_path: Path, damage: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = sealed_backup(seeded, key, tmp_path)
    data = bytearray(target.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "cut short":
        data = data[: len(data) - 7]
    elif damage == "drop the last part":
        # The last part holds the end of the gzip stream; without it the file ends early.
        data = data[: len(MAGIC) + 48 + 4 + 1]
    elif damage == "append":
        data += b"\x00" * 20
    else:
        data[len(MAGIC) + 3] ^= 0x01  # the salt: the key check no longer matches
    target.write_bytes(bytes(data))
    db_path, url = empty_target(tmp_path)
    before = digest(db_path)
    assert main(["restore", str(target), "--key-file", str(key), "--database", url]) == 2
    err = capsys.readouterr().err
    assert "nothing was restored" in err or "not the one" in err or "damaged" in err, err
    assert "Traceback" not in err
    assert digest(db_path) == before


def test_a_wrong_key_or_no_key_is_named(seeded: Database, key: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    target = sealed_backup(seeded, key, tmp_path)
    other = tmp_path / "other.key"
    assert main(["backup", "--generate-key", str(other)]) == 0
    _, url = empty_target(tmp_path)
    assert main(["restore", str(target), "--key-file", str(other), "--database", url]) == 2
    assert "not the one the file was encrypted with" in capsys.readouterr().err
    assert main(["restore", str(target), "--database", url]) == 2
    assert "give its key with --key-file" in capsys.readouterr().err
    restored = Database(url)
    try:
        with restored.session(read_only=True) as session:
            assert session.scalar(select(func.count()).select_from(Patient)) == 0
    finally:
        restored.dispose()


def test_a_key_file_readable_by_others_is_refused(seeded: Database, key: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    key.chmod(0o644)
    assert main(["backup", str(tmp_path / "x.bak"), "--encrypt", "--key-file", str(key),
                 "--database", seeded.url]) == 2
    assert "chmod 600" in capsys.readouterr().err
    assert not (tmp_path / "x.bak").exists()


def test_encrypt_needs_a_key_file(seeded: Database, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", str(tmp_path / "x.bak"), "--encrypt",
                 "--database", seeded.url]) == 2
    assert "--encrypt and --key-file go together" in capsys.readouterr().err


def test_a_sqlite_backup_with_a_nul_in_a_name_is_refused_by_postgresql_clearly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Names with a NUL got into SQLite before the doors refused them; PostgreSQL cannot store
    one. The restore names the row and column, quotes no name, and restores nothing."""
    import os

    from tests.api.fixtures import POSTGRES_ENV, fresh_postgres_database

    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"needs {POSTGRES_ENV}")
    source = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with source.session() as session:
            user = create_user(session, "nul-owner", "clinician", "a long enough password")
            records.create_patient(session, user.id, "Zebedee\x00Nulman", 1950)
    finally:
        source.dispose()
    target = tmp_path / "old.jsonl"
    assert main(["backup", str(target), "--database", f"sqlite:///{tmp_path / 'old.db'}"]) == 0
    with fresh_postgres_database(admin_url) as url:
        assert main(["restore", str(target), "--database", url]) == 2
        err = capsys.readouterr().err
        assert "patients.display_name" in err and "NUL" in err and "Nulman" not in err
        restored = Database(url)
        try:
            with restored.session(read_only=True) as session:
                assert session.scalar(select(func.count()).select_from(Patient)) == 0
        finally:
            restored.dispose()
