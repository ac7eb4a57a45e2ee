"""Commands over the clinic's database: accounts, backup and restore.

    spinecare admin create-user USERNAME --role clinician|admin --password-stdin [--database URL]
    spinecare backup FILE [--database URL]      a consistent copy, while the service runs
    spinecare restore FILE [--database URL]     into an empty database

Every command that opens the database first creates or migrates its schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spinecare.cli.io import EXIT_INVALID, EXIT_OK, Subcommands, report, write_line

if TYPE_CHECKING:
    from spinecare.store.db import Database


def add_database_option(p: argparse.ArgumentParser) -> None:
    """``--database URL``, for every command that opens the database."""
    p.add_argument("--database", metavar="URL",
                   help="an SQLAlchemy URL (default: $SPINECARE_DATABASE_URL, else an SQLite "
                        "file in the data directory, $SPINECARE_DATA_DIR)")


def open_database(url: str | None) -> Database:
    """The database named by ``--database`` (or the settings' default), created or migrated."""
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    return Database(load_settings(url).database_url)


def register(sub: Subcommands) -> None:
    """Add ``admin``, ``backup`` and ``restore`` to the ``spinecare`` parser."""
    a = sub.add_parser("admin", help="administer accounts")
    asub = a.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    c = asub.add_parser("create-user", help="create a clinician or admin account",
                        description="Create an account; the password is read from standard "
                        "input (one line), never from the command line.")
    c.add_argument("username")
    c.add_argument("--role", required=True, choices=["clinician", "admin"])
    c.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from standard input")
    add_database_option(c)
    c.set_defaults(func=cmd_create_user)

    b = sub.add_parser("backup", help="copy the database to a file while it runs",
                       description="Write every table, read in one consistent snapshot, to "
                       "FILE as JSON Lines (gzip-compressed when FILE ends in .gz).")
    b.add_argument("path", metavar="FILE")
    add_database_option(b)
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser("restore", help="load a backup into an empty database",
                       description="Restore a `spinecare backup` file into an empty database "
                       "(created and migrated first), all or nothing.")
    r.add_argument("path", metavar="FILE")
    add_database_option(r)
    r.set_defaults(func=cmd_restore)


def cmd_create_user(args: argparse.Namespace) -> int:
    from spinecare.store.accounts import AccountError, create_user
    from spinecare.store.records import audit

    password = sys.stdin.readline().rstrip("\r\n")
    db = open_database(args.database)
    try:
        with db.session() as session:
            user = create_user(session, args.username, args.role, password)
            audit(session, None, "user.create", target_id=str(user.id))
    except AccountError as exc:
        report([f"spinecare: {exc}"])
        return EXIT_INVALID
    finally:
        db.dispose()
    write_line(f"created {args.role} {args.username!r} (id {user.id})")
    return EXIT_OK


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())


def _audit(db: Database, action: str, path: str) -> None:
    """A backup or restore in the database's own trail: by whom (the system user running the
    command) and which file."""
    import getpass

    from spinecare.store.audit import RequestSource, audit, bind_request

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    detail = f"{Path(path).name} by system user {user} (command line)"
    with bind_request(RequestSource(address="local")), db.session() as session:
        audit(session, None, action, reason=detail)


def cmd_backup(args: argparse.Namespace) -> int:
    from spinecare.store.backup import backup

    db = open_database(args.database)
    try:
        counts = backup(db, Path(args.path))
        # After the snapshot: the copy does not hold its own event, the database does.
        _audit(db, "backup.create", args.path)
    finally:
        db.dispose()
    write_line(f"backed up to {args.path}: {_counts(counts)}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from spinecare.store.backup import BackupError, restore

    db = open_database(args.database)
    try:
        counts = restore(db, Path(args.path))
        _audit(db, "backup.restore", args.path)
    except BackupError as exc:
        # Not audited into the target: one event there would make it refuse the next restore.
        report([f"spinecare: {exc}"])
        return EXIT_INVALID
    finally:
        db.dispose()
    write_line(f"restored from {args.path}: {_counts(counts)}")
    return EXIT_OK
