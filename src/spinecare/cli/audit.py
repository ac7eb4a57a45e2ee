"""The audit trail from the command line.

    spinecare audit verify [--database URL]    check the hash chain over every event

``verify`` walks the events in order and checks each one's hash and its link to the one before.
It prints the number of events and the chain's head hash: keep the head somewhere else, since
someone able to write to the database could rewrite the whole chain after an event, and only a
head recorded elsewhere shows that. Exit status 0 when the chain holds; 2, with one line per
broken event on standard error, when it does not.
"""

from __future__ import annotations

import argparse

from spinecare.cli.db import add_database_option, open_database
from spinecare.cli.io import EXIT_INVALID, EXIT_OK, Subcommands, report, write_line


def register(sub: Subcommands) -> None:
    """Add ``audit`` to the ``spinecare`` parser."""
    a = sub.add_parser("audit", help="check the audit trail")
    asub = a.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    v = asub.add_parser("verify", help="check the audit trail's hash chain",
                        description="Check that no audit event was changed, removed or "
                        "inserted: each event's hash covers its content and its "
                        "predecessor's hash.")
    add_database_option(v)
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from spinecare.store.audit import verify_chain

    db = open_database(args.database)
    try:
        with db.session(read_only=True) as session:
            found = verify_chain(session)
    finally:
        db.dispose()
    if found.problems:
        report([f"audit event {event_id}: {problem}" for event_id, problem in found.problems])
        report([f"spinecare: the audit trail is broken at {len(found.problems)} place(s) "
                f"in {found.events} events"])
        return EXIT_INVALID
    write_line(f"audit trail intact: {found.events} events; head {found.head}")
    return EXIT_OK
