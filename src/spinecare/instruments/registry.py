"""The instrument registry: one versioned TOML file per instrument in ``knowledge/instruments``.

Each file holds everything the data can say about its instrument: the items and their answer
options with values, the scoring rule and its missing-item rule, the bands, the minimal
clinically important difference, the sources (ids into ``knowledge/citations``), verification
tags for every value that was not checked against its source, and a licence note saying what
wording may be shipped. Code interprets the data (:mod:`spinecare.instruments.scoring`); the only
instrument-specific code is the small scoring function of each scoring ``kind``.

Loading is strict: unknown keys are errors, vocabularies are closed, and the cross-checks in
:func:`check_instrument` reject a file whose items contradict its own scoring rule, naming the
file and the item. One load reports every problem of every file.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from spinecare import criteria
from spinecare.errors import KnowledgeError
from spinecare.kb import (
    STRICT,
    KnowledgeFileError,
    KnowledgeProblem,
    Problems,
    knowledge_dir,
    read_toml,
    toml_files,
)
from spinecare.vocabulary import Basis, PublicationStatus, Verification

LinkId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

#: Files in ``knowledge/instruments`` that are questionnaires but not scored instruments.
NOT_INSTRUMENTS = frozenset({"intake.toml"})


class _Strict(BaseModel):
    model_config = STRICT


class Band(_Strict):
    upto: float
    code: str
    label: str


class Coding(_Strict):
    """A code from a standard terminology (LOINC), with how far it was checked."""

    system: str
    code: str
    display: str
    verification: Verification
    note: str | None = None


class Option(_Strict):
    """One answer option: the value the scoring uses, a stable code, and what is shown."""

    value: int | str
    code: Annotated[str, Field(min_length=1)]
    display: Annotated[str, Field(min_length=1)]


class Scale(_Strict):
    """How an item is answered: one of a list of options, an integer in a range, or yes/no."""

    type: Literal["choice", "integer", "boolean"]
    options: list[Option] = []
    min: int | None = None
    max: int | None = None
    verification: Verification | None = None
    """How far the option anchors were checked against the source, when they are its content."""

    @model_validator(mode="after")
    def _complete(self) -> Scale:
        if self.type == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice scale needs at least two options")
            values = [o.value for o in self.options]
            codes = [o.code for o in self.options]
            if len(set(values)) != len(values) or len(set(codes)) != len(codes):
                raise ValueError("option values and codes must be unique")
        elif self.options:
            raise ValueError(f"a {self.type} scale has no options")
        if self.type == "integer" and (self.min is None or self.max is None
                                       or self.min >= self.max):
            raise ValueError("an integer scale needs min < max")
        if self.type != "integer" and (self.min is not None or self.max is not None):
            raise ValueError("only an integer scale has min and max")
        return self

    def values(self) -> list[int | str | bool]:
        """Every value an answer may take."""
        if self.type == "choice":
            return [o.value for o in self.options]
        if self.type == "integer":
            assert self.min is not None and self.max is not None
            return list(range(self.min, self.max + 1))
        return [False, True]


class Item(_Strict):
    link_id: LinkId
    text: Annotated[str, Field(min_length=1)]
    scale: str
    group: str | None = None
    """The subscale, domain or rating the item belongs to (``None``: the whole instrument)."""
    code: Coding | None = None
    from_case: str | None = None
    """For a rule over case facts: the criterion, in the knowledge expression language."""
    finding: str | None = None
    """The engine finding (``findings.toml``) this item stands for, where there is one."""
    may_skip: bool = False
    """The instrument's own instructions let a patient leave this item unanswered (a pain site
    with no symptoms, a section that does not apply); every other shown item is required of a
    patient answering at home. The missing-item rule still decides whether a score exists."""


class Gate(_Strict):
    """An unscored yes/no question that decides whether a group is asked (ZCQ satisfaction)."""

    text: str


class Group(_Strict):
    title: str
    enabled_by: LinkId | None = None
    """A gate whose "yes" enables the group."""


class Subscale(_Strict):
    items: int
    item_min: int
    item_max: int
    min_answered: int
    min_answered_basis: Basis = "published"
    band: list[Band] = []
    band_citations: list[str] = []
    band_basis: Basis | None = None

    @property
    def band_cite(self) -> list[str]:
        """``band_citations`` under its old name, for code not yet moved to it."""
        return self.band_citations


class Scoring(_Strict):
    kind: Literal["percent_of_answered", "sum_of_domains", "subscale_means", "ratings",
                  "count_positive", "count_criteria"]
    basis: Basis = "published"
    """How well the scoring rule itself is supported."""
    items: int | None = None
    item_min: int | None = None
    item_max: int | None = None
    decimals: int = 1
    max_missing: int | None = None
    max_missing_basis: Basis | None = None
    band_on: Literal["value", "raw_equivalent"] = "value"
    raw_equivalent_divisor: float | None = None
    domains: dict[str, int] | None = None
    subscales: dict[str, Subscale] | None = None
    ratings: list[str] | None = None
    # count_positive (Cook clusters)
    rule_in_at_least: int | None = None
    rule_out_at_most: int | None = None
    rule_in: str | None = None
    rule_out: str | None = None
    # count_criteria (Konno SSHQ): positive when any criterion's group counts are all reached
    criteria: list[dict[str, int]] | None = None
    positive: str | None = None
    negative: str | None = None
    caution: str | None = None
    """Shown with every result: what a reader must know about an unverified rule."""


class MeasureChange(_Strict):
    mcid_absolute: float | None = None
    mcid_percent: float | None = None
    citations: list[str] = []
    basis: Basis = "published"

    @property
    def cite(self) -> list[str]:
        """``citations`` under its old name, for code not yet moved to it."""
        return self.citations


class Change(_Strict):
    tracked: bool = True
    """False for a diagnostic rule: change over time is not meaningful."""
    higher_is_worse: bool | None = None
    mcid_absolute: float | None = None
    mcid_percent: float | None = None
    citations: list[str] = []
    basis: Basis = "published"
    improved_by: Literal["percent", "absolute", "either"] = "absolute"
    """Which threshold decides "improved": the percent rule falls back to the absolute one when
    the baseline is zero (a relative change is then undefined)."""
    worse_by: Literal["absolute", "percent"] = "absolute"
    subscales: dict[str, MeasureChange] = {}

    @model_validator(mode="after")
    def _direction(self) -> Change:
        if self.tracked and self.higher_is_worse is None:
            raise ValueError("a tracked instrument must say whether higher is worse")
        return self

    @property
    def cite(self) -> list[str]:
        """``citations`` under its old name, for code not yet moved to it."""
        return self.citations


class Instrument(_Strict):
    id: str
    name: str
    short_name: str
    report_name: str | None = None
    """What the assessment report calls the score, where that is not the short name."""
    version: str
    status: PublicationStatus = "active"
    administered_by: Literal["patient", "clinician"]
    citations: Annotated[list[str], Field(min_length=1)]
    licence: str
    wording: Literal["withheld", "paraphrased"]
    """What the shipped text is: ``withheld`` (licensed or unchecked wording: titles and neutral
    anchors only) or ``paraphrased`` (our own short paraphrase of published content)."""
    patient_wording: Literal["shipped", "clinic_text"]
    """Whose words a patient answering at home reads: ``shipped`` (the wording in this file may
    be shown to patients: public domain or our own text) or ``clinic_text`` (the instrument is
    offered to patients only once the clinic has loaded its own licensed wording with
    ``spinecare instruments load-text``; until then it is entered by a clinician)."""
    instructions: str
    code: Coding | None = None
    """The LOINC panel code, where one exists."""
    score_code: Coding | None = None
    """The LOINC code of the total score, where one exists."""
    band_citations: list[str] = []
    band_basis: Basis | None = None
    scoring: Scoring
    band: list[Band] = []
    change: Change
    scale: dict[str, Scale]
    gate: dict[LinkId, Gate] = {}
    group: dict[str, Group] = {}
    item: Annotated[list[Item], Field(min_length=1)]

    @property
    def cite(self) -> list[str]:
        """``citations`` under its old name, for code not yet moved to it."""
        return self.citations

    @property
    def band_cite(self) -> list[str]:
        """``band_citations`` under its old name, for code not yet moved to it."""
        return self.band_citations

    @model_validator(mode="after")
    def _withheld_wording_is_never_shipped(self) -> Instrument:
        if self.wording == "withheld" and self.patient_wording != "clinic_text":
            raise ValueError("withheld wording cannot be shipped to patients: "
                             "patient_wording must be 'clinic_text'")
        return self

    def band_for(self, value: float) -> Band | None:
        """The first band whose inclusive upper bound holds ``value``."""
        for b in self.band:
            if value <= b.upto:
                return b
        return None

    def items_in(self, group: str | None) -> list[Item]:
        """The items of one group (``None``: the items outside any group), in order."""
        return [i for i in self.item if i.group == group]

    def groups(self) -> list[str]:
        """The item groups in order of first appearance."""
        return list(dict.fromkeys(i.group for i in self.item if i.group is not None))

    def scale_of(self, item: Item) -> Scale:
        return self.scale[item.scale]

    def unverified(self) -> list[str]:
        """Every value in this instrument's data that was not checked against its source."""
        out = []
        if self.scoring.basis != "published":
            out.append(f"scoring rule ({self.scoring.basis.replace('_', ' ')})")
        if self.scoring.max_missing_basis not in (None, "published"):
            out.append(f"missing-item limit ({self.scoring.max_missing_basis.replace('_', ' ')})")
        for name, sub in (self.scoring.subscales or {}).items():
            if sub.min_answered_basis != "published":
                out.append(f"{name}: minimum answered items "
                           f"({sub.min_answered_basis.replace('_', ' ')})")
            if sub.band_basis not in (None, "published"):
                out.append(f"{name}: bands ({sub.band_basis.replace('_', ' ')})")
        if self.band_basis not in (None, "published"):
            out.append(f"bands ({self.band_basis.replace('_', ' ')})")
        if self.change.tracked and self.change.basis != "published":
            out.append(f"MCID ({self.change.basis.replace('_', ' ')})")
        for name, mc in self.change.subscales.items():
            if mc.basis != "published":
                out.append(f"{name}: MCID ({mc.basis.replace('_', ' ')})")
        for what, coding in (("code", self.code), ("score code", self.score_code)):
            if coding is not None and coding.verification == "U":
                out.append(f"LOINC {what} {coding.code}")
        for item in self.item:
            if item.code is not None and item.code.verification == "U":
                out.append(f"LOINC item code {item.code.code} ({item.link_id})")
        for name, scale in self.scale.items():
            if scale.verification == "U":
                out.append(f"answer anchors of scale {name}")
        return out


# --- cross-checks ----------------------------------------------------------------------------


class _Bad(Exception):
    """A check that failed; the checks after it in the same group depend on it and are skipped."""


def instrument_problems(inst: Instrument) -> list[str]:
    """Every way an instrument's items, scales, groups and scoring rule disagree."""
    found: list[str] = []
    ids = [i.link_id for i in inst.item] + list(inst.gate)
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        found.append(f"link ids must be unique; repeated: {dupes}")
    for item in inst.item:
        if item.scale not in inst.scale:
            found.append(f"item {item.link_id}: unknown scale {item.scale!r}")
        if item.group is not None and item.group not in inst.group:
            found.append(f"item {item.link_id}: group {item.group!r} has no [group] entry")
    for name, group in inst.group.items():
        if not inst.items_in(name):
            found.append(f"group {name} has no items")
        if group.enabled_by is not None and group.enabled_by not in inst.gate:
            found.append(f"group {name}: enabled_by {group.enabled_by!r} is not a gate")
    used = {i.scale for i in inst.item}
    if set(inst.scale) - used:
        found.append(f"unused scales {sorted(set(inst.scale) - used)}")
    uptos = [b.upto for b in inst.band]
    if uptos != sorted(uptos):
        found.append("bands must be in increasing order")
    # The scoring checks read each item's scale: with a scale missing they cannot run.
    checks = [_check_change]
    if all(item.scale in inst.scale for item in inst.item):
        checks.insert(0, _check_scoring)
    for check in checks:
        try:
            check(inst)
        except _Bad as exc:
            found.append(str(exc))
    for item in inst.item:
        if item.from_case is not None:
            # Only case facts: an item of a rule must not depend on the engine's findings.
            try:
                criteria.parse(item.from_case, f"item {item.link_id}", frozenset())
            except KnowledgeError as exc:
                found.append(str(exc))
    if inst.scoring.kind == "count_positive" and any(i.from_case is None for i in inst.item):
        found.append("every item of a count_positive rule needs from_case")
    return found


def check_instrument(inst: Instrument, where: str) -> None:
    """Check that an instrument's items, scales, groups and scoring rule agree with each other,
    raising one error that lists every disagreement, each after ``where`` (its file)."""
    found = instrument_problems(inst)
    if found:
        raise KnowledgeFileError([KnowledgeProblem(where, "", message) for message in found])


def _numeric_range(inst: Instrument, items: list[Item]) -> tuple[int, int]:
    lows, highs = set(), set()
    for item in items:
        values = inst.scale_of(item).values()
        if not all(type(v) is int for v in values):
            raise _Bad(f"item {item.link_id}: a scored item needs integer values")
        ints = [int(v) for v in values]
        lows.add(min(ints))
        highs.add(max(ints))
    return min(lows), max(highs)


def _check_scoring(inst: Instrument) -> None:
    s = inst.scoring
    groups = inst.groups()
    if s.kind == "percent_of_answered":
        if groups or s.items != len(inst.item) or s.max_missing is None:
            raise _Bad("percent_of_answered needs ungrouped items, items = their count "
                               "and max_missing")
        if _numeric_range(inst, inst.item) != (s.item_min, s.item_max):
            raise _Bad("item answer values must run from item_min to item_max")
    elif s.kind == "sum_of_domains":
        if s.domains is None or groups != list(s.domains):
            raise _Bad("sum_of_domains needs one item group per domain, in order")
        for name, top in s.domains.items():
            members = inst.items_in(name)
            if len(members) != 1 or _numeric_range(inst, members) != (0, top):
                raise _Bad(f"domain {name}: one item scored 0 to {top}")
    elif s.kind == "subscale_means":
        if s.subscales is None or groups != list(s.subscales):
            raise _Bad("subscale_means needs one item group per subscale, in order")
        for name, sub in s.subscales.items():
            members = inst.items_in(name)
            if len(members) != sub.items or not 0 < sub.min_answered <= sub.items:
                raise _Bad(f"subscale {name}: {sub.items} items and a valid "
                                   "min_answered")
            low, high = _numeric_range(inst, members)
            if low < sub.item_min or high > sub.item_max or (low, high) != (sub.item_min,
                                                                               sub.item_max):
                raise _Bad(f"subscale {name}: item values must span "
                                   f"{sub.item_min}-{sub.item_max}")
    elif s.kind == "ratings":
        if s.ratings is None or groups != s.ratings:
            raise _Bad("ratings needs one item group per rating, in order")
        for name in s.ratings:
            members = inst.items_in(name)
            span = _numeric_range(inst, members)
            if len(members) != 1 or span != (s.item_min, s.item_max):
                raise _Bad(f"rating {name}: one item from item_min to item_max")
    elif s.kind == "count_positive":
        n = len(inst.item)
        if groups or any(inst.scale_of(i).type != "boolean" for i in inst.item):
            raise _Bad("count_positive needs ungrouped yes/no items")
        if (s.rule_in_at_least is None or s.rule_out_at_most is None or not s.rule_in
                or not s.rule_out
                or not 0 <= s.rule_out_at_most < s.rule_in_at_least <= n):
            raise _Bad("count_positive needs 0 <= rule_out_at_most < rule_in_at_least "
                               "<= items, with both meanings")
    elif s.kind == "count_criteria":
        if any(inst.scale_of(i).type != "boolean" for i in inst.item) or not s.criteria:
            raise _Bad("count_criteria needs yes/no items and criteria")
        if not s.positive or not s.negative:
            raise _Bad("count_criteria needs the meaning of positive and negative")
        for criterion in s.criteria:
            for group, least in criterion.items():
                if group not in groups or not 0 < least <= len(inst.items_in(group)):
                    raise _Bad(f"criterion {criterion}: {group} must be a group with "
                                       f"at least {least} items")


def _check_change(inst: Instrument) -> None:
    c = inst.change
    if not c.tracked:
        if c.mcid_absolute is not None or c.mcid_percent is not None or c.subscales:
            raise _Bad("an untracked instrument has no MCID")
        return
    if c.improved_by in ("percent", "either") and c.mcid_percent is None:
        raise _Bad(f"improved_by = {c.improved_by!r} needs mcid_percent")
    if c.worse_by == "percent" and c.mcid_percent is None:
        raise _Bad("worse_by = 'percent' needs mcid_percent")
    if c.subscales and set(c.subscales) - set(inst.scoring.subscales or {}):
        raise _Bad("change.subscales must name scoring subscales")


# --- loading --------------------------------------------------------------------------------


def load_instruments(folder: Traversable | None = None) -> dict[str, Instrument]:
    """Load and cross-check every instrument file in ``folder`` (the packaged one by default).

    Every problem of every file is collected and raised together, each naming its file.
    """
    folder = folder or knowledge_dir().joinpath("instruments")
    problems = Problems()
    out: dict[str, Instrument] = {}
    for entry in toml_files(folder, NOT_INSTRUMENTS):
        where = f"instruments/{entry.name}"
        data = read_toml(entry, where, problems)
        if not data:
            continue
        inst = problems.validate(Instrument, data, where)
        if inst is None:
            continue
        if inst.id in out or f"{inst.id}.toml" != entry.name:
            problems.add(where, "id", f"{inst.id!r} must be unique and match the file")
            continue
        try:
            check_instrument(inst, where)
        except KnowledgeFileError as exc:
            problems.add_error(where, exc)
            continue
        out[inst.id] = inst
    problems.raise_if_any()
    return out


@lru_cache(maxsize=1)
def instruments() -> dict[str, Instrument]:
    """Every registered instrument by id, loaded once."""
    return load_instruments()


def instrument(instrument_id: str) -> Instrument:
    """One instrument by id; an unknown id is a :class:`KnowledgeError` listing the known ids."""
    registry = instruments()
    try:
        return registry[instrument_id]
    except KeyError:
        raise KnowledgeError(f"unknown instrument {instrument_id!r}; known: "
                             f"{', '.join(sorted(registry))}") from None
