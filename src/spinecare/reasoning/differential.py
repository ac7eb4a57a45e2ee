"""The differential, compiled from the knowledge into one Python function.

For each condition that is not a diagnosis of exclusion, the estimate starts from the prior odds
and multiplies in the ratio of each known finding: ``lr_present`` when it holds, ``lr_absent``
when it is known not to; an unknown finding changes nothing. Within a group only the ratio
furthest from 1 (on the log scale) applies, the first listed winning a tie, so correlated findings
count once. A ``given`` finding must hold for the item to apply (the population its study
measured). Floors raise the probability to a published post-test probability (or a red flag's
minimum); caps limit the likelihood band. A diagnosis of exclusion takes its base probability
(by whether its required finding holds) times ``1 - p`` of each condition that would explain the
complaint instead. The conditions come out most likely first, then by priority (serious
pathology first), then by probability.

:func:`reference_odds` computes the likelihood-ratio update by plain iteration; a test checks
the compiled function against it on generated cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from spinecare.reasoning.knowledge import Condition, Evidence, Knowledge
from spinecare.reasoning.logic import Tri

LIKELIHOOD_RANK = {"low": 0, "moderate": 1, "high": 2}
LIKELIHOOD_NAME = ("low", "moderate", "high")

Differential = Callable[
    [Mapping[str, Tri], Mapping[str, Tri]],
    tuple[list[dict[str, Any]], dict[str, Tri], dict[str, Tri], list[str]]]
"""``(findings, bounds) -> (conditions, likely by code, high by code, citation ids used)``:
a condition is *likely* at moderate or high likelihood."""


class _Source:
    """Collects the constants the generated code refers to, by index."""

    def __init__(self) -> None:
        self.constants: list[Any] = []

    def const(self, value: Any) -> str:
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"


def _applied(k: Knowledge, e: Evidence, present: bool) -> tuple[float, str, dict[str, Any],
                                                                   str, tuple[str, ...]]:
    f = k.findings[e.finding]
    lr = e.lr_present if present else e.lr_absent
    assert lr is not None
    label = f.label if present else (f.absent or f"no {f.label}")
    detail = {"finding": label, "likelihood_ratio": lr, "rule": e.id, "basis": e.basis,
              "citations": list(e.cite)}
    return lr, label, detail, e.id, tuple(e.cite)


def _apply(indent: str, record: str, lr: float | None) -> list[str]:
    """Lines that apply one record ``(lr, label, detail, rule, cites)``; with ``lr`` known at
    compile time the record goes straight to the evidence for or against."""
    target = "ev" if lr is not None and lr > 1 else "ag" if lr is not None else None
    add = (f"{indent}{target} += ({record}[1],)" if target else
           f"{indent}if {record}[0] > 1:\n{indent}    ev += ({record}[1],)\n"
           f"{indent}else:\n{indent}    ag += ({record}[1],)")
    return [f"{indent}o *= {record}[0]", add,
            f"{indent}det += (dict({record}[2]),)",
            f"{indent}ru += ({record}[3],)",
            f"{indent}ci += {record}[4]"]


def compile_differential(k: Knowledge, conditions: list[tuple[str, Condition]],
                         floor_label: Callable[[str, Mapping[str, Tri], float], str]
                         ) -> Differential:
    """Compile the differential for ``conditions`` (exclusion diagnoses last).

    The lists in the result are tuples (JSON arrays): a condition with nothing applied shares
    the empty ones, so a case allocates only what it says.
    """
    src = _Source()
    high, moderate = k.bands.high, k.bands.moderate
    lines = ["def _differential(F, B):", "    out = []", "    P = {}", "    LK = {}", "    HI = {}",
             "    allci = []"]
    for code, c in conditions:
        cites = tuple(dict.fromkeys(c.cite))
        prior_cites = src.const(cites)
        base_rules = (code + (".exclusion" if c.exclusion else ".prior"),)
        untouched = src.const(base_rules)  # compared by identity: nothing was applied
        lines += [f"    # --- {code}", "    ev = ag = det = ()", f"    ru = {untouched}",
                  f"    ci = {prior_cites}"]
        if c.exclusion is None:
            lines += _odds_lines(k, c, src)
            lines.append("    p = o / (1 + o)")
            for fl in c.floor:
                lines += [f"    if {fl.probability!r} > p and B[{fl.id!r}] is True:",
                          f"        p = {fl.probability!r}",
                          f"        ev += (FL({fl.id!r}, F, p),)",
                          f"        ru += ({fl.id!r},)",
                          f"        ci += {src.const(tuple(fl.cite))}"]
        else:
            ex = c.exclusion
            f = k.findings[ex.requires]
            lines += [f"    v = F[{ex.requires!r}]",
                      "    if v is True:", f"        p = {ex.base!r}",
                      f"        ev = ({f.label!r},)",
                      "    elif v is None:", f"        p = {ex.base * ex.if_unknown!r}",
                      "    else:", f"        p = {ex.base * ex.if_absent!r}",
                      f"        ag = ({(f.absent or 'no ' + f.label)!r},)"]
            for other in ex.excluded_by:
                label = k.conditions[other].label
                lines += [f"    q = P[{other!r}]", "    p *= 1 - q",
                          f"    if q >= {moderate!r}:",
                          f"        ag += ({label!r} + ' possible (' + format(q, '.0%') + ')',)"]
            lines.append(f"    ci += {src.const(tuple(ex.cite))}")
        lines += [f"    P[{code!r}] = p",
                  f"    rank = 2 if p >= {high!r} else 1 if p >= {moderate!r} else 0"]
        for cap in c.cap:
            lines += [f"    if rank > {LIKELIHOOD_RANK[cap.likelihood]} and B[{cap.id!r}] is True:",
                      f"        rank = {LIKELIHOOD_RANK[cap.likelihood]}",
                      "        ag += ('a red flag must be excluded first',)",
                      f"        ru += ({cap.id!r},)",
                      f"        ci += {src.const(tuple(cap.cite))}"]
        # probability to 3 decimals; int() is exact enough here and far cheaper than round()
        lines += [f"    if ci is not {prior_cites}:", "        ci = tuple(dict.fromkeys(ci))",
                  "    allci += ci", f"    LK[{code!r}] = rank >= 1",
                  f"    HI[{code!r}] = rank == 2"]
        build = (f"(-rank, {c.priority}, -p, {{'code': {code!r}, "
                 f"'label': {c.label!r}, 'likelihood': NAMES[rank], "
                 "'probability': int(p * 1000 + 0.5) / 1000, "
                 "'evidence': ev, 'against': ag, 'details': det, 'rules': ru, "
                 "'citations': ci})")
        if c.exclusion is None:
            # Nothing applied (no ratio, floor or cap): the entry is the prior's, made once.
            odds = c.prior / (1 - c.prior)
            p0 = odds / (1 + odds)
            rank0 = 2 if p0 >= high else 1 if p0 >= moderate else 0
            entry = src.const({"code": code, "label": c.label, "likelihood": LIKELIHOOD_NAME[rank0],
                               "probability": int(p0 * 1000 + 0.5) / 1000, "evidence": (),
                               "against": (), "details": (), "rules": base_rules,
                               "citations": cites})
            lines += [f"    if ru is {untouched}:",
                      f"        out.append((-rank, {c.priority}, -p, dict({entry})))",
                      "    else:", f"        out.append({build})"]
        else:
            lines.append(f"    out.append({build})")
    # (-rank, priority, -p) never ties, as priorities are distinct, so dicts are never compared
    lines += ["    out.sort()", "    return [x[3] for x in out], LK, HI, allci"]
    namespace: dict[str, Any] = {"K": src.constants, "FL": floor_label, "NAMES": LIKELIHOOD_NAME}
    exec(compile("\n".join(lines), "<spinecare differential>", "exec"), namespace)
    fn: Differential = namespace["_differential"]
    return fn


def _odds_lines(k: Knowledge, c: Condition, src: _Source) -> list[str]:
    """Lines computing ``o``, the odds after every applicable likelihood ratio."""
    lines = [f"    o = {c.prior / (1 - c.prior)!r}"]
    # each population condition (`given`) is read once per condition
    given = {g: f"g{i}" for i, g in enumerate(dict.fromkeys(e.given for e in c.evidence
                                                            if e.given))}
    lines += [f"    {var} = F[{g!r}] is True" for g, var in given.items()]
    groups: dict[str, list[Evidence]] = {}
    for e in c.evidence:
        if e.group is not None:
            groups.setdefault(e.group, []).append(e)
            continue
        indent = "    "
        if e.given:
            lines.append(f"    if {given[e.given]}:")
            indent = "        "
        lines.append(f"{indent}v = F[{e.finding!r}]")
        first = True
        for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
            if lr is None:
                continue
            lines.append(f"{indent}{'if' if first else 'elif'} v is {present}:")
            lines += _apply(indent + "    ", src.const(_applied(k, e, present)), lr)
            first = False
    for members in groups.values():
        lines += ["    gw = -1.0", "    gr = None"]
        for e in members:
            indent = "    "
            if e.given:
                lines.append(f"    if {given[e.given]}:")
                indent = "        "
            lines.append(f"{indent}v = F[{e.finding!r}]")
            for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
                if lr is None:
                    continue
                w = abs(math.log(lr))
                lines += [f"{indent}if v is {present} and {w!r} > gw:",
                          f"{indent}    gw = {w!r}",
                          f"{indent}    gr = {src.const(_applied(k, e, present))}"]
        lines.append("    if gr is not None:")
        lines += _apply("        ", "gr", None)
    return lines


def reference_odds(c: Condition, F: Mapping[str, Tri]) -> tuple[float, list[str]]:
    """The likelihood-ratio update by plain iteration: the odds and the ids of the items used."""
    ungrouped: list[tuple[float, str]] = []
    strongest: dict[str, tuple[float, float, str]] = {}
    for e in c.evidence:
        if e.given is not None and F[e.given] is not True:
            continue
        v = F[e.finding]
        lr = e.lr_present if v is True else e.lr_absent if v is False else None
        if lr is None:
            continue
        if e.group is None:
            ungrouped.append((lr, e.id))
        elif e.group not in strongest or abs(math.log(lr)) > strongest[e.group][1]:
            strongest[e.group] = (lr, abs(math.log(lr)), e.id)
    odds = c.prior / (1 - c.prior)
    used = []
    for lr, eid in [*ungrouped, *((lr, eid) for lr, _, eid in strongest.values())]:
        odds *= lr
        used.append(eid)
    return odds, used
