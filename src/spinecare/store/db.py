"""Opening the database: the engine, SQLite's pragmas, and migrations run from package data.

SQLite (the embedded default) runs in WAL mode so that readers never wait for the writer, with
a busy timeout so that writers queue instead of failing. Every transaction begins with
``BEGIN IMMEDIATE``: nearly every request writes (an audit event at least), and a transaction
that first reads and later upgrades to a write lock can fail at once under WAL when another
writer got in between; taking the write lock up front makes writers simply wait their turn.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from spinecare.errors import SpinecareError
from spinecare.store.files import sqlite_files

SQLITE_BUSY_TIMEOUT_MS = 30_000


class KeepChanges(Exception):
    """Mix into an exception raised inside :meth:`Database.session` to commit the session's
    work before it propagates: a refused request still leaves its audit event."""


class DatabaseError(SpinecareError):
    """The database cannot be opened or migrated; the message says which and why."""


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3, the driver spinecare ships with."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The driver's own transaction handling is off; the "begin" hook below opens transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database: an engine, a session factory, and the migrated schema."""

    def __init__(self, url: str, *, migrate_schema: bool = True):
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            database = parsed.database
            if not database or database == ":memory:":
                raise DatabaseError("an in-memory SQLite database cannot be shared; "
                                    "give a file path")
            sqlite_files(Path(database).expanduser())
            kwargs["connect_args"] = {"check_same_thread": False}
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 48
            kwargs["pool_timeout"] = 60
        elif self.dialect == "postgresql":
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 30
            kwargs["pool_timeout"] = 60
            kwargs["pool_pre_ping"] = True
        else:
            raise DatabaseError(f"unsupported database {self.dialect!r}: use sqlite or "
                                "postgresql")
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except Exception as exc:  # a bad URL or a missing driver
            raise DatabaseError(f"cannot open the database: {exc}") from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()
        if migrate_schema:
            migrate(self.engine)

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.
        ``read_only`` sessions do not take SQLite's write lock."""
        kept: KeepChanges | None = None
        # SQLite has one writer at a time; within this process writers queue on a lock, which
        # wakes the next at once, instead of SQLite's busy handler, which sleeps and polls.
        lock = self._write_lock if self.dialect == "sqlite" and not read_only else nullcontext()
        with lock, self.sessions() as session, session.begin():
            if read_only and self.dialect == "sqlite":
                session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            try:
                yield session
            except KeepChanges as exc:
                kept = exc
        if kept is not None:
            raise kept

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain connection for one short read, outside the ORM: the token check that
        every request makes costs a fraction of a session's overhead this way. On SQLite it
        begins DEFERRED, so it never waits for the writer."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(sqlite_begin="DEFERRED")
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def insert_of(session: Session, table: Any) -> Any:
    """An INSERT into ``table`` in the session's own dialect (PostgreSQL's or SQLite's), which
    both offer ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    with _alembic_config() as config:
        head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@contextmanager
def _alembic_config() -> Iterator[Any]:
    from alembic.config import Config

    # Built in code: no alembic.ini, nothing read from outside the package.
    with as_file(files("spinecare.store").joinpath("migrations")) as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        yield config


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision (idempotent)."""
    from alembic import command

    try:
        with _alembic_config() as config, engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
    except Exception as exc:
        raise DatabaseError(f"cannot migrate the database schema: {exc}") from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    return rev


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())

