"""A situation that makes a plan rule's criterion true, if one exists: the reachability check.

The criterion is put in disjunctive normal form; for each conjunction the literals are turned into
values for the references and facts they read (``flag.x`` true, ``situation.triage`` one of the
listed levels, ``situation.duration_weeks`` meeting every comparison...), a situation is built from
them, and the criterion is evaluated on it. Only a situation the criterion holds for counts, so a
contradictory rule (``flag.myelopathy and no_red_flags``) is found unreachable.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

import orjson

from spinecare import criteria
from spinecare.case import Case, parse_case
from spinecare.criteria.parser import _SECTIONS, _field_type
from spinecare.instruments.registry import instrument
from spinecare.plan.rules import LEVELS, SITUATION
from spinecare.plan.select import Situation, holds

Literal_ = tuple[criteria.Node, bool]
Leaf = criteria.Ref | criteria.Fact


def dnf(node: criteria.Node, positive: bool = True) -> list[list[Literal_]]:
    """``node`` (or its negation) as a list of conjunctions of literals."""
    if isinstance(node, criteria.Not):
        return dnf(node.arg, not positive)
    if isinstance(node, criteria.And | criteria.Or):
        parts = [dnf(a, positive) for a in node.args]
        if isinstance(node, criteria.And) == positive:  # a conjunction
            return [list(itertools.chain.from_iterable(c)) for c in itertools.product(*parts)]
        return [c for p in parts for c in p]
    if isinstance(node, criteria.Const):
        return [[]] if bool(node.value) == positive else []
    return [[(node, positive)]]


def _domain(leaf: Leaf) -> tuple[Any, ...] | None:
    """The values ``leaf`` may take, or None for a number."""
    if isinstance(leaf, criteria.Fact) and leaf.section == "call":
        return (True, False)
    if isinstance(leaf, criteria.Ref) and leaf.kind == "band":
        return tuple(b.code for b in instrument(leaf.name).band)
    if isinstance(leaf, criteria.Ref) and leaf.kind == "score":
        return None
    if isinstance(leaf, criteria.Fact):
        ftype = _field_type(_SECTIONS[leaf.section], leaf.field)
        assert ftype is not None
        if ftype.literals is not None:
            return tuple(sorted(ftype.literals))
        return (True, False) if ftype.truth else None
    if leaf.kind == "flag_level":
        return LEVELS
    if leaf.kind == "situation":
        return SITUATION[leaf.name]
    return (True, False)


def _choose(leaf: Leaf, constraints: list[tuple[criteria.Node, bool]]) -> tuple[bool, Any]:
    """A value of ``leaf`` meeting every constraint, as ``(found, value)``."""
    domain = _domain(leaf)
    numbers: set[float] = {0.0}
    for node, _ in constraints:
        if isinstance(node, criteria.Cmp) and isinstance(node.right, criteria.Const):
            c = float(node.right.value)
            numbers |= {c, c - 1, c + 1, c / 2, c * 2}
    candidates: list[Any] = [None, *(domain if domain is not None else sorted(numbers))]
    for value in candidates:
        if all(_meets(node, positive, value) for node, positive in constraints):
            return True, value
    return False, None


def _meets(node: criteria.Node, positive: bool, value: Any) -> bool:
    if isinstance(node, criteria.Ref | criteria.Fact):
        return value is not None and bool(value) == positive
    if isinstance(node, criteria.Call) and node.fn.name != "known":
        return value is not None and bool(value) == positive
    if isinstance(node, criteria.Call):  # known(x)
        return (value is not None) == positive
    if value is None:
        return False
    result = criteria.evaluate(_with_const(node, value), _EMPTY, {})
    return bool(result) == positive


def _with_const(node: criteria.Node, value: Any) -> criteria.Node:
    if isinstance(node, criteria.Cmp):
        return criteria.Cmp(node.op, criteria.Const(value), node.right)
    assert isinstance(node, criteria.In)
    return criteria.In(criteria.Const(value), node.values, node.negate)


_EMPTY = parse_case(b'{"schema": "spinecare.case/1", "id": "w", "patient": {"age": 60}}')


def _leaf(node: criteria.Node) -> Leaf | None:
    if isinstance(node, criteria.Ref | criteria.Fact):
        return node
    if isinstance(node, criteria.Cmp | criteria.In):
        operand = node.left if isinstance(node, criteria.Cmp) else node.operand
        return operand if isinstance(operand, criteria.Ref | criteria.Fact) else None
    if isinstance(node, criteria.Call) and node.fn.name == "known":
        arg = node.args[0]
        return arg if isinstance(arg, criteria.Ref | criteria.Fact) else None
    if isinstance(node, criteria.Call) and node.fn.name in ("imaged", "any_prior_treatment"):
        return criteria.Fact("call", node.fn.name + repr(node.args))
    return None


def situation_of(values: Mapping[Leaf, Any]) -> Situation:
    """The situation in which every reference and fact has the given value."""
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": "witness", "patient": {"age": 60}}
    flags: dict[str, str | None] = {}
    likelihood: dict[str, str] = {}
    triage_rules: set[str] = set()
    contraindications: set[str] = set()
    lbp_source: str | None = None
    situation: dict[str, Any] = {"triage": "routine", "mjoa_band": None, "duration_weeks": None}
    bands: dict[str, str | None] = {}
    scores: dict[str, float | None] = {}
    for leaf, value in values.items():
        if isinstance(leaf, criteria.Fact) and leaf.section == "call":
            continue
        if isinstance(leaf, criteria.Fact):
            if value is not None:
                doc.setdefault(leaf.section, {})[leaf.field] = value
            continue
        kind, name = leaf.kind, leaf.name
        if kind == "flag" and value:
            flags.setdefault(name, "urgent")
        elif kind == "flag_level" and value is not None:
            flags[name] = value
        elif kind == "likely":
            likelihood[name] = "moderate" if value else "low"
        elif kind == "unlikely" and not value:
            likelihood.setdefault(name, "moderate")
        elif kind == "triage_rule" and value:
            triage_rules.add(name)
        elif kind == "contraindication" and value:
            contraindications.add(name)
        elif kind == "lbp_source" and value:
            lbp_source = name
        elif kind == "situation":
            situation[name] = value
        elif kind == "band":
            bands[name] = value
        elif kind == "score":
            scores[name] = value
    for leaf, value in values.items():  # high overrides likely
        if isinstance(leaf, criteria.Ref) and leaf.kind == "high" and value:
            likelihood[leaf.name] = "high"
    for leaf, value in values.items():
        if isinstance(leaf, criteria.Fact) and leaf.section == "call":
            _call_facts(doc, leaf.field, bool(value))
    case: Case = parse_case(orjson.dumps(doc))
    return Situation(
        case=case, triage=situation["triage"] or "routine", flags=flags, likelihood=likelihood,
        order=tuple(likelihood), mjoa_band=situation["mjoa_band"],
        duration_weeks=situation["duration_weeks"], triage_rules=frozenset(triage_rules),
        lbp_source=lbp_source, contraindications=frozenset(contraindications),
        bands=bands, scores=scores,
    )


def _call_facts(doc: dict[str, Any], call: str, wanted: bool) -> None:
    """Case lists that make a list function true (a scan, a treatment tried) or false."""
    history = doc.setdefault("history", {})
    if call.startswith("imaged"):
        region, modality = re.findall(r"value='(\w+)'", call)
        if wanted:
            doc.setdefault("imaging", []).append({"modality": modality, "region": region})
        return
    tried = history.setdefault("prior_treatments", [])
    if wanted:
        words = dict(re.findall(r"field='(\w+)'.*?values=\('(\w+)'", call))
        weeks = [float(w) for w in re.findall(r"field='weeks'\).*?value=([\d.]+)", call)]
        tried.append({"treatment": words.get("treatment", "exercise_therapy"),
                      "response": words.get("response", "no_change"),
                      "weeks": (max(weeks) + 1) if weeks else 12})


def witness(node: criteria.Node) -> Situation | None:
    """A situation ``node`` holds for, or None if none is found."""
    for conjunction in dnf(node):
        by_leaf: dict[Leaf, list[tuple[criteria.Node, bool]]] = {}
        unsupported = False
        for literal, positive in conjunction:
            leaf = _leaf(literal)
            if leaf is None:
                unsupported = True
                break
            by_leaf.setdefault(leaf, []).append((literal, positive))
        if unsupported:
            continue
        values: dict[Leaf, Any] = {}
        for leaf, constraints in by_leaf.items():
            found, value = _choose(leaf, constraints)
            if not found:
                break
            values[leaf] = value
        else:
            s = situation_of(values)
            if holds(node, s)[0] is True:
                return s
    return None
