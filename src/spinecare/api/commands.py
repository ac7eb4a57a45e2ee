"""Command-line commands of the service: registered by ``spinecare.cli``.

    spinecare serve [--host 127.0.0.1] [--port 8000] [--database URL] [--demo]
    spinecare admin create-user USERNAME --role clinician|admin --password-stdin [--database URL]
    spinecare backup FILE [--database URL]      a consistent copy, while the service runs
    spinecare restore FILE [--database URL]     into an empty database

Every command that opens the database first creates or migrates its schema.
Import nothing heavy at module level: every ``spinecare`` invocation loads this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_INVALID = 0, 1, 2


def _database_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database", metavar="URL",
                   help="an SQLAlchemy URL (default: $SPINECARE_DATABASE_URL, else an SQLite "
                        "file in the data directory, $SPINECARE_DATA_DIR)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the ``spinecare`` parser."""
    p = sub.add_parser("serve", help="run the HTTP API",
                       description="Serve the HTTP API (CONTRACT.md section 4) with one "
                       "worker. --demo seeds a demo clinic (in its own database, demo.db, "
                       "unless --database is given) and prints the demo login.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    _database_option(p)
    p.add_argument("--demo", action="store_true", help="seed and serve the demo clinic")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(func=cmd_serve)

    a = sub.add_parser("admin", help="administer accounts")
    asub = a.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    c = asub.add_parser("create-user", help="create a clinician or admin account",
                        description="Create an account; the password is read from standard "
                        "input (one line), never from the command line.")
    c.add_argument("username")
    c.add_argument("--role", required=True, choices=["clinician", "admin"])
    c.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from standard input")
    _database_option(c)
    c.set_defaults(func=cmd_create_user)

    b = sub.add_parser("backup", help="copy the database to a file while it runs",
                       description="Write every table, read in one consistent snapshot, to "
                       "FILE as JSON Lines (gzip-compressed when FILE ends in .gz).")
    b.add_argument("path", metavar="FILE")
    _database_option(b)
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser("restore", help="load a backup into an empty database",
                       description="Restore a `spinecare backup` file into an empty database "
                       "(created and migrated first), all or nothing.")
    r.add_argument("path", metavar="FILE")
    _database_option(r)
    r.set_defaults(func=cmd_restore)


def _open(database: str | None) -> object:
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    return Database(load_settings(database).database_url)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from spinecare.app import create_app
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    settings = load_settings(args.database, demo=args.demo,
                             public_url=f"http://{args.host}:{args.port}")
    db = Database(settings.database_url)
    if args.demo:
        from spinecare.demo import seed

        username, password = seed(db)
        print(f"spinecare demo clinic at http://{args.host}:{args.port}/login\n"
              f"  sign in as {username!r} with password {password!r}\n"
              f"  the API: http://{args.host}:{args.port}/docs (POST /api/v1/auth/token, or "
              f"the Authorize button)", flush=True)
    app = create_app(settings, db)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level=args.log_level,
                access_log=not args.no_access_log, server_header=False)
    return EXIT_OK


def cmd_create_user(args: argparse.Namespace) -> int:
    from spinecare.store.accounts import AccountError, create_user
    from spinecare.store.db import Database
    from spinecare.store.records import audit

    password = sys.stdin.readline().rstrip("\r\n")
    db = _open(args.database)
    assert isinstance(db, Database)
    try:
        with db.session() as session:
            user = create_user(session, args.username, args.role, password)
            audit(session, None, "user.create", target_id=str(user.id))
    except AccountError as exc:
        sys.stderr.write(f"spinecare: {exc}\n")
        return EXIT_INVALID
    finally:
        db.dispose()
    print(f"created {args.role} {args.username!r} (id {user.id})")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from spinecare.store.backup import backup
    from spinecare.store.db import Database

    db = _open(args.database)
    assert isinstance(db, Database)
    try:
        counts = backup(db, Path(args.path))
    finally:
        db.dispose()
    print(f"backed up to {args.path}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from spinecare.store.backup import BackupError, restore
    from spinecare.store.db import Database

    db = _open(args.database)
    assert isinstance(db, Database)
    try:
        counts = restore(db, Path(args.path))
    except BackupError as exc:
        sys.stderr.write(f"spinecare: {exc}\n")
        return EXIT_INVALID
    finally:
        db.dispose()
    print(f"restored from {args.path}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return EXIT_OK
