"""Commands over the clinic's database: accounts, backup and restore.

    spinecare admin create-user USERNAME --role clinician|admin --password-stdin [--database URL]
    spinecare backup FILE [--database URL]      a consistent copy, while the service runs
    spinecare backup FILE --encrypt --key-file KEY      ... sealed with AES-256-GCM
    spinecare backup --generate-key KEY          a new key file (0600)
    spinecare restore FILE [--key-file KEY] [--database URL]     into an empty database

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
                       "FILE as JSON Lines (gzip-compressed when FILE ends in .gz), readable "
                       "by this user only. With --encrypt --key-file KEY the file is "
                       "compressed and sealed with AES-256-GCM: unreadable without KEY, and "
                       "refused by restore if changed. --generate-key KEY makes a key file.")
    b.add_argument("path", metavar="FILE", nargs="?")
    b.add_argument("--encrypt", action="store_true",
                   help="encrypt and authenticate the backup with --key-file's key")
    b.add_argument("--key-file", metavar="KEY", type=Path,
                   help="the key file (32 random bytes, base64url, mode 0600)")
    b.add_argument("--generate-key", metavar="KEY", type=Path,
                   help="write a new random key file (never overwrites one) and stop")
    add_database_option(b)
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser("restore", help="load a backup into an empty database",
                       description="Restore a `spinecare backup` file into an empty database "
                       "(created and migrated first), all or nothing. An encrypted backup "
                       "needs --key-file and is authenticated whole before the database is "
                       "opened.")
    r.add_argument("path", metavar="FILE")
    r.add_argument("--key-file", metavar="KEY", type=Path,
                   help="the key file the backup was encrypted with")
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
    from spinecare.store.sealed import SealedError, generate_key_file, read_key_file

    if args.generate_key is not None:
        if args.path or args.encrypt or args.key_file:
            report(["spinecare: --generate-key makes a key file only; back up with "
                    "--encrypt --key-file KEY afterwards"])
            return EXIT_INVALID
        try:
            generate_key_file(args.generate_key)
        except SealedError as exc:
            report([f"spinecare: {exc}"])
            return EXIT_INVALID
        write_line(f"wrote a new key to {args.generate_key} (mode 600); keep a copy apart "
                   "from the backups: without it they cannot be restored")
        return EXIT_OK
    if not args.path:
        report(["spinecare: backup needs FILE (or --generate-key KEY)"])
        return EXIT_INVALID
    if args.encrypt != (args.key_file is not None):
        report(["spinecare: --encrypt and --key-file go together"])
        return EXIT_INVALID
    try:
        key = read_key_file(args.key_file) if args.encrypt else None
    except SealedError as exc:
        report([f"spinecare: {exc}"])
        return EXIT_INVALID
    db = open_database(args.database)
    try:
        counts = backup(db, Path(args.path), key=key)
        # After the snapshot: the copy does not hold its own event, the database does.
        _audit(db, "backup.create", args.path)
    finally:
        db.dispose()
    sealed = " (encrypted)" if key else ""
    write_line(f"backed up to {args.path}{sealed}: {_counts(counts)}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from spinecare.store.backup import BackupError, check_file, restore
    from spinecare.store.sealed import SealedError, read_key_file

    path = Path(args.path)
    try:
        key = read_key_file(args.key_file) if args.key_file is not None else None
        # The whole file first: a changed backup must not even migrate the target.
        check_file(path, key)
    except (SealedError, BackupError) as exc:
        report([f"spinecare: {exc}"])
        return EXIT_INVALID
    db = open_database(args.database)
    try:
        counts = restore(db, path, key=key)
        _audit(db, "backup.restore", args.path)
    except BackupError as exc:
        # Not audited into the target: one event there would make it refuse the next restore.
        report([f"spinecare: {exc}"])
        return EXIT_INVALID
    finally:
        db.dispose()
    write_line(f"restored from {args.path}: {_counts(counts)}")
    return EXIT_OK
