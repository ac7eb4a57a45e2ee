"""``spinecare assess``: the assessment of one case, or of a JSON Lines file of cases.

    spinecare assess CASE [--json] [--lines]
    spinecare assess --fhir CASE|BUNDLE     the assessment and plan as a FHIR R4 Bundle

A batch is streamed: results are written in order, one per valid line, and each invalid line is
reported (``FILE:LINE: json.path: message``) without stopping the others; the exit status is 2
when any line was invalid.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

from spinecare.cli.io import (
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    Subcommands,
    cannot_read,
    problem_lines,
    read_input,
    report,
    source_name,
    write_json,
    write_text,
)

if TYPE_CHECKING:
    from spinecare.reasoning.engine import Engine

LINE_SUFFIXES = (".jsonl", ".ndjson")


def register(sub: Subcommands) -> None:
    """Add ``assess`` to the ``spinecare`` parser."""
    p = sub.add_parser("assess", help="assess a case (or a JSON Lines file of cases)",
                       description="Assess a spinecare.case/1 document: a readable report by "
                       "default, the assessment JSON with --json. A .jsonl file (or --lines) "
                       "holds one case per line and gives one assessment per line.")
    p.add_argument("path", metavar="CASE", help="a case file, a .jsonl file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print the assessment JSON")
    p.add_argument("--lines", action="store_true", help="read the input as JSON Lines")
    p.add_argument("--fhir", action="store_true",
                   help="print the assessment and plan as a FHIR R4 Bundle; the input may also "
                   "be a FHIR Bundle (read as by 'spinecare fhir to-case')")
    p.set_defaults(func=cmd_assess)


def looks_like_lines(path: str, data: bytes) -> bool:
    """Whether an input without a JSON Lines suffix holds one case per line."""
    import orjson

    if path.endswith(LINE_SUFFIXES):
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


def assess_lines(engine: Engine, lines: Iterable[tuple[int, bytes]], name: str,
                 as_json: bool, out: BinaryIO) -> int:
    """Assess numbered JSON Lines, writing one result per valid line in order."""
    import orjson

    from spinecare.case import parse_case
    from spinecare.errors import CaseError
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
            report(problem_lines(f"{name}:{number}", exc.problems))
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


def cmd_assess(args: argparse.Namespace) -> int:
    from spinecare.case import parse_case
    from spinecare.errors import CaseError
    from spinecare.reasoning.engine import default_engine
    from spinecare.report import render

    engine = default_engine()
    # The knowledge, the compiled rules and the models are long-lived: keep the cyclic garbage
    # collector from re-scanning them (freeze). Each case's results are acyclic and freed by
    # reference counting, so the collector need not run every few hundred allocations as it
    # does by default (a batch ran 12% faster with the higher threshold).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    name = source_name(args.path)
    if args.fhir:
        return _assess_fhir(args.path, name)
    if args.path != "-" and (args.lines or args.path.endswith(LINE_SUFFIXES)):
        # A JSON Lines file is streamed: a batch of millions needs no more memory than one.
        try:
            with open(args.path, "rb") as fh:
                return assess_lines(engine, enumerate(fh, 1), name, args.json,
                                    sys.stdout.buffer)
        except OSError as exc:
            raise InvalidInput([cannot_read(args.path, exc)]) from None
    data = read_input(args.path)
    if args.lines or looks_like_lines(args.path, data):
        return assess_lines(engine, enumerate(data.split(b"\n"), 1), name, args.json,
                            sys.stdout.buffer)
    try:
        case = parse_case(data)
    except CaseError as exc:
        raise InvalidInput(problem_lines(name, exc.problems)) from None
    assessment = engine.assess(case)
    if args.json:
        write_json(assessment)
    else:
        write_text(render(assessment))
    return EXIT_OK


def _assess_fhir(path: str, name: str) -> int:
    """One case, or one FHIR Bundle, in; the FHIR Bundle of its assessment and plan out."""
    import orjson

    from spinecare.case import parse_case
    from spinecare.errors import CaseError
    from spinecare.fhir.incoming import FhirInputError, to_case
    from spinecare.fhir.outgoing import to_bundle
    from spinecare.plan.planner import make_plan
    from spinecare.reasoning.engine import default_engine

    data = read_input(path)
    if path.endswith(LINE_SUFFIXES) or looks_like_lines(path, data):
        raise InvalidInput([f"{name}: --fhir takes one case or one Bundle, not JSON Lines"])
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([f"{name}: (document): is not valid JSON: {exc}"]) from None
    sources: dict[str, list[str]] = {}
    if isinstance(doc, dict) and "resourceType" in doc:
        try:
            read = to_case(doc)
        except FhirInputError as exc:
            raise InvalidInput(problem_lines(name, exc.problems)) from None
        report(f"{name}: {p.ref}: {p.message}" for p in read.problems)
        doc, sources = read.case, read.sources
    try:
        case = parse_case(doc)
    except CaseError as exc:
        raise InvalidInput(problem_lines(name, exc.problems)) from None
    assessment = default_engine().assess(case)
    write_json(to_bundle(case, assessment, make_plan(case, assessment), sources=sources))
    return EXIT_OK
