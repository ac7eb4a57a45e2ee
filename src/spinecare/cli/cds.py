"""The CDS Hooks services from the command line.

    spinecare cds add-client ISS --jwks URL|FILE [--database URL]   allow an EHR to call
    spinecare cds clients [--database URL]                          the registered clients
    spinecare cds stats [--json] [--database URL]                   acceptance per card type

``add-client`` registers the ``iss`` an EHR puts in its JWTs with where its public keys are: an
https URL (fetched when needed, cached for five minutes) or a JWK Set file, whose keys are
checked and copied into the database now (run it again after the EHR rotates its keys).
Registering an ``iss`` again replaces its key source. ``stats`` counts the cards given and the
feedback received: the acceptance rate is accepted / (accepted + overridden), per card type.
"""

from __future__ import annotations

import argparse

from spinecare.cli.db import add_database_option, open_database
from spinecare.cli.io import (
    EXIT_OK,
    InvalidInput,
    Subcommands,
    problem_lines,
    read_input,
    write_json,
    write_line,
)


def register(sub: Subcommands) -> None:
    """Add ``cds`` to the ``spinecare`` parser."""
    c = sub.add_parser("cds", help="the CDS Hooks services: clients and card statistics")
    csub = c.add_subparsers(dest="cds_command", required=True, metavar="COMMAND")
    a = csub.add_parser("add-client", help="allow an EHR (a JWT issuer) to call the services",
                        description="Register the iss of an EHR's JWTs with its public key "
                        "set: an http(s) URL, or a JWK Set file (copied in now).")
    a.add_argument("iss", help="the iss claim of the EHR's JWTs")
    a.add_argument("--jwks", required=True, metavar="URL|FILE",
                   help="the EHR's JWK Set: an https:// URL or a file")
    add_database_option(a)
    a.set_defaults(func=cmd_add_client)
    ls = csub.add_parser("clients", help="list the registered clients")
    add_database_option(ls)
    ls.set_defaults(func=cmd_clients)
    s = csub.add_parser("stats", help="cards given and accepted, per card type")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_database_option(s)
    s.set_defaults(func=cmd_stats)


def cmd_add_client(args: argparse.Namespace) -> int:
    from spinecare.cds.security import parse_jwks
    from spinecare.service import cds
    from spinecare.service.errors import Invalid

    source: str = args.jwks
    url = source if source.startswith(("https://", "http://")) else None
    text = None
    if url is None:
        try:
            text = read_input(source).decode("utf-8")
            parse_jwks(text)
        except UnicodeDecodeError:
            raise InvalidInput([f"{source}: is not UTF-8 text"]) from None
        except ValueError as exc:
            raise InvalidInput([f"{source}: {exc}"]) from None
    db = open_database(args.database)
    try:
        created = cds.register_client(db, args.iss, jwks_url=url, jwks_json=text)
    except Invalid as exc:
        raise InvalidInput(problem_lines("add-client", exc.problems)) from None
    finally:
        db.dispose()
    where = url or f"the key set in {source}"
    write_line(f"{'registered' if created else 'updated'} CDS client {args.iss} with {where}")
    return EXIT_OK


def cmd_clients(args: argparse.Namespace) -> int:
    from spinecare.service import cds

    db = open_database(args.database)
    try:
        found = cds.clients(db)
    finally:
        db.dispose()
    for c in found:
        write_line(f"{c.iss}\t{c.jwks_url or '(key set stored)'}\tupdated {c.version}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from spinecare.service import cds

    db = open_database(args.database)
    try:
        rows = cds.stats(db)
    finally:
        db.dispose()

    def rate(accepted: int, overridden: int) -> float | None:
        answered = accepted + overridden
        return round(accepted / answered, 3) if answered else None

    if args.json:
        write_json({"card_types": [
            {"service": r.service, "card_type": r.card_type, "issued": r.issued,
             "accepted": r.accepted, "overridden": r.overridden,
             "acceptance_rate": rate(r.accepted, r.overridden)} for r in rows]})
        return EXIT_OK
    if not rows:
        write_line("no cards given yet")
        return EXIT_OK
    write_line(f"{'service':<20} {'card type':<40} {'given':>6} {'accepted':>9} "
               f"{'overridden':>11} {'acceptance':>11}")
    for r in rows:
        shown = rate(r.accepted, r.overridden)
        write_line(f"{r.service:<20} {r.card_type:<40} {r.issued:>6} {r.accepted:>9} "
                   f"{r.overridden:>11} "
                   f"{'-' if shown is None else format(shown, '.0%'):>11}")
    return EXIT_OK
