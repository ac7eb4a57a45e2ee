"""FHIR in: what the record holds (a Bundle, or resources) becomes a ``spinecare.case/1`` case.

Read: Patient (sex; age from ``birthDate`` at a reference date), Observation (valueBoolean,
valueQuantity with UCUM units, valueInteger, valueCodeableConcept, valueString, interpretation,
components), Condition (clinical and verification status honoured) and QuestionnaireResponse
to spinecare's own intake and instrument Questionnaires. Which code fills which field is knowledge
(``knowledge/fhir_codes.toml``, see :mod:`spinecare.fhir.codes`).

Nothing is guessed:

- a field no resource speaks of stays absent (unknown), never false;
- a code the mapping does not know is reported and ignored;
- entered-in-error, cancelled and refuted resources never count, nor do unconfirmed or no longer
  active conditions (unless the field is a history item), and each is reported;
- two resources giving one field different values: the latest by effective date wins and the
  others are reported; when the latest cannot be told (no dates, or the same date) the field is
  left unknown and that is reported;
- a value the case cannot hold (out of range, a unit that is not UCUM or not convertible) is
  reported and left out.

Only a document that is not a Bundle (or a list of resources) at all is refused, with a
:class:`FhirInputError` naming the field; problems with single resources never lose the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, NamedTuple

from pydantic import ValidationError

from spinecare.case import parse_case
from spinecare.errors import CaseError, Problem, SpinecareError
from spinecare.fhir.codes import UCUM, CodeMap, Target, code_map
from spinecare.fhir.settings import canonical_base, finding_system, finding_value_system
from spinecare.instruments.answers import read_fhir
from spinecare.instruments.cases import instruments_section
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.fhir import fhir_path
from spinecare.instruments.intake import case_sections

__all__ = ["READ", "FhirCase", "FhirInputError", "FhirProblem", "to_case"]

#: The resource types FHIR in reads; any other is reported and ignored.
READ = ("Patient", "Observation", "Condition", "QuestionnaireResponse")

_OBSERVATION_USED = frozenset({"final", "amended", "corrected", "preliminary"})
_CONDITION_CURRENT = frozenset({"active", "recurrence", "relapse"})
_CONDITION_NEVER = frozenset({"refuted", "entered-in-error"})
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_YES_NO = {("http://snomed.info/sct", "373066001"): True,
           ("http://snomed.info/sct", "373067005"): False,
           ("http://terminology.hl7.org/CodeSystem/v2-0136", "Y"): True,
           ("http://terminology.hl7.org/CodeSystem/v2-0136", "N"): False}
_POSITIVE = {"POS": True, "DET": True, "NEG": False, "ND": False}
_SEX = frozenset({"female", "male", "other", "unknown"})


class FhirProblem(NamedTuple):
    """Something in the input that was not used as given: which resource, and why."""

    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


class FhirInputError(SpinecareError, ValueError):
    """Input that is not a Bundle or a list of resources; ``problems`` name each field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class FhirCase:
    """The result of :func:`to_case`.

    ``case``: a valid ``spinecare.case/1`` document. ``sources``: each case field path filled,
    and the resources it came from (``Observation/abc``). ``problems``: what was not used, and why.
    ``unverified``: each field filled through a code whose mapping is tagged U (not checked
    against its terminology), and those codes, so that a reader can weigh it.
    """

    case: dict[str, Any]
    sources: dict[str, list[str]]
    problems: list[FhirProblem] = field(default_factory=list)
    unverified: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Candidate:
    field: str
    value: Any
    ref: str
    when: datetime | None
    when_text: str | None
    unverified: str | None = None


@dataclass
class _Entry:
    resource: dict[str, Any]
    ref: str
    full_url: str | None
    where: str


# --- reading the input ---------------------------------------------------------------------------


def _entries(given: Any) -> list[_Entry]:
    if isinstance(given, Mapping):
        if given.get("resourceType") != "Bundle":
            found = given.get("resourceType")
            raise FhirInputError([Problem("resourceType", f"must be Bundle (got {found!r}); "
                                          "give a Bundle, or a list of resources")])
        return _bundle_entries(given, "")
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise FhirInputError([Problem("(document)", "must be a FHIR Bundle (an object with "
                                      "resourceType Bundle) or a list of resources")])
    out: list[_Entry] = []
    for n, resource in enumerate(given):
        where = f"[{n}]"
        _check_resource(resource, where)
        if resource["resourceType"] == "Bundle":
            out += _bundle_entries(resource, where)
        else:
            out.append(_entry(resource, None, where))
    return out


def _check_resource(resource: Any, where: str) -> None:
    if not isinstance(resource, Mapping):
        raise FhirInputError([Problem(where or "(document)", "must be a FHIR resource (an "
                                      "object with a resourceType)")])
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not kind:
        path = f"{where}.resourceType" if where else "resourceType"
        raise FhirInputError([Problem(path, "is required: the FHIR resource type")])


def _bundle_entries(bundle: Mapping[str, Any], where: str) -> list[_Entry]:
    prefix = f"{where}." if where else ""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirInputError([Problem(f"{prefix}entry", "must be a list of entries")])
    out: list[_Entry] = []
    for n, entry in enumerate(entries):
        here = f"{prefix}entry[{n}]"
        if not isinstance(entry, Mapping):
            raise FhirInputError([Problem(here, "must be an object with a resource")])
        if "resource" not in entry:
            continue  # a search result's or a deleted entry's bare request/response
        _check_resource(entry["resource"], f"{here}.resource")
        resource = entry["resource"]
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        if resource["resourceType"] == "Bundle":
            out += _bundle_entries(resource, f"{here}.resource")
        else:
            out.append(_entry(resource, full_url, f"{here}.resource"))
    return out


def _entry(resource: Mapping[str, Any], full_url: str | None, where: str) -> _Entry:
    kind = resource["resourceType"]
    rid = resource.get("id")
    ref = f"{kind}/{rid}" if isinstance(rid, str) and rid else full_url or f"{kind} at {where}"
    return _Entry(dict(resource), ref, full_url, where)


def _validation_problem(entry: _Entry) -> str | None:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(entry.resource["resourceType"]).model_validate(entry.resource)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        shown = "; ".join(f"{fhir_path(e['loc'])}: {e['msg']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return f"is not a valid {entry.resource['resourceType']}: {shown}{more}; ignored"
    return None


# --- dates ---------------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _instant(text: Any) -> datetime | None:
    """A FHIR date or dateTime as an aware instant (a partial date: its first moment, UTC)."""
    if not isinstance(text, str):
        return None
    m = _DATE.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                          int(minute or 0), int(second or 0))
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 60 + int(zone[4:6]))
        return moment.replace(tzinfo=UTC) - timedelta(minutes=offset)
    return moment.replace(tzinfo=UTC)


def _effective(resource: Mapping[str, Any]) -> str | None:
    kind = resource.get("resourceType")
    if kind == "Observation":
        period = resource.get("effectivePeriod") or {}
        for text in (resource.get("effectiveDateTime"), resource.get("effectiveInstant"),
                     period.get("end"), period.get("start"), resource.get("issued")):
            if isinstance(text, str):
                return text
    elif kind == "Condition":
        onset = resource.get("onsetPeriod") or {}
        for text in (resource.get("recordedDate"), resource.get("onsetDateTime"),
                     onset.get("start")):
            if isinstance(text, str):
                return text
    elif kind == "QuestionnaireResponse":
        text = resource.get("authored")
        return text if isinstance(text, str) else None
    return None


# --- one resource at a time ----------------------------------------------------------------------


class _Reader:
    def __init__(self, codes: CodeMap, base: str, on: date) -> None:
        self.codes = codes
        self.base = base
        self.own = finding_system(base)
        self.own_values = finding_value_system(base)
        self.on = on
        self.candidates: list[_Candidate] = []
        self.problems: list[FhirProblem] = []
        self.patient: dict[str, Any] = {}
        self.patient_sources: dict[str, list[str]] = {}

    def problem(self, ref: str, message: str) -> None:
        self.problems.append(FhirProblem(ref, message))

    def add(self, entry: _Entry, target: Target, value: Any) -> None:
        assert target.field is not None
        text = _effective(entry.resource)
        unverified = (f"{target.system}|{target.code}" if target.verification == "U" else None)
        self.candidates.append(_Candidate(target.field, value, entry.ref, _instant(text), text,
                                          unverified))

    # Patient

    def patient_resource(self, entry: _Entry) -> None:
        r = entry.resource
        gender = r.get("gender")
        if gender in _SEX:
            self.patient["sex"] = gender
            self.patient_sources["patient.sex"] = [entry.ref]
        born = r.get("birthDate")
        if isinstance(born, str):
            age = self._age(entry.ref, born)
            if age is not None:
                self.patient["age"] = age
                self.patient_sources["patient.age"] = [entry.ref]

    def _age(self, ref: str, born: str) -> int | None:
        parts = [int(p) for p in born.split("-")]
        year = parts[0]
        if len(parts) == 3:
            youngest = oldest = _years(date(year, parts[1], parts[2]), self.on)
        else:
            # Only the year (or month) is known: the age is one of two; the younger is taken,
            # and the report says so.
            last = date(year, parts[1] if len(parts) > 1 else 12,
                        _month_end(year, parts[1]) if len(parts) > 1 else 31)
            first = date(year, parts[1] if len(parts) > 1 else 1, 1)
            youngest, oldest = _years(last, self.on), _years(first, self.on)
            if youngest != oldest:
                self.problem(ref, f"birthDate {born} gives an age of {youngest} or {oldest} on "
                                  f"{self.on.isoformat()}; {youngest} was taken")
        if youngest < 0 or oldest > 120:
            self.problem(ref, f"birthDate {born} gives an age outside 0-120 on "
                              f"{self.on.isoformat()}; age left unknown")
            return None
        return youngest

    # Observation

    def observation(self, entry: _Entry) -> None:
        r = entry.resource
        status = r.get("status")
        if status not in _OBSERVATION_USED:
            self.problem(entry.ref, f"status {status}: ignored")
            return
        read_any = False
        for n, component in enumerate(r.get("component") or []):
            read_any = self._observed(entry, component, f"component[{n}]") or read_any
        if r.get("component") and read_any:
            target = self._target(entry, r.get("code"), report=False)
            if target is not None and target.field is not None:
                self._observed(entry, r, "")
            return
        self._observed(entry, r, "")

    def _observed(self, entry: _Entry, part: Mapping[str, Any], where: str) -> bool:
        """Read one observation (or component); true if it filled a field."""
        label = f"{where}: " if where else ""
        target = self._target(entry, part.get("code"), label=label)
        if target is None:
            return False
        if target.field is None:
            self.problem(entry.ref, f"{label}{target.display} ({target.code}): {target.ignore}")
            return False
        if "dataAbsentReason" in part and not any(k.startswith("value") for k in part):
            reason = _first_code(part["dataAbsentReason"]) or "given"
            self.problem(entry.ref, f"{label}{target.field}: no value (dataAbsentReason "
                                    f"{reason}); left unknown")
            return False
        value, message = self._value(target, part)
        if message is not None:
            self.problem(entry.ref, f"{label}{target.field}: {message}; ignored")
            return False
        self.add(entry, target, value)
        return True

    def _target(self, entry: _Entry, concept: Any, *, label: str = "",
                report: bool = True) -> Target | None:
        codings = [c for c in (concept or {}).get("coding") or [] if isinstance(c, Mapping)]
        found = [t for c in codings
                 if (t := self.codes.find(c.get("system"), c.get("code"), self.own)) is not None]
        if not found:
            if report:
                shown = ", ".join(f"{c.get('system')}|{c.get('code')}"
                                  + (f" ({c['display']})" if c.get("display") else "")
                                  for c in codings) or "no coding"
                self.problem(entry.ref, f"{label}unknown code {shown}: ignored")
            return None
        fields = {t.field for t in found}
        if len(fields) > 1:
            if report:
                named = ", ".join(sorted(str(f) for f in fields))
                self.problem(entry.ref, f"{label}its codes mean different fields ({named}); "
                                        "ignored")
            return None
        # Of several codings for one field, a checked mapping is preferred over a U one.
        return min(found, key=lambda t: t.verification == "U")

    def _value(self, target: Target, part: Mapping[str, Any]) -> tuple[Any, str | None]:
        kind = target.kind
        concept = part.get("valueCodeableConcept")
        if concept is not None:
            return self._coded(target, concept)
        if "valueBoolean" in part:
            if kind != "boolean":
                return None, f"valueBoolean does not answer a {kind} field"
            return part["valueBoolean"], None
        if "valueQuantity" in part:
            return self._quantity(target, part["valueQuantity"])
        if "valueInteger" in part:
            got = part["valueInteger"]
            if kind == "integer" or (kind == "decimal" and "1" in target.units):
                return got, None
            return None, f"valueInteger does not answer a {kind} field"
        if "valueString" in part:
            if kind == "choice" and part["valueString"] in target.choices:
                return part["valueString"], None
            return None, (f"valueString {part['valueString']!r} is not one of "
                          f"{', '.join(target.choices)}" if kind == "choice"
                          else f"valueString does not answer a {kind} field")
        others = [k for k in part if k.startswith("value")]
        if others:
            return None, f"{others[0]} is not read for this field"
        interpreted = self._interpretation(part)
        if interpreted is not None and kind == "boolean":
            return interpreted, None
        if target.system != "spinecare" and kind == "boolean" and not target.answers:
            # The code names a finding (Fever): recorded without a value, it is present.
            return (True if target.value is None else target.value), None
        if target.value is not None and target.system != "spinecare":
            return target.value, None
        return None, "no value"

    def _interpretation(self, part: Mapping[str, Any]) -> bool | None:
        for concept in part.get("interpretation") or []:
            for c in (concept or {}).get("coding") or []:
                if c.get("system") == _INTERPRETATION and c.get("code") in _POSITIVE:
                    return _POSITIVE[c["code"]]
        return None

    def _coded(self, target: Target, concept: Mapping[str, Any]) -> tuple[Any, str | None]:
        codings = [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]
        for c in codings:
            key = (c.get("system"), c.get("code"))
            if key in target.answers:
                return target.answers[key], None
            if target.kind == "boolean" and key in _YES_NO:
                return _YES_NO[key], None
            if (target.kind == "choice" and c.get("system") == self.own_values
                    and c.get("code") in target.choices):
                return c["code"], None
        shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "no coding"
        return None, f"coded answer {shown} is not known for this field"

    def _quantity(self, target: Target, q: Mapping[str, Any]) -> tuple[Any, str | None]:
        amount = q.get("value")
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            return None, "valueQuantity has no value"
        if q.get("comparator"):
            return None, f"valueQuantity is {q['comparator']} {amount}, not an exact amount"
        system, code = q.get("system"), q.get("code")
        if system is not None and system != UCUM:
            return None, f"unit system {system} is not UCUM ({UCUM})"
        if code is None and system is None:
            code = q.get("unit")  # a bare unit text: accepted only when it is the UCUM code
        if code is None and "1" in target.units:
            code = "1"
        if target.kind == "integer" and code in (None, "1", "{score}"):
            if isinstance(amount, float) and not amount.is_integer():
                return None, f"{amount} is not a whole number"
            return int(amount), None
        factor = target.units.get(str(code)) if code is not None else None
        if factor is None:
            allowed = ", ".join(target.units) or "none"
            return None, f"unit {code!r} is not one spinecare reads for it (UCUM: {allowed})"
        scaled = Fraction(str(amount)) * factor
        if target.kind == "integer":
            if scaled.denominator != 1:
                return None, f"{amount} {code} is not a whole number"
            return int(scaled), None
        return (float(scaled) if scaled.denominator != 1 else int(scaled)), None

    # Condition

    def condition(self, entry: _Entry) -> None:
        r = entry.resource
        verification = _first_code(r.get("verificationStatus"))
        if verification in _CONDITION_NEVER:
            self.problem(entry.ref, f"verificationStatus {verification}: never counts; ignored")
            return
        target = self._target(entry, r.get("code"))
        if target is None:
            return
        if target.field is None:
            self.problem(entry.ref, f"{target.display} ({target.code}): {target.ignore}")
            return
        if verification not in (None, "confirmed"):
            self.problem(entry.ref, f"{target.field}: verificationStatus {verification} is not "
                                    "confirmed; ignored")
            return
        clinical = _first_code(r.get("clinicalStatus"))
        if clinical is not None and clinical not in _CONDITION_CURRENT and not target.history:
            self.problem(entry.ref, f"{target.field}: clinicalStatus {clinical}: not current; "
                                    "ignored")
            return
        self.add(entry, target, True if target.value is None else target.value)

    # QuestionnaireResponse

    def questionnaire_response(self, entry: _Entry) -> None:
        r = entry.resource
        if r.get("status") == "entered-in-error":
            self.problem(entry.ref, "status entered-in-error: ignored")
            return
        try:
            response = read_fhir(r, base=self.base)
        except AnswerError as exc:
            for p in exc.problems:
                self.problem(entry.ref, f"{p.path}: {p.message}")
            self.problem(entry.ref, "not read")
            return
        when = _effective(r)
        if response.questionnaire == "intake":
            for part, values in case_sections(response.answers).items():
                for name, value in values.items():
                    self._answer(entry, f"{part}.{name}", value, when)
            return
        try:
            section, notes = instruments_section([response])
        except AnswerError as exc:
            for p in exc.problems:
                self.problem(entry.ref, p.message)
            return
        for note in notes:
            self.problem(entry.ref, note)
        for name, value in section.items():
            own = {f"instruments.{name}.{k}" for k in value} if isinstance(value, dict) else set()
            if own and own <= set(self.codes.own):
                # A rating per site (pain) meets single Observations of the same ratings.
                for k, v in value.items():
                    self._answer(entry, f"instruments.{name}.{k}", v, when)
            else:
                self._answer(entry, f"instruments.{name}", value, when)

    def _answer(self, entry: _Entry, path: str, value: Any, when: str | None) -> None:
        self.candidates.append(_Candidate(path, value, entry.ref, _instant(when), when))


def _first_code(concept: Any) -> str | None:
    for c in (concept or {}).get("coding") or []:
        if isinstance(c, Mapping) and isinstance(c.get("code"), str):
            return str(c["code"])
    return None


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _month_end(year: int, month: int) -> int:
    from calendar import monthrange

    return monthrange(year, month)[1]


# --- the patient ---------------------------------------------------------------------------------


def _patient_refs(entries: list[_Entry], patient_id: str | None) -> tuple[set[str] | None,
                                                                           _Entry | None]:
    """The references that name the case's patient (``None``: any), and its Patient entry."""
    patients = [e for e in entries if e.resource["resourceType"] == "Patient"]
    if patient_id is not None:
        chosen = next((e for e in patients if e.resource.get("id") == patient_id), None)
    else:
        ids = sorted({e.ref for e in patients})
        if len(ids) > 1:
            raise FhirInputError([Problem("entry", f"holds {len(ids)} patients ({', '.join(ids)})"
                                                   "; pass patient_id to say whose case it is")])
        chosen = patients[0] if patients else None
        if chosen is None:
            subjects = sorted({s for e in entries if (s := _subject(e.resource)) is not None})
            if len(subjects) > 1:
                raise FhirInputError([Problem("entry", f"speaks of {len(subjects)} patients ("
                                              f"{', '.join(subjects)}); pass patient_id to say "
                                              "whose case it is")])
            return None, None
        patient_id = chosen.resource.get("id")
    refs: set[str] = set()
    if patient_id:
        refs.add(f"Patient/{patient_id}")
    if chosen is not None and chosen.full_url:
        refs.add(chosen.full_url)
    return refs, chosen


def _subject(resource: Mapping[str, Any]) -> str | None:
    subject = resource.get("subject")
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    return ref if isinstance(ref, str) else None


def _about_patient(ref: str, refs: set[str]) -> bool:
    if ref in refs:
        return True
    # An absolute reference to the same Patient on the record's server.
    return any(not r.startswith("urn:") and ref.endswith("/" + r) for r in refs)


# --- choosing among candidates -------------------------------------------------------------------


def _resolve(candidates: list[_Candidate], problems: list[FhirProblem]
             ) -> dict[str, list[_Candidate]]:
    by_field: dict[str, list[_Candidate]] = {}
    for c in candidates:
        by_field.setdefault(c.field, []).append(c)
    chosen: dict[str, list[_Candidate]] = {}
    for name, given in by_field.items():
        values = {_key(c.value) for c in given}
        if len(values) == 1:
            chosen[name] = given
            continue
        dated = [c for c in given if c.when is not None]
        latest = max((c.when for c in dated if c.when is not None), default=None)
        top = [c for c in dated if c.when == latest]
        if not top or len({_key(c.value) for c in top}) > 1:
            shown = "; ".join(f"{c.ref}: {c.value!r}" + (f" ({c.when_text})" if c.when_text
                                                           else " (no effective date)")
                              for c in given)
            for c in given:
                problems.append(FhirProblem(c.ref, f"{name}: resources disagree and the latest "
                                                   f"cannot be told ({shown}); left unknown"))
            continue
        winner = top[0]
        keep = [c for c in given if _key(c.value) == _key(winner.value)
                and (c.when is None or c.when <= winner.when)]  # type: ignore[operator]
        for c in given:
            if _key(c.value) != _key(winner.value):
                when = f"of {c.when_text}" if c.when_text else "with no effective date"
                problems.append(FhirProblem(c.ref, f"{name}: {c.value!r} {when} is superseded "
                                                   f"by {winner.value!r} from {winner.ref} of "
                                                   f"{winner.when_text}, the latest"))
        chosen[name] = keep
    return chosen


def _key(value: Any) -> str:
    return repr(value)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    here = doc
    for p in parents:
        here = here.setdefault(p, {})
    here[last] = value


def _owner(fields: Iterable[str], problem_path: str) -> str | None:
    for f in sorted(fields, key=len, reverse=True):
        if problem_path == f or problem_path.startswith((f + ".", f + "[")):
            return f
    return None


# --- the public function -------------------------------------------------------------------------


def to_case(resources: Any, *, patient_id: str | None = None, base: str | None = None,
            on: date | None = None, case_id: str | None = None) -> FhirCase:
    """A case from a FHIR R4 Bundle (a dict) or an iterable of resource dicts.

    ``patient_id``: whose case, when the input holds several patients; resources about another
    patient are reported and ignored. ``base``: the canonical base of spinecare's Questionnaires
    and CodeSystem (default: the ``SPINECARE_FHIR_BASE`` setting). ``on``: the date the age is
    computed at (default today, UTC). ``case_id``: the case's id (default ``fhir-<patient id>``).

    Raises :class:`FhirInputError` only for input that is not a Bundle or a list of resources.
    """
    from spinecare.fhir.settings import check_base

    base = check_base(base) if base is not None else canonical_base()
    on = on or datetime.now(UTC).date()
    entries = _entries(resources)
    refs, chosen = _patient_refs(entries, patient_id)
    reader = _Reader(code_map(), base, on)
    for entry in entries:
        kind = entry.resource["resourceType"]
        if kind not in READ:
            reader.problem(entry.ref, f"a {kind} is not read (spinecare reads "
                                      f"{', '.join(READ)}); ignored")
            continue
        if kind == "Patient":
            if chosen is not None and entry is not chosen:
                reader.problem(entry.ref, "another patient: ignored")
                continue
        else:
            subject = _subject(entry.resource)
            if refs is not None and subject is not None and not _about_patient(subject, refs):
                reader.problem(entry.ref, f"is about {subject}, not this case's patient; "
                                          "ignored")
                continue
        invalid = _validation_problem(entry)
        if invalid is not None:
            reader.problem(entry.ref, invalid)
            continue
        {"Patient": reader.patient_resource, "Observation": reader.observation,
         "Condition": reader.condition,
         "QuestionnaireResponse": reader.questionnaire_response}[kind](entry)
    problems = reader.problems
    chosen_values = _resolve(reader.candidates, problems)

    if case_id is None:
        pid = chosen.resource.get("id") if chosen is not None else patient_id
        case_id = f"fhir-{pid}" if pid else "fhir-case"
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": case_id[:128],
                           "patient": {"age": reader.patient.get("age")}}
    if "sex" in reader.patient:
        doc["patient"]["sex"] = reader.patient["sex"]
    for name in sorted(chosen_values):
        _put(doc, name, chosen_values[name][-1].value)
    # Drop what the case cannot hold (out of range), naming the resources it came from.
    while True:
        try:
            parse_case(doc)
            break
        except CaseError as exc:
            dropped = False
            for p in exc.problems:
                owner = _owner(chosen_values, p.path)
                if owner is None:
                    raise
                for c in chosen_values.pop(owner):
                    problems.append(FhirProblem(c.ref, f"{p.path}: {p.message}; ignored"))
                _drop(doc, owner)
                dropped = True
            if not dropped:
                raise
    sources = dict(reader.patient_sources)
    unverified: dict[str, list[str]] = {}
    for name in sorted(chosen_values):
        sources[name] = sorted({c.ref for c in chosen_values[name]})
        codes = sorted({c.unverified for c in chosen_values[name] if c.unverified})
        if codes:
            unverified[name] = codes
    return FhirCase(doc, sources, problems, unverified)


def _drop(doc: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    here = doc
    for p in parents:
        here = here[p]
    here.pop(last, None)
