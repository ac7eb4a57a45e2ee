"""Backup and restore: every table as JSON Lines, read in one consistent snapshot.

The backup runs while the service runs. It reads every table inside one read transaction
(SQLite WAL: a deferred read transaction sees one snapshot and blocks no writer; PostgreSQL:
``REPEATABLE READ, READ ONLY``), so the copy is what the database held at one instant. The
format is the same for both back ends, so a backup of one restores into the other.

    {"format": "spinecare.backup/1", "schema_revision": "0001", "created_at": ..., "tables": [...]}
    {"table": "patients", "row": {...}}
    ...

Restore migrates the target, refuses one that already holds data, and inserts in foreign-key
order in one transaction: it gives back everything or nothing.

Backup files are created 0600. With a key (``backup --encrypt --key-file F``), the gzip-
compressed lines are sealed with AES-256-GCM (:mod:`spinecare.store.sealed`); restoring such a
file authenticates all of it (:func:`check_file`) before the database is opened, so a changed
file is refused with the target untouched.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Date, DateTime, Table, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from spinecare.errors import SpinecareError
from spinecare.store import sealed
from spinecare.store.db import Database, head_revision
from spinecare.store.files import private_file
from spinecare.store.models import Base
from spinecare.store.stamps import utcnow

FORMAT = "spinecare.backup/1"


class BackupError(SpinecareError):
    """A backup file that cannot be restored, or a target that must not be overwritten."""


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


class _Output:
    """Where backup lines go: a 0600 file, gzip-compressed for ``.gz`` or when sealed (sealed
    bytes do not compress afterwards), sealed when there is a key."""

    def __init__(self, path: Path, *, key: bytes | None):
        self.file = os.fdopen(private_file(path), "wb")
        self.sealer = sealed.SealingWriter(self.file, key) if key is not None else None
        target: IO[bytes] = self.sealer if self.sealer is not None else self.file  # type: ignore[assignment]
        compress = key is not None or path.suffix == ".gz"
        self.stream: IO[bytes] = gzip.GzipFile(fileobj=target, mode="wb") if compress \
            else target  # type: ignore[assignment]

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        try:
            if self.stream is not self.file:
                self.stream.close()  # the gzip trailer
            if self.sealer is not None:
                self.sealer.close()  # the last sealed part
            self.file.flush()
            os.fsync(self.file.fileno())
        finally:
            self.file.close()


@contextmanager
def _read(path: Path, key: bytes | None) -> Iterator[IO[bytes]]:
    """The backup's lines as a binary stream, opened, decompressed and authenticated."""
    with open(path, "rb") as raw:
        if raw.read(len(sealed.MAGIC)) == sealed.MAGIC:
            if key is None:
                raise BackupError(f"{path}: the backup is encrypted; give its key with "
                                  "--key-file")
            raw.seek(0)
            opened = sealed.OpeningReader(raw, key, str(path))
            with gzip.GzipFile(fileobj=opened, mode="rb") as plain:
                yield plain  # type: ignore[misc]
            return
        raw.seek(0)
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as plain:
                yield plain  # type: ignore[misc]
            return
        raw.seek(0)
        yield raw


def check_file(path: Path, key: bytes | None) -> None:
    """Refuse, before any database is touched, a backup that is encrypted without ``key`` or
    whose encryption does not authenticate (changed, cut short, or another key)."""
    try:
        if sealed.is_sealed(path):
            if key is None:
                raise BackupError(f"{path}: the backup is encrypted; give its key with "
                                  "--key-file")
            sealed.verify(path, key)
    except OSError as exc:
        raise BackupError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except sealed.SealedError as exc:
        raise BackupError(f"{exc}; nothing was restored") from None


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def backup(db: Database, path: Path, *, key: bytes | None = None) -> dict[str, int]:
    """Write a consistent copy of the database to ``path`` (sealed with ``key`` if given);
    the rows per table."""
    counts: dict[str, int] = {}
    tmp = path.with_name(path.name + ".partial")
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        else:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin(), _Output(tmp, key=key) as out:
            header = {"format": FORMAT, "schema_revision": head_revision(),
                      "created_at": utcnow().isoformat(),
                      "tables": [t.name for t in _tables()]}
            out.write(orjson.dumps(header) + b"\n")
            for table in _tables():
                counts[table.name] = 0
                # Ordered by primary key so two backups of the same data are identical.
                query = select(table).order_by(*table.primary_key.columns)
                for row in conn.execute(query).mappings():
                    line = {"table": table.name,
                            "row": {k: _encode(v) for k, v in row.items()}}
                    out.write(orjson.dumps(line) + b"\n")
                    counts[table.name] += 1
    os.replace(tmp, path)
    return counts


def _lines(path: Path, key: bytes | None) -> Iterator[dict[str, Any]]:
    try:
        with _read(path, key) as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise BackupError(f"{path}:{number}: not a backup line") from None
    except sealed.SealedError as exc:
        raise BackupError(f"{exc}; nothing was restored") from None
    except (OSError, EOFError) as exc:
        raise BackupError(f"{path}: cannot read: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None


def restore(db: Database, path: Path, *, key: bytes | None = None) -> dict[str, int]:
    """Load a backup (sealed with ``key``, if it is sealed) into an empty database; the rows
    per table. Any problem with the file rolls the whole restore back."""
    lines = _lines(path, key)
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path}: not a spinecare backup (no {FORMAT} header)")
    if header.get("schema_revision") != head_revision():
        raise BackupError(f"{path}: schema revision {header.get('schema_revision')} is not this "
                          f"version's {head_revision()}; restore with the matching version")
    tables = {t.name: t for t in _tables()}
    counts = dict.fromkeys(tables, 0)
    with db.engine.begin() as conn:
        for table in tables.values():
            if conn.scalar(select(func.count()).select_from(table)):
                raise BackupError(f"the target database already holds {table.name}; restore "
                                  "into an empty database")
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for line in lines:
            name = line.get("table")
            if name not in tables or not isinstance(line.get("row"), dict):
                raise BackupError(f"{path}: unknown table {name!r}")
            row = _decode(tables[name], line["row"])
            if db.dialect == "postgresql":
                _refuse_nul(path, tables[name], row)
            batch[name].append(row)
        # Foreign keys: insert parents first, whatever order the file used.
        for name, table in tables.items():
            rows = batch[name]
            try:
                for start in range(0, len(rows), 1000):
                    conn.execute(insert(table), rows[start:start + 1000])
            except SQLAlchemyError as exc:
                # The driver's message quotes the rows (names); the type says enough.
                raise BackupError(f"the target database refused a row of {name} "
                                  f"({type(getattr(exc, 'orig', exc)).__name__}); nothing "
                                  "was restored") from None
            counts[name] = len(rows)
        if db.dialect == "postgresql":
            _advance_sequences(conn, tables.values())
    return counts


def _refuse_nul(path: Path, table: Table, row: dict[str, Any]) -> None:
    """PostgreSQL cannot store a NUL in text (SQLite can, and older versions let one into a
    name): name the row and column rather than fail half-way with the value in the error."""
    for key, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            ids = ", ".join(f"{c.name} {row.get(c.name)}" for c in table.primary_key.columns)
            raise BackupError(f"{path}: {table.name}.{key} of the row with {ids} holds a NUL "
                              "character, which PostgreSQL cannot store; correct it in the "
                              "source database, back up again and restore that; nothing was "
                              "restored")


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        column = table.columns.get(key)
        if column is None:
            raise BackupError(f"unknown column {table.name}.{key}")
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(column.type, Date) and isinstance(value, str):
            value = date.fromisoformat(value)
        out[key] = value
    return out


def _advance_sequences(conn: Connection, tables: Any) -> None:
    """Explicit ids do not move PostgreSQL's sequences; move them past the restored rows."""
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))
