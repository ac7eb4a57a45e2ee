"""``spinecare knowledge coverage``: the red-flag criteria table and whether each row holds.

    spinecare knowledge coverage [--json]

Prints one line per guideline criterion (its section in the red-flags reference, level, the
rules that implement it and the result of checking its minimal case both ways), then the
criteria the case cannot express yet. Exit status 0 when every row holds, 1 when one does not.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from spinecare.cli.io import EXIT_INTERNAL, EXIT_OK, Subcommands, report, write_json, write_text


def register(sub: Subcommands) -> None:
    """Add ``knowledge`` to the ``spinecare`` parser."""
    k = sub.add_parser("knowledge", help="facts about the clinical knowledge",
                       description="Facts about the clinical knowledge the engine applies.")
    ksub = k.add_subparsers(dest="knowledge_command", required=True, metavar="WHAT")
    c = ksub.add_parser(
        "coverage", help="the red-flag criteria table, each row checked",
        description="Every emergency and urgent criterion of the guidelines, with the rule "
        "that implements it; each row's minimal case is assessed with and without the "
        "criterion. Then the criteria the case cannot express yet.")
    c.add_argument("--json", action="store_true", help="print the table as JSON")
    c.set_defaults(func=cmd_coverage)
    n = ksub.add_parser(
        "native", help="build the assessment's generated code as a native extension",
        description="Compile the engine's generated function for the packaged knowledge with "
        "Cython and the C compiler into the compiled-code cache, where the engine then loads "
        "it (the same source, run natively: a batch takes 14-23% less time). Needs Cython "
        "(requirements-dev.txt) and a C compiler; takes about a minute, once per knowledge "
        "version. make test and make bench run it.")
    n.set_defaults(func=cmd_native)


def cmd_coverage(args: argparse.Namespace) -> int:
    from spinecare.reasoning.coverage import check_row, default_coverage
    from spinecare.reasoning.engine import default_engine

    engine = default_engine()
    table = default_coverage()
    rows: list[dict[str, Any]] = []
    for row in table.criterion:
        result = check_row(engine, row)
        rows.append({"id": row.id, "reference": row.reference, "criterion": row.criterion,
                     "level": row.level, "rules": list(row.rules),
                     "given": result.level_with, "without": result.level_without,
                     "holds": result.reaches and result.specific})
    gaps = [{"reference": g.reference, "criterion": g.criterion, "level": g.level,
             "missing": g.missing} for g in table.gap]
    failing = [r["id"] for r in rows if not r["holds"]]
    if args.json:
        write_json({"knowledge": engine.versions["knowledge"], "criteria": rows, "gaps": gaps})
    else:
        write_text(_text(engine.versions["knowledge"], rows, gaps))
    return EXIT_INTERNAL if failing else EXIT_OK


def cmd_native(args: argparse.Namespace) -> int:
    from spinecare.criteria.native import NativeBuildError, path
    from spinecare.reasoning.engine import default_engine

    engine = default_engine()
    program = engine.program
    if program.native:
        write_text(f"already built: {path(program.source)}\n")
        return EXIT_OK
    try:
        built = program.build_native()
    except NativeBuildError as exc:
        report([f"spinecare: the native build failed: {exc}"])
        return EXIT_INTERNAL
    write_text(f"built {built} (knowledge {engine.versions['knowledge']})\n")
    return EXIT_OK


def _text(version: str, rows: list[dict[str, Any]], gaps: list[dict[str, Any]]) -> str:
    out = [f"Red-flag criteria (knowledge {version}): {len(rows)} criteria, "
           f"{sum(r['holds'] for r in rows)} hold; {len(gaps)} not expressible yet", ""]
    for r in rows:
        mark = "ok" if r["holds"] else f"FAILS (gave {r['given']}, without it {r['without']})"
        out.append(f"{r['reference']:<10} {r['level']:<9}  {r['criterion']}")
        out.append(f"{'':<21}{', '.join(r['rules'])}: {mark}")
    out += ["", "Not expressible in the case yet:"]
    for g in gaps:
        out.append(f"{g['reference']:<10} {g['level']:<9}  {g['criterion']}")
        out += textwrap.wrap(f"missing: {g['missing']}", width=96, initial_indent=" " * 21,
                             subsequent_indent=" " * 21)
    return "\n".join(out) + "\n"
