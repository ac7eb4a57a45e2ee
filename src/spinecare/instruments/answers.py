"""Reading answers: a FHIR QuestionnaireResponse or a plain answers document, checked against
its questionnaire.

A plain answers document names its questionnaire (an instrument id, or ``"intake"``) and gives
the answers by linkId::

    {"questionnaire": "odi", "date": "2026-03-01",
     "answers": {"pain_intensity": 2, "personal_care": 1, "sex_life": null}}

For an instrument the answers may also be a list in item order. A choice is answered with its
option's value (the score for an instrument item, the case value for the intake); yes/no with
``true``/``false``; an amount with a number in the item's base unit or ``{"value": 3, "unit":
"mo"}``; ``null`` (or leaving the linkId out) means unanswered.

Every problem is reported, each with the JSON path into the document and the linkId it concerns;
:class:`~spinecare.instruments.errors.AnswerError` carries them all.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from spinecare.errors import KnowledgeError, Problem
from spinecare.instruments.catalogue import form, form_ids
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.fhir import CANONICAL_BASE, UCUM, code_system, fhir_path
from spinecare.instruments.forms import Form, FormItem

_PLAIN_KEYS = frozenset({"questionnaire", "version", "date", "answers"})


@dataclass(frozen=True)
class Response:
    """One administration of one questionnaire: checked answers by linkId.

    Unanswered questions are absent. Amounts are in the item's base unit (weeks, minutes).
    """

    questionnaire: str
    answers: dict[str, Any] = field(default_factory=dict)
    date: str | None = None


# --- shared checks ---------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _bounds_problem(item: FormItem, value: int | float) -> str | None:
    low, high = item.min_value, item.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        unit = f" {item.units[0].display}" if item.units else ""
        return f"{item.link_id}: must be from {low} to {high}{unit} (got {value})"
    return None


def value_problem(item: FormItem, value: Any) -> str | None:
    """Why ``value`` cannot answer ``item`` (``None`` if it can). Amounts in base units."""
    if item.type == "boolean":
        return None if type(value) is bool else \
            f"{item.link_id}: must be true or false (got {value!r})"
    if item.type == "choice":
        if item.option(value) is not None:
            return None
        allowed = ", ".join(repr(o.value) if isinstance(o.value, str) else str(o.value)
                            for o in item.options)
        return f"{item.link_id}: must be one of {allowed} (got {value!r})"
    if item.type == "integer" and type(value) is not int:
        return f"{item.link_id}: must be an integer (got {value!r})"
    if not _number(value):
        return f"{item.link_id}: must be a number (got {value!r})"
    return _bounds_problem(item, value)


def _conditions_text(item: FormItem) -> str:
    by_question: dict[str, list[str]] = {}
    for c in item.enable_when:
        shown = str(c.answer).lower() if isinstance(c.answer, bool) else str(c.answer)
        by_question.setdefault(c.question, []).append(shown)
    parts = [f"{q} is {v[0]}" if len(v) == 1 else f"{q} is {', '.join(v[:-1])} or {v[-1]}"
             for q, v in by_question.items()]
    return (", or " if item.enable_behavior == "any" else ", and ").join(parts)


def _hidden_problems(f: Form, answers: dict[str, Any],
                     path_of: Mapping[str, str]) -> list[Problem]:
    """Answers to questions the other answers hide (their enableWhen does not hold)."""
    shown = f.enabled(answers)
    problems = []
    for item, above in f.walk():
        if item.link_id not in answers or item.link_id in shown:
            continue
        blocker = next((a for a in (*above, item) if a.link_id not in shown), item)
        problems.append(Problem(path_of[item.link_id],
                                f"{item.link_id}: is answered, but it is only asked when "
                                f"{_conditions_text(blocker)}"))
    return problems


def _infer_gates(form_id: str, answers: dict[str, Any]) -> None:
    """An answered item of a gated instrument group implies "yes" to its unanswered gate (the
    ZCQ satisfaction questions are only answered after treatment)."""
    from spinecare.instruments.registry import instruments

    inst = instruments().get(form_id)
    if inst is None:
        return
    for group, meta in inst.group.items():
        gate = meta.enabled_by
        if gate is not None and gate not in answers and any(
                i.link_id in answers for i in inst.items_in(group)):
            answers[gate] = True


def _finish(f: Form, answers: dict[str, Any], path_of: dict[str, str],
            problems: list[Problem], date: str | None) -> Response:
    if not problems:
        _infer_gates(f.id, answers)
        problems = _hidden_problems(f, answers, path_of)
    if problems:
        raise AnswerError(problems)
    return Response(f.id, answers, date)


def _form_named(name: Any, where: str) -> Form:
    if not isinstance(name, str):
        raise AnswerError([Problem(where, f"must be a questionnaire id (got {name!r})")])
    try:
        return form(name)
    except KnowledgeError:
        near = difflib.get_close_matches(name, form_ids(), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise AnswerError([Problem(where, f"unknown questionnaire {name!r}{hint}; known: "
                                          f"{', '.join(form_ids())}")]) from None


def _version_problem(f: Form, version: Any, where: str) -> Problem | None:
    if version is None or version == f.version:
        return None
    return Problem(where, f"{f.id} version {version!r} is not supported; spinecare has "
                          f"version {f.version!r}")


# --- plain answers ---------------------------------------------------------------------------


def _plain_amount(item: FormItem, value: Any, where: str) -> tuple[Any, str | None]:
    """A plain amount: a number in the base unit, or ``{"value": n, "unit": code}``."""
    if isinstance(value, dict):
        unknown = set(value) - {"value", "unit"}
        if unknown:
            return None, f"{item.link_id}: unknown key(s) {sorted(unknown)}; give value and unit"
        unit = next((u for u in item.units if u.code == value.get("unit")), None)
        if unit is None:
            codes = ", ".join(u.code for u in item.units)
            return None, f"{item.link_id}: unit must be one of {codes} (got {value.get('unit')!r})"
        amount = value.get("value")
        if not isinstance(amount, int | float) or not _number(amount):
            return None, f"{item.link_id}: value must be a number (got {amount!r})"
        return _scaled(amount, unit.factor), None
    return value, None


def _scaled(amount: int | float, factor: Fraction) -> int | float:
    if factor == 1:
        return amount
    return float(Fraction(str(amount)) * factor)


def read_plain(doc: Mapping[str, Any]) -> Response:
    """Check a plain answers document (see the module docstring)."""
    problems: list[Problem] = []
    unknown = sorted(set(doc) - _PLAIN_KEYS)
    if unknown:
        problems.append(Problem("(document)", f"unknown key(s) {unknown}; expected "
                                              f"{sorted(_PLAIN_KEYS)}"))
    if "questionnaire" not in doc:
        raise AnswerError([*problems, Problem("questionnaire", "is required (an instrument id "
                                                                "or 'intake')")])
    f = _form_named(doc["questionnaire"], "questionnaire")
    bad_version = _version_problem(f, doc.get("version"), "version")
    if bad_version:
        problems.append(bad_version)
    date = doc.get("date")
    if date is not None and not isinstance(date, str):
        problems.append(Problem("date", f"must be a date string (got {date!r})"))
        date = None
    raw = doc.get("answers")
    questions = f.questions()
    pairs: list[tuple[str, str, Any]] = []  # (path, linkId, value)
    if isinstance(raw, list):
        from spinecare.instruments.registry import instruments

        inst = instruments().get(f.id)
        if inst is None:
            raise AnswerError([*problems, Problem("answers", "must be an object by linkId for "
                                                               f"{f.id}")])
        order = [i.link_id for i in inst.item]
        if len(raw) != len(order):
            problems.append(Problem("answers", f"a list needs {len(order)} answers in item "
                                               f"order ({', '.join(order)}); got {len(raw)}"))
        pairs = [(f"answers[{n}]", link, value)
                 for n, (link, value) in enumerate(zip(order, raw, strict=False))]
    elif isinstance(raw, dict):
        pairs = [(f"answers.{k}", k, v) for k, v in raw.items()]
    else:
        problems.append(Problem("answers", "is required: an object of answers by linkId"))
    answers: dict[str, Any] = {}
    path_of: dict[str, str] = {}
    for path, link, value in pairs:
        item = questions.get(link)
        if item is None:
            near = difflib.get_close_matches(link, list(questions), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(Problem(path, f"{link}: is not a question of {f.id}{hint}"))
            continue
        if value is None:
            continue
        if item.type == "quantity":
            value, message = _plain_amount(item, value, path)
            if message:
                problems.append(Problem(path, message))
                continue
        message = value_problem(item, value)
        if message:
            problems.append(Problem(path, message))
            continue
        answers[link] = value
        path_of[link] = path
    return _finish(f, answers, path_of, problems, date)


# --- FHIR QuestionnaireResponse --------------------------------------------------------------


def _form_of_canonical(value: Any, base: str) -> tuple[Form | None, Problem | None]:
    if not isinstance(value, str):
        return None, Problem("questionnaire", "is required: the canonical URL of a spinecare "
                                              "questionnaire")
    url, _, version = value.partition("|")
    prefix = f"{base}/Questionnaire/"
    if not url.startswith(prefix):
        return None, Problem("questionnaire", f"{value!r} is not a spinecare questionnaire; "
                                              f"expected {prefix}<id> with id one of "
                                              f"{', '.join(form_ids())}")
    try:
        f = _form_named(url[len(prefix):], "questionnaire")
    except AnswerError as exc:
        return None, exc.problems[0]
    return f, _version_problem(f, version or None, "questionnaire")


def _fhir_value(item: FormItem, answer: Mapping[str, Any], where: str,
                base: str) -> tuple[Any, Problem | None]:
    keys = [k for k in answer if k.startswith("value")]
    if len(keys) != 1:
        return None, Problem(where, f"{item.link_id}: an answer needs exactly one value[x]")
    key = keys[0]
    got = answer[key]
    expected = {"boolean": ("valueBoolean",), "choice": ("valueCoding",),
                "integer": ("valueInteger",), "decimal": ("valueDecimal", "valueInteger"),
                "quantity": ("valueQuantity",)}[item.type]
    if key not in expected:
        return None, Problem(f"{where}.{key}", f"{item.link_id}: a {item.type} question is "
                                               f"answered with {' or '.join(expected)}")
    here = f"{where}.{key}"
    if item.type == "choice":
        system = code_system(str(item.system), base)
        if got.get("system") not in (None, system):
            return None, Problem(f"{here}.system", f"{item.link_id}: must be {system}")
        choice = next((o for o in item.options if o.code == got.get("code")), None)
        if choice is None:
            codes = ", ".join(o.code for o in item.options)
            return None, Problem(f"{here}.code", f"{item.link_id}: code {got.get('code')!r} "
                                                 f"is not an answer option; expected one of "
                                                 f"{codes}")
        return choice.value, None
    if item.type == "quantity":
        code, unit_text = got.get("code"), got.get("unit")
        if got.get("system") not in (None, UCUM):
            return None, Problem(f"{here}.system", f"{item.link_id}: units must be UCUM")
        unit = next((u for u in item.units if code == u.code
                     or (code is None and unit_text in (u.code, u.display))), None)
        if unit is None and code is None and unit_text is None:
            unit = item.units[0]
        if unit is None:
            units = ", ".join(f"{u.code} ({u.display})" for u in item.units)
            return None, Problem(here, f"{item.link_id}: unit must be one of {units}")
        amount = got.get("value")
        if amount is None:
            return None, Problem(f"{here}.value", f"{item.link_id}: needs a value")
        return _scaled(float(amount) if not isinstance(amount, int) else amount,
                       unit.factor), None
    if isinstance(got, float) and got.is_integer() and item.type == "integer":
        got = int(got)
    if not isinstance(got, bool | int | float):
        got = float(got)  # fhir.resources gives decimals as Decimal
    return got, None


def read_fhir(doc: Mapping[str, Any], *, base: str = CANONICAL_BASE) -> Response:
    """Check a FHIR QuestionnaireResponse for one of spinecare's questionnaires."""
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
    from pydantic import ValidationError

    try:
        model = QuestionnaireResponse.model_validate(doc)
    except ValidationError as exc:
        raise AnswerError([Problem(fhir_path(e["loc"]), e["msg"])
                           for e in exc.errors(include_url=False)]) from None
    problems: list[Problem] = []
    f, problem = _form_of_canonical(doc.get("questionnaire"), base)
    if problem:
        problems.append(problem)
    if f is None:
        raise AnswerError(problems)
    if doc.get("status") == "entered-in-error":
        problems.append(Problem("status", "a response entered in error cannot be scored"))
    questions = f.questions()
    everything = {item.link_id: item for item, _ in f.walk()}
    answers: dict[str, Any] = {}
    path_of: dict[str, str] = {}
    parsed = model.model_dump(mode="json", exclude_none=True)

    def visit(items: list[dict[str, Any]], where: str) -> None:
        for n, qr_item in enumerate(items):
            here = f"{where}[{n}]"
            link = qr_item.get("linkId")
            target = everything.get(str(link))
            if target is None:
                near = difflib.get_close_matches(str(link), list(questions), n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                problems.append(Problem(f"{here}.linkId", f"{link}: is not an item of {f.id}"
                                                          f"{hint}"))
                continue
            given = qr_item.get("answer", [])
            if str(link) in seen:
                problems.append(Problem(f"{here}.linkId", f"{link}: appears twice"))
                continue
            seen.add(str(link))
            if target.link_id not in questions:  # a group or a display item
                if given:
                    problems.append(Problem(f"{here}.answer", f"{link}: a {target.type} item "
                                                              "takes no answer"))
                visit(qr_item.get("item", []), f"{here}.item")
                continue
            if qr_item.get("item"):
                problems.append(Problem(f"{here}.item", f"{link}: a question has no nested "
                                                        "items here"))
            if len(given) > 1:
                problems.append(Problem(f"{here}.answer", f"{link}: only one answer is allowed"))
                continue
            if not given:
                continue
            if given[0].get("item"):
                problems.append(Problem(f"{here}.answer[0].item", f"{link}: answers take no "
                                                                  "nested items"))
                continue
            value, problem = _fhir_value(target, given[0], f"{here}.answer[0]", base)
            if problem is None:
                message = value_problem(target, value)
                problem = Problem(f"{here}.answer[0]", message) if message else None
            if problem:
                problems.append(problem)
                continue
            answers[str(link)] = value
            path_of[str(link)] = f"{here}.answer[0]"

    seen: set[str] = set()
    visit(parsed.get("item", []), "item")
    authored = doc.get("authored")
    return _finish(f, answers, path_of, problems, authored if isinstance(authored, str) else None)


# --- either ----------------------------------------------------------------------------------


def read_response(doc: Any, *, base: str = CANONICAL_BASE) -> Response:
    """Check one response: a FHIR QuestionnaireResponse or a plain answers document."""
    if not isinstance(doc, dict):
        raise AnswerError([Problem("(document)", "must be a JSON object: a QuestionnaireResponse "
                                                 "or a plain answers document")])
    if "resourceType" in doc:
        if doc["resourceType"] != "QuestionnaireResponse":
            raise AnswerError([Problem("resourceType", f"must be QuestionnaireResponse (got "
                                                       f"{doc['resourceType']!r})")])
        return read_fhir(doc, base=base)
    return read_plain(doc)


def read_responses(doc: Any, *, base: str = CANONICAL_BASE) -> list[Response]:
    """One response, or a JSON array of them (several questionnaires at one visit)."""
    if not isinstance(doc, list):
        return [read_response(doc, base=base)]
    out: list[Response] = []
    problems: list[Problem] = []
    for n, entry in enumerate(doc):
        try:
            out.append(read_response(entry, base=base))
        except AnswerError as exc:
            problems += [Problem(f"[{n}]" + ("" if p.path == "(document)" else
                                            ("" if p.path.startswith("[") else ".") + p.path),
                                 p.message) for p in exc.problems]
    if problems:
        raise AnswerError(problems)
    return out
