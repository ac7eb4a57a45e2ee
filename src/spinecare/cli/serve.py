"""``spinecare serve``: the HTTP API and the web app.

    spinecare serve [--host 127.0.0.1] [--port 8000] [--database URL] [--demo] [--workers N]
                    [--public-url URL] [--header-timeout S] [--body-timeout S] [--keep-alive S]
                    [--max-connections N]

The database is created or migrated first, once, by this process; ``--demo`` seeds a demo
clinic. With ``--workers N`` (PostgreSQL only) uvicorn runs N worker processes on one socket and
restarts any that dies. Nothing a request depends on is kept per process: tokens are checked
against the database on every request, sign-in throttling is in the database, idempotency keys
are a unique constraint, and the workers share the secret key file. SQLite allows one writer at
a time and stays the single-worker default; it refuses ``--workers`` above 1. The server's
limits (request headers within 10 s, a body never idle for 30 s, idle connections kept 5 s, at
most 500 connections per worker) are :mod:`spinecare.http.server`'s; the request body limits per
route are :mod:`spinecare.http.limits`'.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from spinecare.cli.db import add_database_option
from spinecare.cli.io import EXIT_INVALID, EXIT_OK, Subcommands, report, write_line

if TYPE_CHECKING:
    from fastapi import FastAPI

# The parent passes each worker the arguments it loaded its settings from, so that every
# worker builds exactly the parent's settings, whatever the environment adds.
_WORKER_ARGS = "SPINECARE_SERVE_WORKER_ARGS"
MAX_WORKERS = 64


def register(sub: Subcommands) -> None:
    """Add ``serve`` to the ``spinecare`` parser."""
    p = sub.add_parser("serve", help="run the HTTP API",
                       description="Serve the HTTP API (CONTRACT.md section 4). --demo seeds "
                       "a demo clinic (in its own database, demo.db, unless --database is "
                       "given) and prints the demo login. --workers N runs N processes "
                       "(PostgreSQL only; SQLite serves with one).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    add_database_option(p)
    p.add_argument("--demo", action="store_true", help="seed and serve the demo clinic")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (default 1; more than 1 needs PostgreSQL)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.add_argument("--public-url", metavar="URL",
                   help="the address users reach the service at, for every link it makes "
                        "(default: $SPINECARE_PUBLIC_URL, else http://HOST:PORT)")
    p.add_argument("--header-timeout", type=_positive(float), default=10.0, metavar="SECONDS",
                   help="close a connection whose request headers take longer (default 10)")
    p.add_argument("--body-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                   help="close a connection whose request body stops arriving for this long "
                        "(default 30)")
    p.add_argument("--keep-alive", type=_positive(int), default=5, metavar="SECONDS",
                   help="close an idle connection after this long (default 5)")
    p.add_argument("--max-connections", type=_positive(int), default=500, metavar="N",
                   help="answer 503 to connections past this many (default 500)")
    p.set_defaults(func=cmd_serve)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not text.isascii() or value <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def workers_problem(workers: int, dialect: str) -> str | None:
    """Why ``--workers`` cannot be ``workers`` on a ``dialect`` database, or ``None``."""
    if not 1 <= workers <= MAX_WORKERS:
        return f"--workers must be between 1 and {MAX_WORKERS} (got {workers})"
    if workers > 1 and dialect != "postgresql":
        return (f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time, so "
                "it is served by one worker (give --database postgresql://... or "
                "SPINECARE_DATABASE_URL to run several)")
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    from spinecare.app import create_app
    from spinecare.demo import seed
    from spinecare.http.server import ServerLimits, server_config
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database, DatabaseError, normalise_url

    public_url = args.public_url or os.environ.get("SPINECARE_PUBLIC_URL") \
        or f"http://{args.host}:{args.port}"
    settings = load_settings(args.database, demo=args.demo, public_url=public_url)
    dialect = normalise_url(settings.database_url).split(":", 1)[0].split("+", 1)[0]
    problem = workers_problem(args.workers, dialect)
    if problem is not None:
        report([f"spinecare serve: {problem}"])
        return EXIT_INVALID
    try:
        db = Database(settings.database_url)
    except DatabaseError as exc:
        report([f"spinecare serve: {exc}"])
        return EXIT_INVALID
    if args.demo:
        username, password = seed(db)
        write_line(f"spinecare demo clinic at {settings.public_url}/login\n"
                   f"  sign in as {username!r} with password {password!r}\n"
                   f"  the API: {settings.public_url}/docs once signed in (POST "
                   f"/api/v1/auth/token, or the Authorize button)")
    limits = ServerLimits(header_timeout=args.header_timeout, keep_alive=args.keep_alive,
                          max_connections=args.max_connections, body_idle=args.body_timeout)
    options = {"host": args.host, "port": args.port, "limits": limits,
               "log_level": args.log_level, "access_log": not args.no_access_log}
    if args.workers == 1:
        _run(server_config(create_app(settings, db), workers=1, **options))
        return EXIT_OK
    db.dispose()
    # Each worker is a fresh process that imports the app factory below.
    os.environ[_WORKER_ARGS] = json.dumps({"database": settings.database_url,
                                           "demo": args.demo,
                                           "public_url": settings.public_url,
                                           "data_dir": str(settings.data_dir)})
    _run(server_config("spinecare.cli.serve:worker_app", factory=True, workers=args.workers,
                       **options))
    return EXIT_OK


def _run(config: object) -> None:
    """Serve ``config`` (uvicorn's), with its workers under uvicorn's supervisor when it has
    more than one, as ``uvicorn.run`` does; the limits' protocol class goes to every worker."""
    from uvicorn import Config, Server
    from uvicorn.supervisors import Multiprocess

    assert isinstance(config, Config)
    server = Server(config)
    if config.workers <= 1:
        server.run()
        return
    sock = config.bind_socket()
    Multiprocess(config, sockets=[sock]).run()


def worker_app() -> FastAPI:
    """The app of one ``--workers`` process, with the parent's settings; the parent has
    migrated the schema already, so the workers do not race to."""
    from pathlib import Path

    from spinecare.app import create_app
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    given = json.loads(os.environ[_WORKER_ARGS])
    settings = load_settings(given["database"], demo=given["demo"],
                             public_url=given["public_url"], data_dir=Path(given["data_dir"]))
    return create_app(settings, Database(settings.database_url, migrate_schema=False))
