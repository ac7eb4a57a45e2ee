"""``spinecare screen``: the assessment over a whole population, into one Parquet file.

    spinecare screen INPUT --out OUT.parquet [--engine duckdb|spark|python] [--master URL]
                     [--report report.html] [--worklists DIR] [--skip-invalid]
                     [--rejected FILE] [--batch-size N]
    spinecare screen --schema

INPUT is a Parquet or CSV table with one column per case field (``spinecare screen --schema``
lists them), a JSON Lines file of cases, or a FHIR Bulk Data export folder (through the FHIR
mapping, where the build has it). Invalid input exits 2 with one line per problem
(the column, the first bad row and why); with ``--skip-invalid`` the bad rows go to a side file
(``--rejected``, by default ``OUT.rejected.jsonl``) with their reasons, and the rest are
screened. Every file is written whole or not at all: Ctrl-C or ``kill`` leaves none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spinecare.cli.io import EXIT_INVALID, EXIT_OK, InvalidInput, Subcommands, report, write_line

ENGINES = ("duckdb", "spark", "python")
#: Exit status after Ctrl-C (128 + SIGINT) or SIGTERM (128 + SIGTERM), as a shell reports them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def register(sub: Subcommands) -> None:
    """Add ``screen`` to the ``spinecare`` parser."""
    p = sub.add_parser(
        "screen", help="screen a population (Parquet, CSV or JSON Lines) into a Parquet file",
        description="Assess every row of a table of cases (Parquet, CSV with the same dotted "
        "column names, lists and structs as JSON text, or JSON Lines of cases) and write one "
        "Parquet row per case: triage, red flags, each condition's probability and band, the "
        "rules that fired. --report writes an HTML summary with the worklists; --worklists "
        "writes them as CSV. Optional columns care.referral and care.plan (true/false) say "
        "whether a referral or a care plan already exists.")
    p.add_argument("input", metavar="INPUT", nargs="?",
                   help="a .parquet, .csv or .jsonl file (or a FHIR Bulk Data export folder)")
    p.add_argument("--out", metavar="OUT.parquet", help="the Parquet file to write")
    p.add_argument("--schema", action="store_true",
                   help="print the input columns, their types and ranges, and exit")
    p.add_argument("--engine", choices=ENGINES, default="duckdb",
                   help="duckdb (default: in this process), spark, or python (the per-case "
                   "reference, slow)")
    p.add_argument("--master", metavar="URL",
                   help="the Spark master for --engine spark (default local[*])")
    p.add_argument("--report", metavar="report.html", help="write the HTML summary here")
    p.add_argument("--worklists", metavar="DIR", help="write the worklists as CSV files here")
    p.add_argument("--skip-invalid", action="store_true",
                   help="set bad rows aside (with their reasons) and screen the rest")
    p.add_argument("--rejected", metavar="FILE",
                   help="with --skip-invalid: where the bad rows go (JSON Lines; default "
                   "OUT.rejected.jsonl)")
    p.add_argument("--batch-size", metavar="N", type=_positive, default=65_536,
                   help="rows per batch (memory grows with it; default 65536)")
    p.set_defaults(func=cmd_screen)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def schema_lines() -> str:
    from spinecare.screen.columns import schema_text
    from spinecare.screen.inputs import CARE_COLUMNS

    care = "\n".join(f"{name}  bool  (optional; for the worklists: true when already "
                     f"{'referred' if name.endswith('referral') else 'planned'})"
                     for name in CARE_COLUMNS)
    return (f"{schema_text()}\n{care}\n\n"
            "NULL (an empty CSV cell) is unknown. In CSV a boolean is true or false, and a "
            "list or struct column holds JSON text.")


def cmd_screen(args: argparse.Namespace) -> int:
    if args.schema:
        write_line(schema_lines())
        return EXIT_OK
    if not args.input or not args.out:
        raise InvalidInput(["spinecare screen: give INPUT and --out OUT.parquet "
                            "(or --schema to list the input columns)"])
    try:
        return _screen(args)
    except KeyboardInterrupt:
        report(["spinecare screen: interrupted; no output was written"])
        return _stopped(EXIT_SIGINT)


def _stopped(code: int) -> int:
    """The exit status of a stopped run. If an engine's own query ran in a helper thread (it
    cannot be cancelled from outside, and DuckDB's thread pool aborts the process when the
    interpreter shuts down around it), the process ends here, its temporary files already
    removed."""
    import os

    from spinecare.screen.run import engine_query_started

    if engine_query_started():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _screen(args: argparse.Namespace) -> int:
    from spinecare import __version__
    from spinecare.screen.atomic import Interrupted
    from spinecare.screen.engines import get_engine
    from spinecare.screen.inputs import BadInput, Input
    from spinecare.screen.report import Summary, render_html, write_html
    from spinecare.screen.run import screen_batches, screen_with_engine_file

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise InvalidInput([f"--out: {args.out}: the output is Parquet; name it .parquet"])
    if not out.parent.is_dir():
        raise InvalidInput([f"--out: {out.parent}: no such folder"])
    if args.rejected and not args.skip_invalid:
        raise InvalidInput(["--rejected: only with --skip-invalid"])
    if args.master and args.engine != "spark":
        raise InvalidInput(["--master: only with --engine spark"])
    rejected = (Path(args.rejected) if args.rejected
                else out.with_name(out.stem + ".rejected.jsonl")) if args.skip_invalid else None
    try:
        source = Input(args.input, batch_rows=args.batch_size, skip_invalid=args.skip_invalid)
    except BadInput as exc:
        raise InvalidInput(exc.lines) from None
    options: dict[str, Any] = {}
    if args.engine == "spark" and args.master:
        options["master"] = args.master
    try:
        engine = get_engine(args.engine, **options)
    except (ValueError, ImportError) as exc:
        raise InvalidInput([f"--engine {args.engine}: not available here ({exc})"]) from None
    wanted = bool(args.report or args.worklists)
    summary = Summary() if wanted else None
    if summary is not None:
        summary.open(Path(args.worklists) if args.worklists else None)
    # The engine reads Parquet itself (by column name: the care columns are left alone); CSV
    # goes through this process's own reading, whose rules (true/1, JSON text) it checks.
    fast = args.engine != "python" and not args.skip_invalid and source.format == "parquet"
    ok = False
    try:
        with _progress(source) as (progress, phase):
            if fast:
                result = screen_with_engine_file(source, engine, out, summary=summary,
                                                 progress=progress, phase=phase)
            else:
                if phase is not None:
                    phase("screening", source.total_rows())
                result = screen_batches(source, engine, out, summary=summary,
                                        rejected_to=rejected, progress=progress)
        ok = True
    except BadInput as exc:
        raise InvalidInput(exc.lines) from None
    except Interrupted:
        report(["spinecare screen: stopped (SIGTERM); no output was written"])
        return _stopped(EXIT_SIGTERM)
    finally:
        if summary is not None:
            summary.close(ok)
    if args.report and summary is not None:
        summary.rejected = result.rejected
        write_html(args.report, render_html(
            summary, source=args.input, engine=engine.name,
            knowledge_version=summary.knowledge.version, software_version=__version__))
    rate = result.rows / result.seconds if result.seconds else 0.0
    report([f"spinecare screen: {result.rows:,} rows screened into {out} "
            f"({result.seconds:.1f} s, {rate:,.0f} rows/s, engine {engine.name})"
            + (f"; {result.rejected:,} invalid rows set aside in {rejected}"
               if rejected is not None else "")])
    return EXIT_INVALID if result.rejected else EXIT_OK


class _progress:
    """A progress bar on standard error when it is a terminal (one line per phase: checking,
    screening, summarising); nothing otherwise (a log file or a pipe gets only the closing
    line)."""

    def __init__(self, source: Any):
        self.source = source
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> tuple[Any, Any]:
        if not sys.stderr.isatty():
            return None, None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("{task.description:<22}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=Console(file=sys.stderr),
                            transient=True)
        self.bar.__enter__()
        return self.advance, self.phase

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:  # the phase before is complete
            before = next(t for t in self.bar.tasks if t.id == self.task)
            end = before.total if before.total is not None else before.completed
            self.bar.update(self.task, total=end, completed=end)
        self.task = self.bar.add_task(name, total=total)

    def advance(self, done: int) -> None:
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
