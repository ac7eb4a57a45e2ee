"""``spinecare plan`` and ``spinecare evidence``: care plans and what is known about treatments.

    spinecare plan CASE.json [--json]           the care plan (readable, or spinecare.plan/1)
    spinecare evidence TREATMENT [--json]       one treatment's evidence and claims answered
    spinecare evidence --list                   every treatment id

Exit status: 0 on success; 2 for an invalid case (one line per problem on stderr,
``FILE: json.path: message``, as ``spinecare assess`` prints them) or an unknown treatment (with
the closest ids).
"""

from __future__ import annotations

import argparse

from spinecare.cli.io import (
    EXIT_INVALID,
    EXIT_OK,
    Subcommands,
    read_case,
    report,
    write_json,
    write_text,
)


def register(sub: Subcommands) -> None:
    """Add ``plan`` and ``evidence`` to the ``spinecare`` parser."""
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
    from spinecare.plan.planner import make_plan
    from spinecare.plan.render import render_plan
    from spinecare.reasoning.engine import default_engine

    case = read_case(args.path)
    plan = make_plan(case, default_engine().assess(case))
    if args.json:
        write_json(plan)
    else:
        write_text(render_plan(plan))
    return EXIT_OK


def cmd_evidence(args: argparse.Namespace) -> int:
    from spinecare.plan.evidence import UnknownTreatmentError, evidence_for
    from spinecare.plan.knowledge import load_treatments
    from spinecare.plan.render import render_evidence, suggestions_text

    if args.list:
        write_text("".join(f"{tid}: {t.name}\n"
                           for tid, t in load_treatments().treatments.items()))
        return EXIT_OK
    if not args.treatment:
        report(["spinecare evidence: give a TREATMENT id, or --list to see them"])
        return EXIT_INVALID
    try:
        evidence = evidence_for(args.treatment)
    except UnknownTreatmentError as exc:
        report(suggestions_text(exc.query, exc.suggestions).splitlines())
        return EXIT_INVALID
    if args.json:
        write_json(evidence)
    else:
        write_text(render_evidence(evidence))
    return EXIT_OK
