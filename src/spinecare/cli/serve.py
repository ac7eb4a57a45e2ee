"""``spinecare serve``: the HTTP API and the web app, with one worker.

    spinecare serve [--host 127.0.0.1] [--port 8000] [--database URL] [--demo]
                    [--public-url URL] [--header-timeout S] [--body-timeout S] [--keep-alive S]
                    [--max-connections N]

The database is created or migrated first; ``--demo`` seeds a demo clinic. The server's limits
(request headers within 10 s, a body never idle for 30 s, idle connections kept 5 s, at most 500
connections) are :mod:`spinecare.http.server`'s; the request body limits per route are
:mod:`spinecare.http.limits`'.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from spinecare.app import create_app
    from spinecare.demo import seed
    from spinecare.http.server import ServerLimits, server_config
    from spinecare.http.settings import load_settings
    from spinecare.store.db import Database

    public_url = args.public_url or os.environ.get("SPINECARE_PUBLIC_URL") \
        or f"http://{args.host}:{args.port}"
    settings = load_settings(args.database, demo=args.demo, public_url=public_url)
    db = Database(settings.database_url)
    if args.demo:
        username, password = seed(db)
        write_line(f"spinecare demo clinic at {settings.public_url}/login\n"
                   f"  sign in as {username!r} with password {password!r}\n"
                   f"  the API: {settings.public_url}/docs once signed in (POST "
                   f"/api/v1/auth/token, or the Authorize button)")
    app = create_app(settings, db)
    limits = ServerLimits(header_timeout=args.header_timeout, keep_alive=args.keep_alive,
                          max_connections=args.max_connections, body_idle=args.body_timeout)
    config = server_config(app, host=args.host, port=args.port, limits=limits, workers=1,
                           log_level=args.log_level, access_log=not args.no_access_log)
    uvicorn.Server(config).run()
    return EXIT_OK
