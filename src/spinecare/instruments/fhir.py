"""FHIR Questionnaires built from the instrument data, and QuestionnaireResponses for them.

The JSON emitted is plain FHIR R4 (4.0.1) Questionnaire / QuestionnaireResponse: it names no
``fhirVersion`` and uses only elements and extensions that exist in R4, so the same document is
valid R4 and R4B. ``fhir.resources`` 8 has no R4 package, only R4B (which is not contractually
R4; see the ecosystem notes, section 2), so every document is validated twice:

1. by the ``fhir.resources.R4B`` pydantic models (structure and datatypes);
2. by :func:`check_questionnaire`: the R4 elements allow-list, the R4 code bindings the models do
   not enforce (status, item type, enableWhen operator), the R4 invariants que-0 to que-13 that
   apply, and our own rules: linkIds unique, every enableWhen names an earlier question, and its
   answer has the type and a value of that question.

Extensions used, all defined for R4: ``ordinalValue`` (the score of an answer option, on its
Coding), ``minValue``/``maxValue``, ``questionnaire-unit`` and ``questionnaire-unitOption``; and
one of ours, ``.../StructureDefinition/code-verification``, on a LOINC Coding that was not checked
against loinc.org.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from spinecare.errors import KnowledgeError
from spinecare.instruments.catalogue import form
from spinecare.instruments.forms import ANSWERABLE, Form, FormItem

CANONICAL_BASE = "https://spinecare.example/fhir"
"""Where spinecare's canonical resources live. ``.example`` is a reserved name (RFC 2606): a
deployment passes its own base."""

UCUM = "http://unitsofmeasure.org"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"

_R4_QUESTIONNAIRE = frozenset({
    "resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
    "modifierExtension", "url", "identifier", "version", "name", "title", "derivedFrom",
    "status", "experimental", "subjectType", "date", "publisher", "contact", "description",
    "useContext", "jurisdiction", "purpose", "copyright", "approvalDate", "lastReviewDate",
    "effectivePeriod", "code", "item"})
_R4_ITEM = frozenset({
    "id", "extension", "modifierExtension", "linkId", "definition", "code", "prefix", "text",
    "type", "enableWhen", "enableBehavior", "required", "repeats", "readOnly", "maxLength",
    "answerValueSet", "answerOption", "initial", "item"})
_R4_ITEM_TYPES = frozenset({
    "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
    "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"})
_R4_STATUS = frozenset({"draft", "active", "retired", "unknown"})
_R4_OPERATORS = frozenset({"exists", "=", "!=", ">", "<", ">=", "<="})
_ANSWER_KEY = {"boolean": "answerBoolean", "choice": "answerCoding", "open-choice": "answerCoding",
               "integer": "answerInteger", "decimal": "answerDecimal",
               "quantity": "answerQuantity", "string": "answerString", "text": "answerString",
               "date": "answerDate", "dateTime": "answerDateTime", "time": "answerTime",
               "reference": "answerReference"}
_SIMPLE = frozenset({"boolean", "decimal", "integer", "string", "text", "url", "open-choice"})


def canonical(form_id: str, base: str = CANONICAL_BASE) -> str:
    """The canonical URL of a spinecare questionnaire."""
    return f"{base}/Questionnaire/{form_id}"


def code_system(name: str, base: str = CANONICAL_BASE) -> str:
    """The URL of one of spinecare's answer code systems (named in a :class:`FormItem`)."""
    return f"{base}/CodeSystem/{name}"


def verification_extension(base: str = CANONICAL_BASE) -> str:
    return f"{base}/StructureDefinition/code-verification"


# --- Questionnaire ------------------------------------------------------------------------------


def _coding(c: Any, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"system": c.system, "code": c.code, "display": c.display}
    if c.verification == "U":
        out["extension"] = [{"url": verification_extension(base), "valueCode": "unverified"}]
    return out


def _number_ext(url: str, item: FormItem, value: int | float) -> dict[str, Any]:
    if item.type == "integer":
        return {"url": url, "valueInteger": int(value)}
    return {"url": url, "valueDecimal": value}


def _item_json(item: FormItem, questions: Mapping[str, FormItem], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.link_id}
    extensions: list[dict[str, Any]] = []
    if item.type in ("integer", "decimal"):
        if item.min_value is not None:
            extensions.append(_number_ext(MIN_VALUE, item, item.min_value))
        if item.max_value is not None:
            extensions.append(_number_ext(MAX_VALUE, item, item.max_value))
    if item.type == "decimal" and item.units:
        u = item.units[0]
        extensions.append({"url": UNIT, "valueCoding": {"system": UCUM, "code": u.code,
                                                        "display": u.display}})
    if item.type == "quantity":
        extensions += [{"url": UNIT_OPTION,
                        "valueCoding": {"system": UCUM, "code": u.code, "display": u.display}}
                       for u in item.units]
    if extensions:
        out["extension"] = extensions
    if item.codes:
        out["code"] = [_coding(c, base) for c in item.codes]
    if item.prefix:
        out["prefix"] = item.prefix
    out["text"] = item.text
    out["type"] = item.type
    if item.enable_when:
        out["enableWhen"] = [_enable_when(c.question, c.answer, questions.get(c.question),
                                          base) for c in item.enable_when]
        if len(item.enable_when) > 1:
            out["enableBehavior"] = item.enable_behavior
    if item.type in ANSWERABLE:
        out["required"] = False
    if item.options:
        assert item.system is not None
        system = code_system(item.system, base)
        out["answerOption"] = [
            {"valueCoding": {
                "system": system, "code": o.code, "display": o.display,
                **({"extension": [{"url": ORDINAL_VALUE, "valueDecimal": o.value}]}
                   if type(o.value) is int else {})}}
            for o in item.options]
    if item.items:
        out["item"] = [_item_json(child, questions, base) for child in item.items]
    return out


def _enable_when(question: str, answer: Any, target: FormItem | None,
                 base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"question": question, "operator": "="}
    if target is not None and target.type == "choice":
        choice = target.option(answer)
        assert choice is not None and target.system is not None
        out["answerCoding"] = {"system": code_system(target.system, base), "code": choice.code}
    elif type(answer) is bool:
        out["answerBoolean"] = answer
    elif type(answer) is int:
        out["answerInteger"] = answer
    elif type(answer) is float:
        out["answerDecimal"] = answer
    else:
        out["answerString"] = answer
    return out


def questionnaire(form_or_id: Form | str, *, base: str = CANONICAL_BASE) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of a form (an instrument id, ``"intake"``, or a :class:`Form`).

    The result is checked (:func:`check_questionnaire`); a failure is a bug in the knowledge
    data and raises :class:`KnowledgeError` naming the questionnaire and the problems.
    """
    f = form(form_or_id) if isinstance(form_or_id, str) else form_or_id
    questions = f.questions()
    items = [_item_json(i, questions, base) for i in f.items]
    doc: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"spinecare-{f.id.replace('_', '-')}",
        "url": canonical(f.id, base),
        "version": f.version,
        "name": f.name,
        "title": f.title,
        "status": f.status,
        "subjectType": ["Patient"],
        "publisher": "spinecare",
        "description": f.description,
    }
    if f.copyright:
        doc["copyright"] = f.copyright
    if f.codes:
        doc["code"] = [_coding(c, base) for c in f.codes]
    doc["item"] = items
    problems = check_questionnaire(doc)
    if problems:
        raise KnowledgeError(f"questionnaire {f.id}: " + "; ".join(problems))
    return doc


def _model_problems(kind: str, doc: Mapping[str, Any]) -> list[str]:
    from fhir.resources.R4B.questionnaire import Questionnaire
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    model: Any = Questionnaire if kind == "Questionnaire" else QuestionnaireResponse
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        return [f"{fhir_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
    return []


def fhir_path(loc: Any) -> str:
    """A pydantic location inside a FHIR document as a JSON path: ``item[2].answer[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def check_questionnaire(doc: Mapping[str, Any]) -> list[str]:
    """Every way ``doc`` fails to be a valid R4 Questionnaire that we can check (empty if none)."""
    problems = _model_problems("Questionnaire", doc)
    if problems:
        return problems
    if doc.get("resourceType") != "Questionnaire":
        problems.append("resourceType must be Questionnaire")
    extra = set(doc) - _R4_QUESTIONNAIRE
    if extra:
        problems.append(f"elements not in R4: {sorted(extra)}")
    if doc.get("status") not in _R4_STATUS:
        problems.append(f"status {doc.get('status')!r} is not an R4 publication status")
    name = doc.get("name")
    if name is not None and not re.fullmatch(r"[A-Z][A-Za-z0-9_]{0,254}", name):
        problems.append(f"que-0: name {name!r} is not usable as an identifier")
    seen: dict[str, dict[str, Any]] = {}

    def visit(items: list[dict[str, Any]], where: str) -> None:
        for index, item in enumerate(items):
            here = f"{where}[{index}]"
            link = item.get("linkId", "?")
            label = f"{here} ({link})"
            kind = item.get("type")
            if link in seen:
                problems.append(f"que-2: {label}: linkId is not unique")
            extra_keys = set(item) - _R4_ITEM
            if extra_keys:
                problems.append(f"{label}: elements not in R4: {sorted(extra_keys)}")
            if kind not in _R4_ITEM_TYPES:
                problems.append(f"{label}: type {kind!r} is not an R4 item type")
            children = item.get("item", [])
            if kind == "group" and not children:
                problems.append(f"que-1: {label}: a group needs nested items")
            if kind == "display":
                if children:
                    problems.append(f"que-1: {label}: a display item has no nested items")
                if "code" in item:
                    problems.append(f"que-3: {label}: a display item has no code")
                if "required" in item or "repeats" in item:
                    problems.append(f"que-6: {label}: required/repeats not allowed on display")
                if "readOnly" in item:
                    problems.append(f"que-9: {label}: readOnly not allowed on display")
            if "answerOption" in item and "answerValueSet" in item:
                problems.append(f"que-4: {label}: answerOption and answerValueSet together")
            if ("answerOption" in item or "answerValueSet" in item) and kind not in (
                    "choice", "open-choice"):
                problems.append(f"que-5: {label}: only choice items have answer options")
            if kind == "choice" and not item.get("answerOption") and "answerValueSet" not in item:
                problems.append(f"{label}: a choice item needs answer options")
            if "initial" in item and (kind in ("group", "display") or "answerOption" in item):
                problems.append(f"que-8/que-11: {label}: initial value not allowed here")
            if "maxLength" in item and kind not in _SIMPLE:
                problems.append(f"que-10: {label}: maxLength only on simple question types")
            conditions = item.get("enableWhen", [])
            if len(conditions) > 1 and "enableBehavior" not in item:
                problems.append(f"que-12: {label}: several enableWhen need enableBehavior")
            if "enableBehavior" in item and item["enableBehavior"] not in ("all", "any"):
                problems.append(f"{label}: enableBehavior must be all or any")
            for k, cond in enumerate(conditions):
                problems.extend(_check_condition(cond, f"{label}.enableWhen[{k}]", seen))
            _check_options(item, label, problems)
            seen[link] = item
            visit(children, f"{here}.item")

    visit(list(doc.get("item", [])), "item")
    return problems


def _check_options(item: Mapping[str, Any], label: str, problems: list[str]) -> None:
    codes = set()
    for k, option in enumerate(item.get("answerOption", [])):
        coding = option.get("valueCoding")
        if coding is None:
            continue
        key = (coding.get("system"), coding.get("code"))
        if key in codes:
            problems.append(f"{label}.answerOption[{k}]: code {key[1]!r} repeated")
        codes.add(key)


def _check_condition(cond: Mapping[str, Any], label: str,
                     earlier: Mapping[str, Mapping[str, Any]]) -> list[str]:
    problems = []
    operator = cond.get("operator")
    if operator not in _R4_OPERATORS:
        problems.append(f"{label}: operator {operator!r} is not an R4 operator")
    answers = [k for k in cond if k.startswith("answer")]
    if len(answers) != 1:
        return [*problems, f"{label}: needs exactly one answer[x]"]
    question = cond.get("question")
    target = earlier.get(str(question))
    if target is None:
        return [*problems, f"{label}: question {question!r} is not an earlier item"]
    kind = target.get("type")
    if kind in ("group", "display"):
        return [*problems, f"{label}: question {question!r} is a {kind}, not a question"]
    if operator == "exists":
        if answers[0] != "answerBoolean":
            problems.append(f"que-7: {label}: exists needs answerBoolean")
        return problems
    expected = _ANSWER_KEY.get(str(kind))
    if answers[0] != expected:
        problems.append(f"{label}: {question} is a {kind} question; the answer must be "
                        f"{expected}, not {answers[0]}")
    elif expected == "answerCoding":
        coding = cond[expected]
        options = {(o["valueCoding"].get("system"), o["valueCoding"].get("code"))
                   for o in target.get("answerOption", []) if "valueCoding" in o}
        if (coding.get("system"), coding.get("code")) not in options:
            problems.append(f"{label}: {coding.get('code')!r} is not an answer option of "
                            f"{question}")
    return problems


# --- QuestionnaireResponse --------------------------------------------------------------------


def _answer_json(item: FormItem, value: Any, base: str) -> dict[str, Any]:
    if item.type == "boolean":
        return {"valueBoolean": value}
    if item.type == "choice":
        choice = item.option(value)
        assert choice is not None and item.system is not None
        return {"valueCoding": {"system": code_system(item.system, base), "code": choice.code,
                                "display": choice.display}}
    if item.type == "integer":
        return {"valueInteger": value}
    if item.type == "decimal":
        return {"valueDecimal": value}
    unit = item.units[0]
    return {"valueQuantity": {"value": value, "unit": unit.display, "system": UCUM,
                              "code": unit.code}}


def questionnaire_response(form_or_id: Form | str, answers: Mapping[str, Any], *,
                           base: str = CANONICAL_BASE, authored: str | None = None,
                           status: str = "completed") -> dict[str, Any]:
    """A QuestionnaireResponse carrying ``answers`` (by linkId; ``None`` or absent: unanswered).

    Amounts are given in the item's base unit (weeks, minutes). The result mirrors the
    questionnaire's groups and is validated with the R4B model.
    """
    f = form(form_or_id) if isinstance(form_or_id, str) else form_or_id

    def items(level: tuple[FormItem, ...]) -> list[dict[str, Any]]:
        out = []
        for item in level:
            if item.type == "group":
                children = items(item.items)
                if children:
                    out.append({"linkId": item.link_id, "text": item.text, "item": children})
            elif item.type in ANSWERABLE and answers.get(item.link_id) is not None:
                out.append({"linkId": item.link_id, "text": item.text,
                            "answer": [_answer_json(item, answers[item.link_id], base)]})
        return out

    doc: dict[str, Any] = {"resourceType": "QuestionnaireResponse",
                           "questionnaire": f"{canonical(f.id, base)}|{f.version}",
                           "status": status}
    if authored:
        doc["authored"] = authored
    doc["item"] = items(f.items)
    problems = _model_problems("QuestionnaireResponse", doc)
    if problems:
        raise ValueError("; ".join(problems))
    return doc
