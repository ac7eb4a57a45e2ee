"""The ``spinecare`` command line (CONTRACT.md section 3).

One module per command family, each adding its subcommands to the parser through ``register``:

    assess                      :mod:`spinecare.cli.assess`
    instruments, score          :mod:`spinecare.cli.instruments`
    plan, evidence              :mod:`spinecare.cli.plan`
    serve                       :mod:`spinecare.cli.serve`
    admin, backup, restore      :mod:`spinecare.cli.db`
    audit verify                :mod:`spinecare.cli.audit`
    knowledge coverage          :mod:`spinecare.cli.knowledge`
    cds                         :mod:`spinecare.cli.cds`
    explain                     :mod:`spinecare.cli.explain`
    fhir to-case                :mod:`spinecare.cli.fhir`
    screen                      :mod:`spinecare.cli.screen`

and :mod:`spinecare.cli.io` for what they share: reading a file or standard input, writing JSON
and text, and reporting bad input.

Exit status: 0 on success, 2 when any input was invalid (one line per problem on stderr, naming
the file, the line for JSON Lines, and the JSON path), 1 on an internal error. Users never see a
traceback unless ``SPINECARE_DEBUG=1``.

Every module here imports only the standard library at load, so ``spinecare --help`` and a
command's own start stay fast; each command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from spinecare import __version__
from spinecare.cli import (
    assess,
    audit,
    cds,
    db,
    explain,
    fhir,
    instruments,
    knowledge,
    plan,
    screen,
    serve,
)
from spinecare.cli.io import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, InvalidInput, report
from spinecare.errors import SpinecareError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinecare",
        description="Assessment, measurement and care planning for spinal stenosis.",
    )
    parser.add_argument("--version", action="version", version=f"spinecare {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order of `spinecare --help`.
    assess.register(sub)
    instruments.register(sub)
    plan.register(sub)
    explain.register(sub)
    fhir.register(sub)
    serve.register(sub)
    db.register(sub)
    audit.register(sub)
    knowledge.register(sub)
    cds.register(sub)
    screen.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except InvalidInput as exc:
        report(exc.lines)
        return EXIT_INVALID
    except SpinecareError as exc:
        sys.stderr.write(f"spinecare: {exc}\n")
        return EXIT_INTERNAL
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("spinecare: interrupted\n")
        return 130
    except Exception as exc:  # a user must never see a traceback
        if os.environ.get("SPINECARE_DEBUG") == "1":
            raise
        sys.stderr.write(f"spinecare: internal error ({type(exc).__name__}: {exc}); "
                         "set SPINECARE_DEBUG=1 for details\n")
        return EXIT_INTERNAL
