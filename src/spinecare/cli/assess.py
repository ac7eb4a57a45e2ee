"""``spinecare assess``: the assessment of one case, or of a JSON Lines file of cases.

    spinecare assess CASE [--json] [--lines] [--jobs N|auto]
    spinecare assess --fhir CASE|BUNDLE     the assessment and plan as a FHIR R4 Bundle

A batch is streamed: results are written in order, one per valid line, and each invalid line is
reported (``FILE:LINE: json.path: message``) without stopping the others; the exit status is 2
when any line was invalid. With ``--jobs`` a batch is shared among worker processes, a block of
lines at a time, and written in the input's order: the output is the same bytes as with one.
"""

from __future__ import annotations

import argparse
import gc
import mmap
import os
import stat
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, cast

from spinecare.cli.io import (
    EXIT_INTERNAL,
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
from spinecare.errors import SpinecareError

if TYPE_CHECKING:
    from spinecare.errors import Problem
    from spinecare.reasoning.engine import Engine

LINE_SUFFIXES = (".jsonl", ".ndjson")
# Lines a worker assesses at a time: enough that sending them and their results between
# processes costs little beside assessing them, few enough to keep memory and latency small.
BLOCK = 512


def register(sub: Subcommands) -> None:
    """Add ``assess`` to the ``spinecare`` parser."""
    p = sub.add_parser("assess", help="assess a case (or a JSON Lines file of cases)",
                       description="Assess a spinecare.case/1 document: a readable report by "
                       "default, the assessment JSON with --json. A .jsonl file (or --lines) "
                       "holds one case per line and gives one assessment per line.")
    p.add_argument("path", metavar="CASE", help="a case file, a .jsonl file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print the assessment JSON")
    p.add_argument("--lines", action="store_true", help="read the input as JSON Lines")
    p.add_argument("--jobs", type=_jobs, default="auto", metavar="N|auto",
                   help="assess a JSON Lines batch in N worker processes (default auto: one "
                   "per processor this process may use); the output is the same, in order")
    p.add_argument("--fhir", action="store_true",
                   help="print the assessment and plan as a FHIR R4 Bundle; the input may also "
                   "be a FHIR Bundle (read as by 'spinecare fhir to-case')")
    p.set_defaults(func=cmd_assess)


def _jobs(text: str) -> int:
    """``--jobs``: a positive number of processes, or ``auto`` (the processors available).
    Without fork (Windows) a batch runs in one process whatever is asked. Every ``assess``
    parses this, so it does not import multiprocessing (33 ms) to ask."""
    if not hasattr(os, "fork"):
        return 1
    if text == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1 or 'auto', "
                                         f"got {text!r}")
    return n


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
    """Assess numbered JSON Lines, writing one result per valid line in order and reporting
    each invalid line as it is found."""
    status = EXIT_OK
    # Results are written in blocks of about 64 kB: few writes, and a block small enough to
    # stay in the processor's cache (holding 2,048 results, 17 MB, made a batch 10-20% slower).
    buffer: list[bytes] = []
    size = 0
    for result in _results(engine, lines, as_json):
        if isinstance(result, bytes):
            buffer.append(result)
            size += len(result)
            if size >= 65536:
                out.write(b"".join(buffer))
                buffer.clear()
                size = 0
        else:
            number, problems = result
            report(problem_lines(f"{name}:{number}", problems))
            status = EXIT_INVALID
    out.write(b"".join(buffer))
    return status


def _results(engine: Engine, lines: Iterable[tuple[int, bytes]], as_json: bool
             ) -> Iterator[bytes | tuple[int, list[Problem]]]:
    """Each numbered line's result, or for a line that is not a valid case its number and
    problems; blank lines give nothing."""
    import orjson

    from spinecare.case import parse_case
    from spinecare.errors import CaseError
    from spinecare.report import render

    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for number, line in lines:
        if line.isspace() or not line:
            continue
        try:
            case = parse_case(line)
        except CaseError as exc:
            yield number, list(exc.problems)
            continue
        assessment = engine.assess(case)
        # orjson appends the newline itself, saving a copy of every result
        yield (dumps(assessment, option=newline) if as_json
               else (render(assessment) + "\n").encode())


# Bytes of input a worker assesses at a time (about 300 complete visits, 1,500 short cases):
# long enough that taking turns to write costs little, short enough that no worker waits long.
BLOCK_BYTES = 1 << 20


def _cut(data: bytes | mmap.mmap, k: int) -> int:
    """Where block ``k`` of ``data`` starts: at the start of the first line beginning at or
    after ``k * BLOCK_BYTES`` (every worker finds the same cuts without asking the others)."""
    if k == 0:
        return 0
    at = k * BLOCK_BYTES
    if at >= len(data):
        return len(data)
    newline = data.find(b"\n", at - 1)
    return len(data) if newline < 0 else newline + 1


def assess_in_workers(engine: Engine, data: bytes | mmap.mmap, name: str, as_json: bool,
                      out: BinaryIO, jobs: int) -> int:
    """A JSON Lines batch in ``jobs`` forked processes. The input is cut into blocks of about
    BLOCK_BYTES at line ends; worker ``i`` assesses blocks ``i``, ``i + jobs``, ... and writes
    each to ``out`` when its turn comes (a shared counter of blocks written), so the output is
    in the input's order, byte for byte what one process writes, and nothing passes between
    the processes but that counter and the count of lines written (for the line numbers of
    problems). A worker holds at most two blocks ahead of its turn."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("fork")
    turn = context.Value("q", 0, lock=False)
    lines_before = context.Value("q", 0, lock=False)
    invalid = context.Value("b", 0, lock=False)
    written = context.Condition()
    blocks = -(-len(data) // BLOCK_BYTES)
    out.flush()
    sys.stderr.flush()

    def work(first: int) -> None:
        held: deque[tuple[int, bytes, list[tuple[int, list[Problem]]], int]] = deque()

        def flush(wait: bool) -> None:
            with written:
                while held and (wait or turn.value == held[0][0]):
                    if turn.value != held[0][0]:
                        written.wait()
                        continue
                    k, body, problems, newlines = held.popleft()
                    out.write(body)
                    out.flush()
                    if problems:
                        invalid.value = 1
                        base = lines_before.value
                        report(line for number, found in problems
                               for line in problem_lines(f"{name}:{base + number}", found))
                        sys.stderr.flush()
                    lines_before.value += newlines
                    turn.value = k + 1
                    written.notify_all()

        for k in range(first, blocks, jobs):
            chunk = data[_cut(data, k):_cut(data, k + 1)]
            body, problems = _assess_numbered(engine, chunk, as_json)
            held.append((k, body, problems, chunk.count(b"\n")))
            flush(wait=len(held) > 2)
        flush(wait=True)

    def run(first: int) -> None:
        try:
            work(first)
        except BrokenPipeError:
            os._exit(EXIT_OK)  # the reader went away: as one process would, stop quietly
        except KeyboardInterrupt:
            os._exit(130)  # Ctrl-C reaches the whole group: the parent says so once
        except BaseException as exc:
            sys.stderr.write(f"spinecare: internal error in worker {first} "
                             f"({type(exc).__name__}: {exc})\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERNAL)
        os._exit(EXIT_OK)

    workers = [context.Process(target=run, args=(i,), daemon=True) for i in range(jobs)]
    for w in workers:
        w.start()
    try:
        # Whichever worker ends first is looked at first: one that failed leaves the others
        # waiting for a turn that never comes, so they are stopped rather than waited for.
        running = {w.sentinel: w for w in workers}
        while running:
            for sentinel in wait(list(running)):
                w = running.pop(cast(int, sentinel))
                w.join()
                if w.exitcode != EXIT_OK:
                    raise SpinecareError(f"a worker of the batch stopped (exit {w.exitcode}); "
                                         "the output is incomplete")
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
    return EXIT_INVALID if invalid.value else EXIT_OK


def _assess_numbered(engine: Engine, chunk: bytes, as_json: bool
                     ) -> tuple[bytes, list[tuple[int, list[Problem]]]]:
    """The results of the lines of ``chunk``, and the problems of the invalid ones by their
    line number within the chunk (from 1)."""
    results: list[bytes] = []
    problems: list[tuple[int, list[Problem]]] = []
    for result in _results(engine, enumerate(chunk.split(b"\n"), 1), as_json):
        if isinstance(result, bytes):
            results.append(result)
        else:
            problems.append(result)
    return b"".join(results), problems


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
                if args.jobs > 1:
                    return _file_in_workers(engine, fh, name, args)
                return assess_lines(engine, enumerate(fh, 1), name, args.json,
                                    sys.stdout.buffer)
        except OSError as exc:
            raise InvalidInput([cannot_read(args.path, exc)]) from None
    data = read_input(args.path)
    if args.lines or looks_like_lines(args.path, data):
        if args.jobs > 1:
            return assess_in_workers(engine, data, name, args.json, sys.stdout.buffer,
                                     args.jobs)
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


def _file_in_workers(engine: Engine, fh: BinaryIO, name: str, args: argparse.Namespace) -> int:
    """A JSON Lines file in ``args.jobs`` workers, which share it mapped into memory (the
    page cache's copy: a file larger than memory is read as the workers reach it)."""
    status = os.fstat(fh.fileno())
    if not stat.S_ISREG(status.st_mode) or status.st_size == 0:
        # a pipe or device cannot be mapped (and an empty file need not be): one process
        return assess_lines(engine, enumerate(fh, 1), name, args.json, sys.stdout.buffer)
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return assess_in_workers(engine, data, name, args.json, sys.stdout.buffer, args.jobs)


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
