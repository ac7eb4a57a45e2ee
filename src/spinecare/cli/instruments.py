"""``spinecare instruments`` and ``spinecare score``: the questionnaires and their scores.

    spinecare instruments list [--json]              one instrument a line, its id first
    spinecare instruments show ID [--fhir | --json]  an instrument (or the intake) in full
    spinecare instruments load-text ID FILE [--database URL]
                                                     the clinic's licensed wording of ID
    spinecare instruments texts [--database URL]     the licensed wordings loaded here
    spinecare instruments to-case FILE... --id ID [--age N] [--sex S]
                                                     responses (intake + instruments) -> a case
    spinecare score FILE... [--json]                 score responses; with several files (in
                                                     time order), the change from the first

A FILE holds a FHIR QuestionnaireResponse, a plain answers document (see
:mod:`spinecare.instruments.answers`), or a JSON array of them; ``-`` reads standard input.
Exit status: 0 when all went well, 2 for invalid input: one line per problem on stderr, naming
the file and the JSON path (and the questionnaire linkId), never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
from itertools import pairwise
from typing import Any

from spinecare import __version__
from spinecare.cli.db import add_database_option, open_database
from spinecare.cli.io import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    Subcommands,
    problem_lines,
    read_input,
    report,
    source_name,
    write_json,
    write_line,
)


def register(sub: Subcommands) -> None:
    """Add ``instruments`` and ``score`` to the ``spinecare`` parser."""
    p = sub.add_parser("instruments", help="the instrument registry and its FHIR questionnaires",
                       description="Validated questionnaires: list them, show one (as a FHIR "
                       "R4 Questionnaire with --fhir), or turn responses into a case.")
    isub = p.add_subparsers(dest="instruments_command", required=True, metavar="COMMAND")
    p_list = isub.add_parser("list", help="one instrument a line, its id first")
    p_list.add_argument("--json", action="store_true", help="the registry entries as JSON")
    p_list.set_defaults(func=cmd_list)
    p_show = isub.add_parser("show", help="one instrument, or the patient intake ('intake')")
    p_show.add_argument("id", metavar="ID", help="an instrument id (see 'list') or 'intake'")
    shown = p_show.add_mutually_exclusive_group()
    shown.add_argument("--fhir", action="store_true", help="the FHIR R4 Questionnaire JSON")
    shown.add_argument("--json", action="store_true", help="the registry entry as JSON")
    p_show.add_argument("--base", default=None, help="canonical base URL for --fhir")
    p_show.set_defaults(func=cmd_show)
    p_text = isub.add_parser(
        "load-text", help="load the clinic's licensed wording of an instrument",
        description="Check a TOML or JSON file of an instrument's item wording (every item, "
        "and as many answer options as each item has) and keep it in this installation's "
        "database: patients may then answer the instrument at home. spinecare never ships "
        "licensed wording. Loading the same instrument and language again replaces it.")
    p_text.add_argument("id", metavar="ID", help="the instrument id (see 'list')")
    p_text.add_argument("path", metavar="FILE", help="the wording (.toml or .json), - for stdin")
    add_database_option(p_text)
    p_text.set_defaults(func=cmd_load_text)
    p_texts = isub.add_parser("texts", help="the licensed wordings loaded in this installation")
    add_database_option(p_texts)
    p_texts.set_defaults(func=cmd_texts)
    p_case = isub.add_parser(
        "to-case", help="intake and instrument responses -> a spinecare.case/1",
        description="Build a case from one visit's responses (the intake and instruments); "
        "the patient's age and sex come from the options. Prints the case JSON.")
    p_case.add_argument("paths", nargs="+", metavar="FILE", help="response files, - for stdin")
    p_case.add_argument("--id", required=True, help="the case id")
    p_case.add_argument("--age", type=int, default=None, help="the patient's age in years")
    p_case.add_argument("--sex", default=None, choices=["female", "male", "other", "unknown"])
    p_case.add_argument("--base", default=None, help="canonical base URL of the questionnaires")
    p_case.set_defaults(func=cmd_to_case)

    s = sub.add_parser(
        "score", help="score questionnaire responses on their own",
        description="Score FHIR QuestionnaireResponses or plain answers documents. With several "
        "files, given in time order, also report each measure's change from the first "
        "(percent change and minimal clinically important difference).")
    s.add_argument("paths", nargs="+", metavar="FILE", help="response files, - for stdin")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--base", default=None, help="canonical base URL of the questionnaires")
    s.set_defaults(func=cmd_score)


# --- helpers --------------------------------------------------------------------------------


def _base(args: argparse.Namespace) -> str:
    from spinecare.fhir.settings import canonical_base

    return str(args.base or canonical_base()).rstrip("/")


def _load(paths: list[str], base: str) -> tuple[list[tuple[str, list[Any]]], bool]:
    """Read every file's responses; report every problem. Returns (name, responses) pairs and
    whether all were valid."""
    import orjson

    from spinecare.instruments.answers import read_responses
    from spinecare.instruments.errors import AnswerError

    loaded, ok = [], True
    for path in paths:
        name = source_name(path)
        try:
            data = read_input(path)
        except InvalidInput as exc:
            report(exc.lines)
            ok = False
            continue
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            report([f"{name}: (document): is not valid JSON: {exc}"])
            ok = False
            continue
        try:
            loaded.append((name, read_responses(doc, base=base)))
        except AnswerError as exc:
            report(problem_lines(name, exc.problems))
            ok = False
    return loaded, ok


# --- instruments load-text / texts ---------------------------------------------------------


def cmd_load_text(args: argparse.Namespace) -> int:
    import getpass

    from spinecare.instruments.errors import AnswerError
    from spinecare.instruments.texts import parse_text
    from spinecare.service import instrument_texts
    from spinecare.service.errors import Invalid
    from spinecare.store.audit import RequestSource, bind_request

    name = source_name(args.path)
    try:
        data = parse_text(read_input(args.path), args.path)
    except InvalidInput as exc:
        report(exc.lines)
        return EXIT_INVALID
    except (AnswerError, UnicodeDecodeError) as exc:
        problems = exc.problems if isinstance(exc, AnswerError) else []
        report(problem_lines(name, problems) if problems
               else [f"{name}: (document): is not UTF-8 text"])
        return EXIT_INVALID
    given = data.get("instrument")
    if given is not None and given != args.id:
        report([f"{name}: instrument: the file is for {given!r}, not {args.id!r}"])
        return EXIT_INVALID
    data.setdefault("instrument", args.id)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    db = open_database(args.database)
    try:
        with bind_request(RequestSource(address="local")):
            row, replaced = instrument_texts.load(db, None, data,
                                                  f"system user {user} (command line)")
    except Invalid as exc:
        report(problem_lines(name, exc.problems))
        return EXIT_INVALID
    finally:
        db.dispose()
    write_line(f"{'replaced' if replaced else 'loaded'} the {row.language} wording of "
               f"{args.id} version {row.version} ({row.licence}); patients may now answer it "
               "at home")
    return EXIT_OK


def cmd_texts(args: argparse.Namespace) -> int:
    from spinecare.instruments.registry import instruments
    from spinecare.service import instrument_texts

    db = open_database(args.database)
    try:
        rows = instrument_texts.listing(db)
    finally:
        db.dispose()
    for row in rows:
        write_line(f"{row.instrument}\t{row.language}\tversion {row.version}\t"
                   f"{row.loaded_at:%Y-%m-%d %H:%M} UTC\t{row.licence}")
    waiting = [i.id for i in instruments().values() if i.administered_by == "patient"
               and i.patient_wording == "clinic_text"
               and i.id not in {r.instrument for r in rows}]
    if waiting:
        report([f"clinician-entered only until their licensed wording is loaded: "
                f"{', '.join(waiting)}"])
    return EXIT_OK


# --- instruments list / show ---------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from spinecare.instruments.registry import instruments

    registry = instruments()
    if args.json:
        write_json([i.model_dump(mode="json") for i in registry.values()])
        return EXIT_OK
    width = max(len(i) for i in registry) + 2
    for inst in registry.values():
        who = "patient-reported" if inst.administered_by == "patient" else "clinician-rated"
        notes = [f"version {inst.version}", who]
        if inst.wording == "withheld":
            notes.append("wording under licence, not shipped")
        if inst.status == "draft":
            notes.append("draft")
        write_line(f"{inst.id:<{width}}{inst.short_name}: {inst.name} ({'; '.join(notes)})")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from spinecare.errors import KnowledgeError
    from spinecare.instruments.catalogue import form_ids
    from spinecare.instruments.fhir import questionnaire
    from spinecare.instruments.intake import intake_spec
    from spinecare.instruments.registry import instruments

    if args.id not in form_ids():
        near = difflib.get_close_matches(args.id, form_ids(), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        report([f"spinecare: unknown instrument {args.id!r}{hint}; "
                f"known: {', '.join(form_ids())}"])
        return EXIT_INVALID
    if args.fhir:
        try:
            write_json(questionnaire(args.id, base=_base(args)))
        except KnowledgeError as exc:
            report([f"spinecare: {exc}"])
            return EXIT_INTERNAL
        return EXIT_OK
    if args.id == "intake":
        if args.json:
            write_json(intake_spec().model_dump(mode="json", by_alias=True))
        else:
            write_line(_intake_text())
        return EXIT_OK
    inst = instruments()[args.id]
    if args.json:
        write_json(inst.model_dump(mode="json"))
    else:
        write_line(_instrument_text(inst))
    return EXIT_OK


_TAG = {"V": "verified", "P": "partly verified", "U": "NOT verified"}


def _instrument_text(inst: Any) -> str:
    from spinecare.instruments.forms import describe_rule
    from spinecare.reasoning.knowledge import default_knowledge

    citations = default_knowledge().citations
    who = "the patient" if inst.administered_by == "patient" else "a clinician"
    lines = [f"{inst.id} - {inst.name}, version {inst.version} ({inst.status})",
             f"  completed by: {who}",
             f"  licence: {inst.licence}",
             f"  wording: {inst.wording}"
             + (" (titles and neutral anchors only)" if inst.wording == "withheld" else "")]
    for what, coding in (("LOINC", inst.code), ("LOINC score", inst.score_code)):
        if coding is not None:
            lines.append(f"  {what}: {coding.code} {coding.display} "
                         f"[{_TAG[coding.verification]}]")
    lines.append(f"  scoring: {describe_rule(inst)}")
    if inst.scoring.caution:
        lines.append(f"  caution: {inst.scoring.caution}")
    if inst.band:
        low: float = 0
        parts = []
        for b in inst.band:
            parts.append(f"{b.label} up to {b.upto:g}" if b.upto != low else
                         f"{b.label} {b.upto:g}")
            low = b.upto
        lines.append(f"  bands: {'; '.join(parts)}")
    c = inst.change
    if c.tracked:
        rule = [f"{c.mcid_absolute:g} points" if c.mcid_absolute is not None else None,
                f"{c.mcid_percent:g}% of baseline" if c.mcid_percent is not None else None]
        shown = " / ".join(r for r in rule if r)
        for name, sub in c.subscales.items():
            if sub.mcid_absolute is not None:
                shown += ("; " if shown else "") + f"{name.replace('_', ' ')} " \
                    f"{sub.mcid_absolute:g}"
        lines.append(f"  MCID: {shown or 'none'} (improvement judged by {c.improved_by}; "
                     f"{c.basis.replace('_', ' ')})")
    lines.append("  items:")
    for n, item in enumerate(inst.item, 1):
        values = inst.scale_of(item).values()
        scale = "yes/no" if values == [False, True] else f"{values[0]}-{values[-1]}" \
            if len(values) > 2 and all(int(b) - int(a) == 1 for a, b in pairwise(values)) \
            else ", ".join(str(v) for v in values)
        lines.append(f"    {n:>2}. {item.link_id:<28} {item.text} [{scale}]")
    unverified = inst.unverified()
    if unverified:
        lines.append(f"  not verified: {'; '.join(unverified)}")
    lines.append("  sources: " + "; ".join(
        f"{citations[c].short()} [{_TAG[citations[c].verification]}]" for c in inst.cite))
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _intake_text() -> str:
    from spinecare.instruments.intake import intake_fields, intake_form

    f = intake_form()
    fields = intake_fields()
    lines = [f"intake - {f.title}, version {f.version}", ""]
    for item, above in f.walk():
        indent = "  " * len(above)
        if item.type == "display":
            lines.append(f"{indent}[{item.link_id}] {item.text}")
            continue
        when = ""
        if item.enable_when:
            joiner = " or " if item.enable_behavior == "any" else " and "
            when = "  (only if " + joiner.join(
                f"{c.question} = {_shown(c.answer)}" for c in item.enable_when) + ")"
        if item.type == "group":
            lines.append(f"{indent}{item.text}{when}")
        else:
            lines.append(f"{indent}- {item.text}  -> {fields[item.link_id]}{when}")
    return "\n".join(lines)


# --- instruments to-case ----------------------------------------------------------------------


def cmd_to_case(args: argparse.Namespace) -> int:
    from spinecare.instruments.cases import case_from_responses
    from spinecare.instruments.errors import AnswerError

    loaded, ok = _load(args.paths, _base(args))
    if not ok:
        return EXIT_INVALID
    responses = [r for _, rs in loaded for r in rs]
    patient: dict[str, Any] = {"age": args.age}
    if args.sex is not None:
        patient["sex"] = args.sex
    try:
        case, notes = case_from_responses(responses, case_id=args.id, patient=patient)
    except AnswerError as exc:
        where = ", ".join(name for name, _ in loaded)
        report(problem_lines(where, exc.problems))
        return EXIT_INVALID
    for note in notes:
        report([f"note: {note}"])
    write_json(case.model_dump(mode="json", by_alias=True, exclude_none=True))
    return EXIT_OK


# --- score ------------------------------------------------------------------------------------


def cmd_score(args: argparse.Namespace) -> int:
    from spinecare.instruments.change import change_over_time
    from spinecare.instruments.errors import AnswerError
    from spinecare.instruments.registry import instruments
    from spinecare.instruments.scoring import describe, score_answers
    from spinecare.reasoning.knowledge import default_knowledge

    loaded, ok = _load(args.paths, _base(args))
    registry = instruments()
    administrations: list[dict[str, Any]] = []
    for name, responses in loaded:
        scores: dict[str, Any] = {}
        date = None
        for n, r in enumerate(responses):
            where = f"[{n}]" if len(responses) > 1 else "questionnaire"
            if r.questionnaire not in registry:
                report([f"{name}: {where}: {r.questionnaire} is not scored; build a case "
                        "with 'spinecare instruments to-case'"])
                ok = False
                continue
            if r.questionnaire in scores:
                report([f"{name}: {where}: a second response for {r.questionnaire} "
                        "in one file"])
                ok = False
                continue
            scores[r.questionnaire] = score_answers(r.questionnaire, r.answers)
            date = date or r.date
        administrations.append({"file": name, "date": date, "scores": scores})
    if not ok:
        return EXIT_INVALID
    result: dict[str, Any] = {
        "administrations": administrations,
        # every output names the software and knowledge versions (STYLE.md, habit 2); each
        # score names its instrument's version
        "versions": {"spinecare": __version__, "knowledge": default_knowledge().version}}
    if len(administrations) > 1:
        dates = [a["date"] for a in administrations]
        try:
            result["change"] = change_over_time([a["scores"] for a in administrations],
                                                dates if any(dates) else None)
        except AnswerError as exc:
            for p in exc.problems:
                index = int(p.path[len("dates["):-1]) if p.path.startswith("dates[") else 0
                report([f"{administrations[index]['file']}: date: {p.message}"])
            return EXIT_INVALID
    if args.json:
        write_json(result)
        return EXIT_OK
    for a in administrations:
        write_line(f"{a['file']}" + (f" ({a['date']})" if a["date"] else ""))
        for inst_id, score in a["scores"].items():
            inst = registry[inst_id]
            write_line(f"  {inst_id}: {describe(inst, score)}")
    if "change" in result:
        write_line(f"change from {administrations[0]['file']}")
        for key, m in result["change"].items():
            for c in m["changes"]:
                write_line(f"  {key}: {_change_text(m, c, administrations)}")
    return EXIT_OK


def _change_text(measure: dict[str, Any], c: dict[str, Any],
                 administrations: list[dict[str, Any]]) -> str:
    to = administrations[c["index"]]["file"]
    if c["status"] is None:
        return f"{measure['baseline']['value']} -> {c['value']} ({to}): {c['reason']}"
    pct = f", {c['percent_change']:+g}%" if c["percent_change"] is not None else ""
    tests = []
    mcid = measure["mcid"]
    if mcid["absolute"] is not None:
        tests.append(f"{mcid['absolute']:g}-point MCID "
                     f"{'passed' if c['passes_mcid_absolute'] else 'not passed'}")
    if mcid["percent"] is not None and c["passes_mcid_percent"] is not None:
        tests.append(f"{mcid['percent']:g}% threshold "
                     f"{'passed' if c['passes_mcid_percent'] else 'not passed'}")
    return (f"{measure['baseline']['value']} -> {c['value']} ({to}): {c['change']:+g}{pct}: "
            f"{c['status'].upper()} ({'; '.join(tests)})")
