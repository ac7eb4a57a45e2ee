"""Loading the assessment knowledge: strict models over the TOML files in ``spinecare/knowledge``.

Loaders refuse unknown keys, closed vocabularies are Literals, and every expression is parsed at
load time against the finding names, so a typo fails when the knowledge is loaded, naming the
file and the item, never in the middle of an assessment.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from spinecare import criteria
from spinecare.errors import KnowledgeError
from spinecare.instruments.registry import load_instruments
from spinecare.kb import (
    STRICT,
    Citation,
    KnowledgeFileError,
    Problems,
    knowledge_dir,
    load_citation_folder,
    read_toml,
    top_level_problems,
)

# The code lists live in spinecare.vocabulary; these re-exports keep the engine's imports.
from spinecare.vocabulary import CONDITION_CODES as CONDITION_CODES
from spinecare.vocabulary import EXPERT_JUDGEMENT, TriageLevel
from spinecare.vocabulary import LEVEL_RANK as LEVEL_RANK
from spinecare.vocabulary import RED_FLAG_CODES as RED_FLAG_CODES
from spinecare.vocabulary import Basis as Basis
from spinecare.vocabulary import ConditionCode as ConditionCode
from spinecare.vocabulary import LbpSource as LbpSource
from spinecare.vocabulary import Likelihood as Likelihood
from spinecare.vocabulary import RedFlagCode as RedFlagCode

EXPERT = EXPERT_JUDGEMENT

# A condition is defined by the knowledge: the engine, the reference and the report take any
# condition conditions.toml defines. The packaged knowledge's conditions are held equal to
# vocabulary.CONDITION_CODES and the schema enums by tests/test_vocabulary.py.
ConditionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Level = TriageLevel


class _Strict(BaseModel):
    model_config = STRICT


class Cited(_Strict):
    citations: Annotated[list[str], Field(min_length=1)]
    basis: Basis


class Finding(_Strict):
    label: str
    when: str
    absent: str | None = None
    ask: str | None = None


class RedFlagRule(Cited):
    id: str
    flag: RedFlagCode
    when: str
    triage: Level
    reason: str


class TriageRule(Cited):
    id: str
    level: Level
    when: str
    reason: str


class TriageDefault(Cited):
    level: Level
    reason: str


class Evidence(Cited):
    id: str
    finding: str
    lr_present: Annotated[float, Field(gt=0)] | None = None
    lr_absent: Annotated[float, Field(gt=0)] | None = None
    group: str | None = None
    given: str | None = None
    """A finding that must hold for the ratio to apply: the population the study measured."""

    @model_validator(mode="after")
    def _has_a_ratio(self) -> Evidence:
        if self.lr_present is None and self.lr_absent is None:
            raise ValueError(f"{self.id}: needs lr_present or lr_absent")
        return self


class Floor(Cited):
    id: str
    when: str
    probability: Annotated[float, Field(gt=0, lt=1)]


class Cap(Cited):
    id: str
    when: str
    likelihood: Literal["low", "moderate"]
    # What the assessment lists against the condition while the cap holds.
    reason: str = "a red flag must be excluded first"


class Exclusion(Cited):
    requires: str
    base: Annotated[float, Field(gt=0, lt=1)]
    if_unknown: Annotated[float, Field(ge=0, le=1)]
    if_absent: Annotated[float, Field(ge=0, le=1)]
    excluded_by: list[ConditionId]


class Condition(Cited):
    label: str
    priority: int
    prior: Annotated[float, Field(ge=0, lt=1)]
    evidence: list[Evidence] = []
    floor: list[Floor] = []
    cap: list[Cap] = []
    exclusion: Exclusion | None = None


class Bands(Cited):
    high: float
    moderate: float


class LbpRule(Cited):
    id: str
    source: LbpSource
    when: str
    reason: str


class Consideration(Cited):
    """A diagnosis the differential does not estimate but the case should make one think of
    (a mimic outside the spine, or a non-degenerative cause), with what to do about it."""

    id: str
    label: str
    when: str
    reason: str


class PredictionRule(Cited):
    name: str
    items: Annotated[list[str], Field(min_length=1)]
    rule_in_at_least: int
    rule_out_at_most: int
    rule_in: str
    rule_out: str


class PointsItem(_Strict):
    finding: str
    points: int


class PointsRule(Cited):
    """A prediction rule that adds points per positive item, positive at a threshold."""

    name: str
    items: Annotated[list[PointsItem], Field(min_length=1)]
    positive_at_least: int
    positive: str
    negative: str
    weights_verified: bool


class Knowledge(_Strict):
    """All assessment knowledge, validated and cross-checked."""

    version: str
    citations: dict[str, Citation]
    findings: dict[str, Finding]
    red_flag_rules: list[RedFlagRule]
    triage_rules: list[TriageRule]
    triage_default: TriageDefault
    conditions: dict[ConditionId, Condition]
    bands: Bands
    lbp_rules: list[LbpRule]
    considerations: list[Consideration]
    prediction_rules: dict[str, PredictionRule]
    points_rules: dict[str, PointsRule]


#: Each file of the assessment knowledge: its top-level keys, and those it must have.
FILES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "knowledge.toml": (frozenset({"version", "name"}), frozenset({"version"})),
    "findings.toml": (frozenset({"finding"}), frozenset({"finding"})),
    "red_flags.toml": (frozenset({"rule"}), frozenset({"rule"})),
    "triage.toml": (frozenset({"rule", "default"}), frozenset({"rule", "default"})),
    "conditions.toml": (frozenset({"condition", "bands"}), frozenset({"condition", "bands"})),
    "lbp_source.toml": (frozenset({"rule"}), frozenset({"rule"})),
    "considerations.toml": (frozenset({"rule"}), frozenset({"rule"})),
    "prediction_rules.toml": (frozenset({"points"}), frozenset({"points"})),
}

_M = TypeVar("_M", bound=_Strict)


def _table(problems: Problems, model: type[_M], file: str, doc: dict[str, Any],
           key: str) -> dict[str, _M]:
    """The ``[key.<name>]`` tables of ``doc`` as models, keyed by name."""
    raw = doc.get(key, {})
    if not isinstance(raw, dict):
        problems.add(file, key, f"must be a table of [{key}.<name>] tables")
        return {}
    out: dict[str, _M] = {}
    for name, data in raw.items():
        item = problems.validate(model, data, file, name, sep=": ")
        if item is not None:
            out[name] = item
    return out


def _one(problems: Problems, model: type[_M], file: str, doc: dict[str, Any],
         key: str) -> _M | None:
    """The table ``key`` of ``doc`` as a model (None if missing: that is reported already)."""
    if key not in doc:
        return None
    return problems.validate(model, doc[key], file, key, sep=": ")


def _rules(problems: Problems, model: type[_M], file: str, doc: dict[str, Any]) -> list[_M]:
    """The ``[[rule]]`` array of ``doc`` as models; each rule is named by its id in problems."""
    raw = doc.get("rule", [])
    if not isinstance(raw, list):
        problems.add(file, "rule", "must be an array of [[rule]] tables")
        return []
    out: list[_M] = []
    for i, data in enumerate(raw):
        rid = data.get("id") if isinstance(data, dict) else None
        label = rid if isinstance(rid, str) else f"rule[{i}]"
        item = problems.validate(model, data, file, label, sep=": ")
        if item is not None:
            out.append(item)
    return out


def load_citations(folder: Traversable) -> dict[str, Citation]:
    """The sources in ``folder`` (a citations folder), every problem in them reported at once."""
    return dict(load_citation_folder(folder, "citations/"))


def load_knowledge(folder: Traversable | None = None) -> Knowledge:
    """Load and cross-check the knowledge in ``folder`` (the packaged knowledge by default).

    Every problem in every file is collected and raised together as a
    :class:`~spinecare.kb.KnowledgeFileError`, each naming its file and item.
    """
    folder = folder or knowledge_dir()
    problems = Problems()
    docs = {name: read_toml(folder.joinpath(name), name, problems) for name in FILES}
    for name, (allowed, required) in FILES.items():
        if docs[name]:
            problems.add_all(name, top_level_problems(docs[name], allowed, required))
    try:
        citations = load_citations(folder.joinpath("citations"))
    except KnowledgeFileError as exc:
        problems.add_error("citations", exc)
        citations = {}
    manifest, cond = docs["knowledge.toml"], docs["conditions.toml"]
    coded = cond.get("condition", {})
    parts: dict[str, Any] = {
        "version": manifest.get("version"),
        "citations": citations,
        "findings": _table(problems, Finding, "findings.toml", docs["findings.toml"], "finding"),
        "red_flag_rules": _rules(problems, RedFlagRule, "red_flags.toml", docs["red_flags.toml"]),
        "triage_rules": _rules(problems, TriageRule, "triage.toml", docs["triage.toml"]),
        "triage_default": _one(problems, TriageDefault, "triage.toml", docs["triage.toml"],
                               "default"),
        "conditions": _table(problems, Condition, "conditions.toml", {"condition": coded},
                             "condition"),
        "bands": _one(problems, Bands, "conditions.toml", cond, "bands"),
        "lbp_rules": _rules(problems, LbpRule, "lbp_source.toml", docs["lbp_source.toml"]),
        "considerations": _rules(problems, Consideration, "considerations.toml",
                                 docs["considerations.toml"]),
        "prediction_rules": _clusters(problems, folder.joinpath("instruments")),
        "points_rules": _table(problems, PointsRule, "prediction_rules.toml",
                               docs["prediction_rules.toml"], "points"),
    }
    if not isinstance(parts["version"], str) and "version" in manifest:
        problems.add("knowledge.toml", "version", "must be a string")
    problems.raise_if_any()
    knowledge = Knowledge(**parts)
    check(knowledge)
    return knowledge


def _clusters(problems: Problems, folder: Traversable) -> dict[str, PredictionRule]:
    """The counting prediction rules (the Cook clusters), defined once as instruments in
    ``knowledge/instruments``: the engine counts the findings their items name, a clinician
    answers the items themselves (Cook 2010, Cook 2011)."""
    try:
        instruments = load_instruments(folder)
    except KnowledgeFileError as exc:
        problems.add_error("instruments", exc)
        return {}
    out = {}
    for name, inst in instruments.items():
        s = inst.scoring
        if s.kind != "count_positive":
            continue
        where = f"instruments/{name}.toml"
        items = [i.finding for i in inst.item]
        if None in items:
            problems.add(where, "item", "every item of a count_positive rule names the finding "
                         "the engine counts")
            continue
        rule = problems.validate(PredictionRule, {
            "name": inst.name, "items": items, "rule_in_at_least": s.rule_in_at_least,
            "rule_out_at_most": s.rule_out_at_most, "rule_in": s.rule_in,
            "rule_out": s.rule_out, "citations": list(inst.citations), "basis": s.basis},
            where, "scoring", sep=": ")
        if rule is not None:
            out[name] = rule
    return out


def cited_items(k: Knowledge) -> list[tuple[str, Cited]]:
    """Every cited item, with a name saying where it lives."""
    items: list[tuple[str, Cited]] = [("triage.toml: default", k.triage_default),
                                      ("conditions.toml: bands", k.bands)]
    items += [(f"red_flags.toml: {r.id}", r) for r in k.red_flag_rules]
    items += [(f"triage.toml: {r.id}", r) for r in k.triage_rules]
    items += [(f"lbp_source.toml: {r.id}", r) for r in k.lbp_rules]
    items += [(f"considerations.toml: {r.id}", r) for r in k.considerations]
    items += [(f"prediction_rules.toml: {n}", r) for n, r in k.prediction_rules.items()]
    items += [(f"prediction_rules.toml: {n}", r) for n, r in k.points_rules.items()]
    for code, c in k.conditions.items():
        items.append((f"conditions.toml: {code}", c))
        items += [(f"conditions.toml: {e.id}", e) for e in c.evidence]
        items += [(f"conditions.toml: {f.id}", f) for f in c.floor]
        items += [(f"conditions.toml: {x.id}", x) for x in c.cap]
        if c.exclusion:
            items.append((f"conditions.toml: {code}.exclusion", c.exclusion))
    return items


def bounds_of(c: Condition) -> list[Floor | Cap]:
    return [*c.floor, *c.cap]


def check(k: Knowledge) -> None:
    """Cross-checks between the files: ids resolve, bases match their sources, expressions parse.

    Every problem is collected; one :class:`~spinecare.kb.KnowledgeFileError` lists them all.
    """
    problems = Problems()
    names = frozenset(k.findings)

    def parse(text: str, file: str, item: str) -> None:
        try:
            node = criteria.parse(text, item, names)
        except KnowledgeError as exc:
            problems.add_error(file, exc)
            return
        for ref in criteria.refs(node):
            if ref.kind in ("likely", "high") and ref.name not in k.conditions:
                problems.add(file, item, f"{ref.kind}.{ref.name}: no such condition")
            if ref.kind == "flag" and ref.name not in RED_FLAG_CODES:
                problems.add(file, item, f"flag.{ref.name}: no such red flag")

    for where, cited in cited_items(k):
        file, _, item = where.partition(": ")
        unknown = [c for c in cited.citations if c != EXPERT and c not in k.citations]
        for cid in unknown:
            problems.add(file, item, f"cites unknown source {cid!r}")
        if unknown:
            continue
        tags = {k.citations[c].verification for c in cited.citations if c != EXPERT}
        expected = (EXPERT if EXPERT in cited.citations else "unverified" if "U" in tags
                    else "published")
        # An item may be marked less certain than its sources (a checked paper whose specific
        # value was not checked), never more.
        downgraded = expected == "published" and cited.basis == "unverified"
        if cited.basis != expected and not downgraded:
            problems.add(file, item, f"basis is {cited.basis!r} but its sources make it "
                                     f"{expected!r}")
    for name, f in k.findings.items():
        parse(f.when, "findings.toml", name)
    for r in k.red_flag_rules:
        parse(r.when, "red_flags.toml", r.id)
    for t in k.triage_rules:
        parse(t.when, "triage.toml", t.id)
    for l_ in k.lbp_rules:
        parse(l_.when, "lbp_source.toml", l_.id)
    for x in k.considerations:
        parse(x.when, "considerations.toml", x.id)
    used_by_rules = [(n, p.items) for n, p in k.prediction_rules.items()]
    used_by_rules += [(n, [i.finding for i in p.items]) for n, p in k.points_rules.items()]
    for pname, items in used_by_rules:
        for item_name in items:
            if item_name not in names:
                problems.add("prediction_rules.toml", pname, f"unknown finding {item_name!r}")
    priorities = [c.priority for c in k.conditions.values()]
    if len(set(priorities)) != len(priorities):
        problems.add("conditions.toml", "", "every condition needs its own priority")
    for code, c in k.conditions.items():
        for e in c.evidence:
            for used in (e.finding, e.given):
                if used is not None and used not in names:
                    problems.add("conditions.toml", e.id, f"unknown finding {used!r}")
        for bound in bounds_of(c):
            parse(bound.when, "conditions.toml", bound.id)
        if c.exclusion and c.exclusion.requires not in names:
            problems.add("conditions.toml", code,
                         f"unknown finding {c.exclusion.requires!r}")
        for other in c.exclusion.excluded_by if c.exclusion else ():
            if other not in k.conditions:
                problems.add("conditions.toml", f"{code}.exclusion",
                             f"excluded_by: no such condition {other!r}")
    ids = [("red_flags.toml", r.id) for r in k.red_flag_rules]
    ids += [("triage.toml", t.id) for t in k.triage_rules]
    ids += [("lbp_source.toml", r.id) for r in k.lbp_rules]
    ids += [("considerations.toml", r.id) for r in k.considerations]
    for c in k.conditions.values():
        ids += [("conditions.toml", e.id) for e in c.evidence]
        ids += [("conditions.toml", x.id) for x in bounds_of(c)]
    first: dict[str, str] = {}
    for file, rid in ids:
        if rid in first:
            problems.add(file, rid, f"duplicate rule id (first used in {first[rid]})")
        else:
            first[rid] = file
    problems.raise_if_any()


@lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The packaged knowledge, loaded once."""
    return load_knowledge()
