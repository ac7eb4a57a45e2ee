"""``spinecare fhir``: FHIR R4 in.

    spinecare fhir to-case BUNDLE.json [--sources] [--patient ID] [--on DATE] [--id ID]
                                       [--base URL] [--strict]

The case (``spinecare.case/1``) goes to standard output; with ``--sources`` the output is
``{"case": ..., "sources": {field: [resource, ...]}, "unverified": {...}}``. Every problem (an
unknown code, a superseded duplicate, an entered-in-error resource) is one line on standard
error, ``FILE: Observation/abc: message``. Exit status: 0 when a case was made (2 with
``--strict`` if anything was reported), 2 when the input is not a Bundle or a list of resources.
"""

from __future__ import annotations

import argparse

from spinecare.cli.io import (
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    Subcommands,
    problem_lines,
    read_input,
    report,
    source_name,
    write_json,
)


def register(sub: Subcommands) -> None:
    """Add ``fhir`` to the ``spinecare`` parser."""
    p = sub.add_parser("fhir", help="FHIR R4 in: a Bundle from the record -> a case",
                       description="Read FHIR R4 resources (Patient, Observation, Condition, "
                       "QuestionnaireResponse to spinecare's questionnaires) into a case.")
    fsub = p.add_subparsers(dest="fhir_command", required=True, metavar="COMMAND")
    c = fsub.add_parser(
        "to-case", help="a FHIR Bundle (or a JSON array of resources) -> a spinecare.case/1",
        description="Print the case a FHIR Bundle holds. Unknown codes, duplicates and "
        "resources that never count are reported on standard error, one a line.")
    c.add_argument("path", metavar="BUNDLE", help="a Bundle JSON file, - for standard input")
    c.add_argument("--sources", action="store_true",
                   help="print {case, sources, unverified}: the resources each field came from")
    c.add_argument("--patient", default=None, metavar="ID",
                   help="whose case, when the bundle holds several patients")
    c.add_argument("--on", default=None, metavar="YYYY-MM-DD",
                   help="the date the age is computed at (default: today)")
    c.add_argument("--id", default=None, help="the case id (default: fhir-<patient id>)")
    c.add_argument("--base", default=None, metavar="URL",
                   help="canonical base of spinecare's questionnaires and code system "
                   "(default: SPINECARE_FHIR_BASE, else the built-in one)")
    c.add_argument("--strict", action="store_true",
                   help="exit 2 if anything in the bundle was not used")
    c.set_defaults(func=cmd_to_case)


def cmd_to_case(args: argparse.Namespace) -> int:
    from datetime import date

    import orjson

    from spinecare.fhir.incoming import FhirInputError, to_case
    from spinecare.fhir.settings import FhirSettingError

    where = source_name(args.path)
    on = None
    if args.on is not None:
        try:
            on = date.fromisoformat(args.on)
        except ValueError:
            raise InvalidInput([f"--on: must be a date YYYY-MM-DD (got {args.on!r})"]) from None
    data = read_input(args.path)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([f"{where}: (document): is not valid JSON: {exc}"]) from None
    try:
        result = to_case(doc, patient_id=args.patient, base=args.base, on=on, case_id=args.id)
    except FhirInputError as exc:
        raise InvalidInput(problem_lines(where, exc.problems)) from None
    except FhirSettingError as exc:
        raise InvalidInput([str(exc)]) from None
    report(f"{where}: {p.ref}: {p.message}" for p in result.problems)
    if args.sources:
        write_json({"case": result.case, "sources": result.sources,
                    "unverified": result.unverified})
    else:
        write_json(result.case)
    return EXIT_INVALID if args.strict and result.problems else EXIT_OK
