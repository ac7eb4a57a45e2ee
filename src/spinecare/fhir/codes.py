"""The code -> case field mapping (``knowledge/fhir_codes.toml``), loaded strictly.

The mapping is knowledge: which LOINC, SNOMED CT and ICD-10-CM codes speak of which case field,
with the sources that say what each code means and how far that was checked. The loader checks
every row against the case model (the field exists and holds a scalar; units only on amounts,
answers' values of the field's type), against the citations, and that no code is mapped twice.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from spinecare.case import Case
from spinecare.kb import STRICT, Problems, knowledge_dir, read_toml
from spinecare.kb.citations import packaged_citations
from spinecare.vocabulary import Verification

FILE = "fhir_codes.toml"
UCUM = "http://unitsofmeasure.org"

FieldKind = Literal["boolean", "choice", "decimal", "integer"]


class _Strict(BaseModel):
    model_config = STRICT


class Answer(_Strict):
    system: str
    code: Annotated[str, Field(min_length=1)]
    display: Annotated[str, Field(min_length=1)]
    value: bool | str | int | float


class CodeRow(_Strict):
    system: str
    code: Annotated[str, Field(min_length=1)]
    match: Literal["exact", "prefix"] = "exact"
    display: Annotated[str, Field(min_length=1)]
    field: str | None = None
    ignore: Annotated[str, Field(min_length=1)] | None = None
    value: bool | str | int | float | None = None
    history: bool = False
    units: dict[str, Annotated[list[int], Field(min_length=2, max_length=2)]] = {}
    answers: list[Answer] = []
    verification: Verification
    citations: Annotated[list[str], Field(min_length=1)]

    @model_validator(mode="after")
    def _field_or_ignore(self) -> CodeRow:
        if (self.field is None) == (self.ignore is None):
            raise ValueError("give exactly one of field and ignore")
        return self


class OwnCode(_Strict):
    code: Annotated[str, Field(min_length=1)]
    display: Annotated[str, Field(min_length=1)]
    units: dict[str, Annotated[list[int], Field(min_length=2, max_length=2)]] = {}


class Own(_Strict):
    codes: Annotated[list[OwnCode], Field(min_length=1)]


class CodeFile(_Strict):
    version: Annotated[str, Field(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
    system: dict[str, Annotated[str, Field(pattern=r"^https?://\S+$")]]
    code: list[CodeRow]
    spinecare: Own


@dataclass(frozen=True, slots=True)
class Target:
    """What one code means for the case: its field (or why it is ignored) and how to read it.

    ``system`` is a URL (spinecare's own codes: ``"spinecare"``, resolved against the canonical
    base when matching); ``choices`` are the values a coded field may take.
    """

    system: str
    code: str
    display: str
    field: str | None
    kind: FieldKind | None
    ignore: str | None
    value: Any
    history: bool
    prefix: bool
    units: dict[str, Fraction]
    answers: dict[tuple[str, str], Any]
    choices: tuple[str, ...]
    verification: Verification
    citations: tuple[str, ...]


@dataclass(frozen=True)
class CodeMap:
    version: str
    exact: dict[tuple[str, str], Target]
    prefixes: tuple[Target, ...]
    own: dict[str, Target]
    fields: frozenset[str]

    def find(self, system: str | None, code: str | None, own_system: str) -> Target | None:
        """The row for one coding, if the mapping knows it."""
        if system is None or code is None:
            return None
        if system == own_system:
            return self.own.get(code)
        found = self.exact.get((system, code))
        if found is not None:
            return found
        matches = [t for t in self.prefixes if t.system == system and code.startswith(t.code)]
        # The longest prefix is the most specific row (M48.0 before a hypothetical M48).
        return max(matches, key=lambda t: len(t.code)) if matches else None


def field_kind(path: str) -> tuple[FieldKind, tuple[str, ...]] | None:
    """How a case field is answered (and its choices), or ``None`` if it is not a scalar field."""
    model: Any = Case
    annotation: Any = None
    for part in path.split("."):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        model = _model_of(annotation)
    return _kind(annotation)


def _model_of(annotation: Any) -> Any:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _kind(annotation: Any) -> tuple[FieldKind, tuple[str, ...]] | None:
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    args = [a for a in typing.get_args(annotation) if a is not type(None)] if union \
        else [annotation]
    if len(args) != 1:
        return None
    arg = args[0]
    if typing.get_origin(arg) is typing.Annotated:
        arg = typing.get_args(arg)[0]
        return _kind(arg)
    if arg is bool:
        return "boolean", ()
    if arg is int:
        return "integer", ()
    if arg is float:
        return "decimal", ()
    if typing.get_origin(arg) is Literal:
        return "choice", tuple(str(v) for v in typing.get_args(arg))
    return None


def _fraction(pair: list[int]) -> Fraction:
    return Fraction(pair[0], pair[1])


def _value_problem(kind: FieldKind, choices: tuple[str, ...], value: Any) -> str | None:
    ok = {"boolean": type(value) is bool, "integer": type(value) is int,
          "decimal": type(value) in (int, float), "choice": value in choices}[kind]
    return None if ok else f"value {value!r} does not fit a {kind} field" + (
        f" (one of {', '.join(choices)})" if choices else "")


def parse_code_file(data: dict[str, Any], file: str = FILE) -> CodeMap:
    """Check and index the mapping; every problem is reported with its row."""
    problems = Problems()
    doc = problems.validate(CodeFile, data, file)
    problems.raise_if_any()
    assert doc is not None
    known_citations = set(packaged_citations())
    exact: dict[tuple[str, str], Target] = {}
    prefixes: list[Target] = []
    fields: set[str] = set()
    for n, row in enumerate(doc.code):
        where = f"code[{n}] ({row.code})"
        system = doc.system.get(row.system)
        if system is None:
            problems.add(file, where, f"system {row.system!r} is not in [system]")
            continue
        for c in row.citations:
            if c not in known_citations:
                problems.add(file, where, f"citations: unknown source {c!r}")
        kind: FieldKind | None = None
        choices: tuple[str, ...] = ()
        if row.field is not None:
            found = field_kind(row.field)
            if found is None:
                problems.add(file, where, f"field {row.field!r} is not a scalar field of a case")
                continue
            kind, choices = found
            fields.add(row.field)
            if row.value is not None and (bad := _value_problem(kind, choices, row.value)):
                problems.add(file, where, bad)
            if row.value is None and kind != "boolean" and not row.units and not row.answers:
                problems.add(file, where, f"a {kind} field needs value, units or answers")
            for a in row.answers:
                if a.system not in doc.system:
                    problems.add(file, where, f"answers: system {a.system!r} is not in [system]")
                if bad := _value_problem(kind, choices, a.value):
                    problems.add(file, where, f"answers {a.code}: {bad}")
        if row.units and kind not in ("decimal", "integer"):
            problems.add(file, where, "units only on an amount")
        if row.match == "prefix" and row.system != "icd10cm":
            problems.add(file, where, "match = prefix is for ICD-10-CM categories only")
        target = Target(
            system=system, code=row.code, display=row.display, field=row.field, kind=kind,
            ignore=row.ignore, value=row.value, history=row.history,
            prefix=row.match == "prefix",
            units={u: _fraction(f) for u, f in row.units.items()},
            answers={(doc.system.get(a.system, a.system), a.code): a.value for a in row.answers},
            choices=choices, verification=row.verification, citations=tuple(row.citations))
        if target.prefix:
            if any(p.system == system and p.code == row.code for p in prefixes):
                problems.add(file, where, "mapped twice")
            prefixes.append(target)
        else:
            if (system, row.code) in exact:
                problems.add(file, where, "mapped twice")
            exact[(system, row.code)] = target
    own: dict[str, Target] = {}
    for n, entry in enumerate(doc.spinecare.codes):
        where = f"spinecare.codes[{n}] ({entry.code})"
        found = field_kind(entry.code)
        if found is None:
            problems.add(file, where, "is not a scalar field of a case")
            continue
        kind, choices = found
        if entry.code in own:
            problems.add(file, where, "listed twice")
        if kind == "decimal" and not entry.units:
            problems.add(file, where, "an amount needs its units")
        if entry.units and kind not in ("decimal", "integer"):
            problems.add(file, where, "units only on an amount")
        fields.add(entry.code)
        own[entry.code] = Target(
            system="spinecare", code=entry.code, display=entry.display, field=entry.code,
            kind=kind, ignore=None, value=None, history=False, prefix=False,
            units={u: _fraction(f) for u, f in entry.units.items()}, answers={},
            choices=choices, verification="V", citations=())
    problems.raise_if_any()
    return CodeMap(doc.version, exact, tuple(prefixes), own, frozenset(fields))


@lru_cache(maxsize=1)
def code_map() -> CodeMap:
    """The packaged mapping, loaded once."""
    return parse_code_file(read_toml(knowledge_dir() / FILE, FILE))
