"""Loading the assessment knowledge: strict models over the TOML files in ``spinecare/knowledge``.

Loaders refuse unknown keys, closed vocabularies are Literals, and every expression is parsed at
load time against the finding names, so a typo fails when the knowledge is loaded, naming the
file and the item, never in the middle of an assessment.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spinecare.errors import KnowledgeError
from spinecare.reasoning import expr

# The code lists live in spinecare.vocabulary; these re-exports keep the engine's imports.
from spinecare.vocabulary import CONDITION_CODES as CONDITION_CODES
from spinecare.vocabulary import EXPERT_JUDGEMENT, Verification
from spinecare.vocabulary import LEVEL_RANK as LEVEL_RANK
from spinecare.vocabulary import RED_FLAG_CODES as RED_FLAG_CODES
from spinecare.vocabulary import Basis as Basis
from spinecare.vocabulary import ConditionCode as ConditionCode
from spinecare.vocabulary import LbpSource as LbpSource
from spinecare.vocabulary import Likelihood as Likelihood
from spinecare.vocabulary import RedFlagCode as RedFlagCode
from spinecare.vocabulary import TriageLevel as Level

EXPERT = EXPERT_JUDGEMENT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Citation(_Strict):
    authors: str
    year: int | None = None
    title: str | None = None
    journal: str
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    verification: Verification
    note: str | None = None

    def short(self) -> str:
        """``Suri P et al. 2010, JAMA 304(23):2628-36``."""
        first = self.authors.split(",")[0].strip()
        many = "," in self.authors
        who = f"{first} et al." if many and "et al" not in first else first
        where = self.journal
        if self.volume:
            where += f" {self.volume}"
            if self.issue:
                where += f"({self.issue})"
            if self.pages:
                where += f":{self.pages}"
        elif self.pages:
            where += f" {self.pages}"
        year = f" {self.year}" if self.year else ""
        return f"{who}{year}, {where}"


class Cited(_Strict):
    cite: Annotated[list[str], Field(min_length=1)]
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


class Exclusion(Cited):
    requires: str
    base: Annotated[float, Field(gt=0, lt=1)]
    if_unknown: Annotated[float, Field(ge=0, le=1)]
    if_absent: Annotated[float, Field(ge=0, le=1)]
    excluded_by: list[ConditionCode]


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
    conditions: dict[ConditionCode, Condition]
    bands: Bands
    lbp_rules: list[LbpRule]
    prediction_rules: dict[str, PredictionRule]
    points_rules: dict[str, PointsRule]


def _read(folder: Traversable, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(folder.joinpath(name).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{name}: not valid TOML: {exc}") from None


def _model(cls: type[_Strict], data: Any, where: str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise KnowledgeError(f"{where}: {loc}: {first['msg']}") from None


def load_citations(folder: Traversable) -> dict[str, Citation]:
    out: dict[str, Citation] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for cid, data in _read(folder, entry.name).items():
            if cid in out or cid == EXPERT:
                raise KnowledgeError(f"citations/{entry.name}: duplicate or reserved id {cid!r}")
            out[cid] = _model(Citation, data, f"citations/{entry.name}: {cid}")
    return out


def load_knowledge(folder: Traversable | None = None) -> Knowledge:
    """Load and cross-check the knowledge in ``folder`` (the packaged knowledge by default)."""
    folder = folder or files("spinecare.knowledge")
    manifest = _read(folder, "knowledge.toml")
    findings_raw = _read(folder, "findings.toml")
    red = _read(folder, "red_flags.toml")
    tri = _read(folder, "triage.toml")
    cond = _read(folder, "conditions.toml")
    lbp = _read(folder, "lbp_source.toml")
    pred = _read(folder, "prediction_rules.toml")
    for name, doc, keys in (
        ("findings.toml", findings_raw, {"finding"}), ("red_flags.toml", red, {"rule"}),
        ("triage.toml", tri, {"rule", "default"}),
        ("conditions.toml", cond, {"condition", "bands"}),
        ("lbp_source.toml", lbp, {"rule"}), ("prediction_rules.toml", pred, {"rule", "points"}),
        ("knowledge.toml", manifest, {"version", "name"}),
    ):
        unknown = set(doc) - keys
        if unknown:
            raise KnowledgeError(f"{name}: unknown top-level key(s) {sorted(unknown)}")
    knowledge = Knowledge(
        version=manifest["version"],
        citations=load_citations(folder.joinpath("citations")),
        findings={k: _model(Finding, v, f"findings.toml: {k}")
                  for k, v in findings_raw["finding"].items()},
        red_flag_rules=[_model(RedFlagRule, r, f"red_flags.toml: {r.get('id')}")
                        for r in red["rule"]],
        triage_rules=[_model(TriageRule, r, f"triage.toml: {r.get('id')}") for r in tri["rule"]],
        triage_default=_model(TriageDefault, tri["default"], "triage.toml: default"),
        conditions={k: _model(Condition, v, f"conditions.toml: {k}")
                    for k, v in cond["condition"].items()},
        bands=_model(Bands, cond["bands"], "conditions.toml: bands"),
        lbp_rules=[_model(LbpRule, r, f"lbp_source.toml: {r.get('id')}") for r in lbp["rule"]],
        prediction_rules={k: _model(PredictionRule, v, f"prediction_rules.toml: {k}")
                          for k, v in pred["rule"].items()},
        points_rules={k: _model(PointsRule, v, f"prediction_rules.toml: {k}")
                      for k, v in pred.get("points", {}).items()},
    )
    check(knowledge)
    return knowledge


def cited_items(k: Knowledge) -> list[tuple[str, Cited]]:
    """Every cited item, with a name saying where it lives."""
    items: list[tuple[str, Cited]] = [("triage.toml: default", k.triage_default),
                                      ("conditions.toml: bands", k.bands)]
    items += [(f"red_flags.toml: {r.id}", r) for r in k.red_flag_rules]
    items += [(f"triage.toml: {r.id}", r) for r in k.triage_rules]
    items += [(f"lbp_source.toml: {r.id}", r) for r in k.lbp_rules]
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


def check(k: Knowledge) -> None:
    """Cross-checks between the files: ids resolve, bases match their sources, expressions parse."""
    names = frozenset(k.findings)
    for where, item in cited_items(k):
        for cid in item.cite:
            if cid != EXPERT and cid not in k.citations:
                raise KnowledgeError(f"{where}: cites unknown source {cid!r}")
        tags = {k.citations[c].verification for c in item.cite if c != EXPERT}
        expected = (EXPERT if EXPERT in item.cite else "unverified" if "U" in tags
                    else "published")
        # An item may be marked less certain than its sources (a checked paper whose specific
        # value was not checked), never more.
        downgraded = expected == "published" and item.basis == "unverified"
        if item.basis != expected and not downgraded:
            raise KnowledgeError(f"{where}: basis is {item.basis!r} but its sources make it "
                                 f"{expected!r}")
    for name, f in k.findings.items():
        expr.parse(f.when, f"findings.toml: {name}", names)
    for r in k.red_flag_rules:
        expr.parse(r.when, f"red_flags.toml: {r.id}", names)
    for t in k.triage_rules:
        expr.parse(t.when, f"triage.toml: {t.id}", names)
    for l_ in k.lbp_rules:
        expr.parse(l_.when, f"lbp_source.toml: {l_.id}", names)
    for pname, p in k.prediction_rules.items():
        for item_name in p.items:
            if item_name not in names:
                raise KnowledgeError(f"prediction_rules.toml: {pname}: unknown finding "
                                     f"{item_name!r}")
    for pname, pts in k.points_rules.items():
        for item_name in (i.finding for i in pts.items):
            if item_name not in names:
                raise KnowledgeError(f"prediction_rules.toml: {pname}: unknown finding "
                                     f"{item_name!r}")
    if set(k.conditions) != set(CONDITION_CODES):
        missing = sorted(set(CONDITION_CODES) - set(k.conditions))
        raise KnowledgeError(f"conditions.toml: every condition code needs an entry; missing "
                             f"{missing}")
    priorities = [c.priority for c in k.conditions.values()]
    if len(set(priorities)) != len(priorities):
        raise KnowledgeError("conditions.toml: every condition needs its own priority")
    for code, c in k.conditions.items():
        for e in c.evidence:
            for used in (e.finding, e.given):
                if used is not None and used not in names:
                    raise KnowledgeError(f"conditions.toml: {e.id}: unknown finding {used!r}")
        bounds: list[Floor | Cap] = [*c.floor, *c.cap]
        for bound in bounds:
            expr.parse(bound.when, f"conditions.toml: {bound.id}", names)
        if c.exclusion and c.exclusion.requires not in names:
            raise KnowledgeError(f"conditions.toml: {code}: unknown finding "
                                 f"{c.exclusion.requires!r}")
    ids = [r.id for r in k.red_flag_rules] + [t.id for t in k.triage_rules]
    ids += [r.id for r in k.lbp_rules]
    for c in k.conditions.values():
        ids += [e.id for e in c.evidence] + [f.id for f in c.floor] + [x.id for x in c.cap]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise KnowledgeError(f"duplicate rule ids: {sorted(dupes)}")


@lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The packaged knowledge, loaded once."""
    return load_knowledge()
