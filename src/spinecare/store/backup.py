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
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import DateTime, Table, func, insert, select, text
from sqlalchemy.engine import Connection

from spinecare.errors import SpinecareError
from spinecare.store.db import Database, head_revision
from spinecare.store.models import Base
from spinecare.store.stamps import utcnow

FORMAT = "spinecare.backup/1"


class BackupError(SpinecareError):
    """A backup file that cannot be restored, or a target that must not be overwritten."""


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _open(path: Path, mode: str, *, gz: bool | None = None) -> IO[bytes]:
    if path.suffix == ".gz" if gz is None else gz:
        return gzip.open(path, mode + "b")  # type: ignore[return-value]
    return open(path, mode + "b")


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def backup(db: Database, path: Path) -> dict[str, int]:
    """Write a consistent copy of the database to ``path``; the rows per table."""
    counts: dict[str, int] = {}
    tmp = path.with_name(path.name + ".partial")
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        else:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin(), _open(tmp, "w", gz=path.suffix == ".gz") as out:
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


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with _open(path, "r") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise BackupError(f"{path}:{number}: not a backup line") from None


def restore(db: Database, path: Path) -> dict[str, int]:
    """Load a backup into an empty database; the rows per table."""
    try:
        lines = _lines(path)
        header = next(lines, None)
    except OSError as exc:
        raise BackupError(f"{path}: cannot read: {exc.strerror or exc}") from None
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
            batch[name].append(_decode(tables[name], line["row"]))
        # Foreign keys: insert parents first, whatever order the file used.
        for name, table in tables.items():
            rows = batch[name]
            for start in range(0, len(rows), 1000):
                conn.execute(insert(table), rows[start:start + 1000])
            counts[name] = len(rows)
        if db.dialect == "postgresql":
            _advance_sequences(conn, tables.values())
    return counts


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        column = table.columns.get(key)
        if column is None:
            raise BackupError(f"unknown column {table.name}.{key}")
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
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
