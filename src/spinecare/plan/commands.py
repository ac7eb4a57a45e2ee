"""Command-line commands of the plan package: registered by ``spinecare.cli``.

    spinecare plan CASE.json [--json]           the care plan (readable, or spinecare.plan/1)
    spinecare evidence TREATMENT [--json]       one treatment's evidence and claims answered
    spinecare evidence --list                   every treatment id

Exit status: 0 on success; 2 for an invalid case (one line per problem on stderr,
``FILE: json.path: message``, as ``spinecare assess`` prints them) or an unknown treatment (with
the closest ids).

Import nothing heavy at module level: every ``spinecare`` invocation loads this module.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_INVALID = 0, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the ``spinecare`` parser."""
    p = sub.add_parser(
        "plan", help="the care plan for a case",
        description="Assess a spinecare.case/1 document and print its care plan: referral, "
        "tests, first-line care, escalation, what to avoid, review, safety-netting, a home "
        "exercise programme and answers to common website claims. --json prints the "
        "spinecare.plan/1 document.")
    p.add_argument("path", metavar="CASE", help="a case file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print the plan JSON")
    p.set_defaults(func=cmd_plan)

    e = sub.add_parser(
        "evidence", help="the evidence for a treatment",
        description="What is known about one treatment: its evidence grade and "
        "recommendation for each condition, findings with their sources, and answers to "
        "claims patients meet on websites.")
    e.add_argument("treatment", metavar="TREATMENT", nargs="?",
                   help="a treatment id, e.g. stem_cell_injection (spaces and hyphens allowed)")
    e.add_argument("--json", action="store_true", help="print the evidence JSON")
    e.add_argument("--list", action="store_true", help="list every treatment id and stop")
    e.set_defaults(func=cmd_evidence)


def cmd_plan(args: argparse.Namespace) -> int:
    import orjson

    from spinecare.case import parse_case
    from spinecare.cli import read_input, report_problems
    from spinecare.errors import CaseError
    from spinecare.plan.planner import make_plan
    from spinecare.reasoning.engine import default_engine

    name = "<stdin>" if args.path == "-" else args.path
    err = sys.stderr.buffer
    try:
        data = read_input(args.path)
    except OSError as exc:
        err.write(f"{name}: cannot read: {exc.strerror}\n".encode())
        return EXIT_INVALID
    try:
        case = parse_case(data)
    except CaseError as exc:
        report_problems(name, exc, err)
        return EXIT_INVALID
    plan = make_plan(case, default_engine().assess(case))
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(plan, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        from spinecare.plan.render import render_plan

        sys.stdout.buffer.write(render_plan(plan).encode())
    return EXIT_OK


def cmd_evidence(args: argparse.Namespace) -> int:
    import orjson

    from spinecare.plan.evidence import UnknownTreatmentError, evidence_for
    from spinecare.plan.knowledge import load_treatments
    from spinecare.plan.render import render_evidence, suggestions_text

    if args.list:
        for tid, t in load_treatments().treatments.items():
            sys.stdout.write(f"{tid}: {t.name}\n")
        return EXIT_OK
    if not args.treatment:
        sys.stderr.write("spinecare evidence: give a TREATMENT id, or --list to see them\n")
        return EXIT_INVALID
    try:
        evidence = evidence_for(args.treatment)
    except UnknownTreatmentError as exc:
        sys.stderr.write(suggestions_text(exc.query, exc.suggestions))
        return EXIT_INVALID
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(evidence, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render_evidence(evidence))
    return EXIT_OK
