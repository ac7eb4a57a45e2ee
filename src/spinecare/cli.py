"""The ``spinecare`` command line (CONTRACT.md section 3).

Exit status: 0 when every case was assessed, 2 when any input was invalid (one line per problem
on stderr, naming the file, the line for JSON Lines, and the JSON path), 1 on an internal error.
Users never see a traceback unless ``SPINECARE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

import orjson

from spinecare import __version__
from spinecare.case import parse_case
from spinecare.errors import CaseError, SpinecareError

if TYPE_CHECKING:
    from spinecare.reasoning.engine import Engine

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2
_LINE_SUFFIXES = (".jsonl", ".ndjson")


def read_input(path: str) -> bytes:
    """The bytes of ``path``, or of standard input for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def _looks_like_lines(path: str, data: bytes) -> bool:
    if path.endswith(_LINE_SUFFIXES):
        return True
    body = data.strip()
    if b"\n" not in body:
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        # Several lines that each open an object: JSON Lines, not one broken document.
        return all(line.lstrip().startswith(b"{") for line in body.splitlines() if line.strip())
    return False


def _assess_lines(engine: Engine, lines: Iterable[tuple[int, bytes]], name: str,
                  as_json: bool, out: BinaryIO, err: BinaryIO) -> int:
    """Assess numbered JSON Lines, writing one result per valid line in order."""
    from spinecare.report import render

    status = EXIT_OK
    # Results are written in blocks of about 64 kB: few writes, and a block small enough to
    # stay in the processor's cache (holding 2,048 results, 17 MB, made a batch 10-20% slower).
    buffer: list[bytes] = []
    size = 0
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for number, line in lines:
        if line.isspace() or not line:
            continue
        try:
            case = parse_case(line)
        except CaseError as exc:
            report_problems(f"{name}:{number}", exc, err)
            status = EXIT_INVALID
            continue
        assessment = engine.assess(case)
        # orjson appends the newline itself, saving a copy of every result
        result = (dumps(assessment, option=newline) if as_json
                  else (render(assessment) + "\n").encode())
        buffer.append(result)
        size += len(result)
        if size >= 65536:
            out.write(b"".join(buffer))
            buffer.clear()
            size = 0
    out.write(b"".join(buffer))
    return status


def report_problems(where: str, error: CaseError, err: BinaryIO) -> None:
    """One line per problem: ``WHERE: json.path: message``."""
    for p in error.problems:
        err.write(f"{where}: {p.path}: {p.message}\n".encode())


def cmd_assess(args: argparse.Namespace) -> int:
    from spinecare.reasoning.engine import default_engine

    engine = default_engine()
    # The knowledge, the compiled rules and the models are long-lived: keep the cyclic garbage
    # collector from re-scanning them (freeze). Each case's results are acyclic and freed by
    # reference counting, so the collector need not run every few hundred allocations as it
    # does by default (a batch ran 12% faster with the higher threshold).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    name = "<stdin>" if args.path == "-" else args.path
    try:
        if args.path != "-" and (args.lines or args.path.endswith(_LINE_SUFFIXES)):
            # A JSON Lines file is streamed: a batch of millions needs no more memory than one.
            with open(args.path, "rb") as fh:
                return _assess_lines(engine, enumerate(fh, 1), name, args.json, out, err)
        data = read_input(args.path)
    except OSError as exc:
        err.write(f"{name}: cannot read: {exc.strerror}\n".encode())
        return EXIT_INVALID
    if args.lines or _looks_like_lines(args.path, data):
        return _assess_lines(engine, enumerate(data.split(b"\n"), 1), name, args.json, out,
                             err)
    try:
        case = parse_case(data)
    except CaseError as exc:
        report_problems(name, exc, err)
        return EXIT_INVALID
    assessment = engine.assess(case)
    if args.json:
        out.write(orjson.dumps(assessment, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        from spinecare.report import render

        out.write(render(assessment).encode())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinecare",
        description="Assessment, measurement and care planning for spinal stenosis.",
    )
    parser.add_argument("--version", action="version", version=f"spinecare {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("assess", help="assess a case (or a JSON Lines file of cases)",
                       description="Assess a spinecare.case/1 document: a readable report by "
                       "default, the assessment JSON with --json. A .jsonl file (or --lines) "
                       "holds one case per line and gives one assessment per line.")
    p.add_argument("path", metavar="CASE", help="a case file, a .jsonl file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print the assessment JSON")
    p.add_argument("--lines", action="store_true", help="read the input as JSON Lines")
    p.set_defaults(func=cmd_assess)
    # Other command groups register themselves; their modules import only argparse at load.
    from spinecare.api import commands as api_commands
    from spinecare.instruments import commands as instrument_commands
    from spinecare.plan import commands as plan_commands

    instrument_commands.register(sub)
    plan_commands.register(sub)
    api_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except SpinecareError as exc:
        sys.stderr.write(f"spinecare: {exc}\n")
        return EXIT_INTERNAL
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a user must never see a traceback
        if os.environ.get("SPINECARE_DEBUG") == "1":
            raise
        sys.stderr.write(f"spinecare: internal error ({type(exc).__name__}: {exc}); "
                         "set SPINECARE_DEBUG=1 for details\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
