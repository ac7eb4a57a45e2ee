"""``spinecare serve``: the HTTP API and the web app, with one worker.

    spinecare serve [--host 127.0.0.1] [--port 8000] [--database URL] [--demo]

The database is created or migrated first; ``--demo`` seeds a demo clinic.
"""

from __future__ import annotations

import argparse

from spinecare.cli.db import add_database_option
from spinecare.cli.io import EXIT_OK, Subcommands, write_line


def register(sub: Subcommands) -> None:
    """Add ``serve`` to the ``spinecare`` parser."""
    p = sub.add_parser("serve", help="run the HTTP API",
                       description="Serve the HTTP API (CONTRACT.md section 4) with one "
                       "worker. --demo seeds a demo clinic (in its own database, demo.db, "
                       "unless --database is given) and prints the demo login.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    add_database_option(p)
    p.add_argument("--demo", action="store_true", help="seed and serve the demo clinic")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from spinecare.app import create_app
    from spinecare.demo import seed
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    settings = load_settings(args.database, demo=args.demo,
                             public_url=f"http://{args.host}:{args.port}")
    db = Database(settings.database_url)
    if args.demo:
        username, password = seed(db)
        write_line(f"spinecare demo clinic at http://{args.host}:{args.port}/login\n"
                   f"  sign in as {username!r} with password {password!r}\n"
                   f"  the API: http://{args.host}:{args.port}/docs (POST /api/v1/auth/token, "
                   f"or the Authorize button)")
    app = create_app(settings, db)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level=args.log_level,
                access_log=not args.no_access_log, server_header=False)
    return EXIT_OK
