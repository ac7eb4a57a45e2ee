"""The differential, compiled from the knowledge into one Python function.

For each condition that is not a diagnosis of exclusion, the estimate starts from the prior odds
and multiplies in the ratio of each known finding: ``lr_present`` when it holds, ``lr_absent``
when it is known not to; an unknown finding changes nothing. Within a group only the ratio
furthest from 1 (on the log scale) applies, the first listed winning a tie, so correlated findings
count once. A ``given`` finding must hold for the item to apply (the population its study
measured). Floors raise the probability to a published post-test probability (or a red flag's
minimum); caps limit the likelihood band. A diagnosis of exclusion takes its base probability
(by whether its required finding holds) times ``1 - p`` of each condition that would explain the
complaint instead. The conditions come out by likelihood band, most probable first within a
band, then by priority (serious pathology first) where the shown probabilities are equal.

:func:`reference_odds` computes the likelihood-ratio update by plain iteration, and
:mod:`spinecare.reasoning.reference` the whole assessment; tests check the compiled function
against both on generated cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from spinecare import criteria
from spinecare.criteria.compiler import Names, identifier
from spinecare.criteria.logic import Tri
from spinecare.reasoning.knowledge import Condition, Evidence, Knowledge

LIKELIHOOD_RANK = {"low": 0, "moderate": 1, "high": 2}
LIKELIHOOD_NAME = ("low", "moderate", "high")

class _Source:
    """Collects the constants the generated code refers to, each by a name saying what it is
    (``CITES_lumbar_spinal_stenosis``, ``DETAIL_lss_imaging_absent``)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.constants: dict[str, Any] = {}

    def const(self, value: Any, name: str) -> str:
        var = self.names.claim(name)
        self.constants[var] = value
        return var


def _applied(k: Knowledge, e: Evidence, present: bool,
             fresh: Callable[[tuple[str, ...]], tuple[str, ...]]
             ) -> tuple[float, str, dict[str, Any], str, tuple[str, ...]]:
    f = k.findings[e.finding]
    lr = e.lr_present if present else e.lr_absent
    assert lr is not None
    label = f.label if present else (f.absent or f"no {f.label}")
    detail = {"finding": label, "likelihood_ratio": lr, "rule": e.id, "basis": e.basis,
              "citations": list(e.citations)}
    return lr, label, detail, e.id, fresh(tuple(e.citations))


def _apply(indent: str, record: str, lr: float | None) -> list[str]:
    """Lines that apply one record ``(lr, label, detail, rule, cites)``; with ``lr`` known at
    compile time the record goes straight to the evidence for or against."""
    target = "ev" if lr is not None and lr > 1 else "ag" if lr is not None else None
    add = (f"{indent}{target} += ({record}[1],)" if target else
           f"{indent}if {record}[0] > 1:\n{indent}    ev += ({record}[1],)\n"
           f"{indent}else:\n{indent}    ag += ({record}[1],)")
    return [f"{indent}o *= {record}[0]", add,
            f"{indent}det += ({record}[2].copy(),)",
            f"{indent}ru += ({record}[3],)",
            f"{indent}ci += {record}[4]"]


def _apply_known(indent: str, record: tuple[float, str, dict[str, Any], str, tuple[str, ...]],
                 src: _Source, side: str) -> list[str]:
    """:func:`_apply` for a record known at compile time: its ratio, label, rule and citations
    are written as literals (constants of the code object), not looked up."""
    lr, label, detail, rule, cites = record
    return [f"{indent}o *= {lr!r}  # {rule}",
            f"{indent}{'ev' if lr > 1 else 'ag'} += ({label!r},)",
            f"{indent}det += ({src.const(detail, f'DETAIL_{rule}_{side}')}.copy(),)",
            f"{indent}ru += ({rule!r},)",
            *([f"{indent}ci += {cites!r}"] if cites else [])]


# The names the differential's lines use for their own working values; a caller splicing them
# into a function keeps its own names clear of these.
SCRATCH_LOCALS = ("ev", "ag", "det", "ru", "ci", "o", "p", "v", "q", "rank", "gw", "gr")
SCRATCH = (*SCRATCH_LOCALS, "add", "x", "CONDITIONS", "CIT", "FL", "NAMES", "TEXT")

Ref = Callable[[str], str]
"""Names a value in the generated code: a finding, a floor or cap, or a likelihood by code."""


def raises_with_flag(when: str, where: str) -> bool:
    """Whether a floor is a red flag's: its criterion refers to a flag."""
    return any(r.kind == "flag" for r in criteria.refs(criteria.parse(when, where)))


def differential_lines(k: Knowledge, conditions: list[tuple[str, Condition]],
                       floor_label: Callable[[str, Any, float], str],
                       citation_text: Mapping[str, str], *,
                       finding: Ref, bound: Ref, likely: Ref, high: Ref,
                       names: Names | None = None
                       ) -> tuple[list[str], dict[str, Any]]:
    """The body of the differential, and the names it needs: lines that read findings and
    bounds, and set likelihoods, through the given names, leaving the sorted conditions in
    ``CONDITIONS`` and adding their citations, with their text, to the dict ``CIT`` (which
    the caller makes, so that the citations it adds first come first). ``F``, whatever the
    caller holds its findings in, is passed to ``floor_label`` as it is.
    The engine splices them into its single generated function, where the names are
    locals. ``names`` are the names already taken in that function."""
    names = names or Names()
    src = _Source(names)
    high_at, moderate = k.bands.high, k.bands.moderate
    lines: list[str] = []
    # Each condition's probability (for the diagnoses of exclusion that follow), likelihood
    # rank and entry are locals named after it.
    present: set[str] = set()  # the citations certainly in CIT so far
    prob = {code: names.claim(f"p_{code}") for code, _ in conditions}
    rank_var = {code: names.claim(f"rank_{code}") for code, _ in conditions}
    entry_of = {code: names.claim(f"entry_{code}") for code, _ in conditions}
    # 1 where a cap's condition holds (a provisional label while a red flag is open, NICE
    # NG59): it comes after the others of its band, whether or not the cap lowered it.
    held_var: dict[str, str] = {}
    # 1 where a red flag's floor holds: the condition heads its band, so that the list and the
    # triage say the same thing first.
    flagged_var: dict[str, str] = {}
    for code, c in conditions:
        entry_var = entry_of[code]
        cites = tuple(dict.fromkeys(c.citations))
        prior_cites = src.const(cites, f"CITES_{code}")

        def fresh(more: tuple[str, ...], known: frozenset[str] = frozenset(cites)
                  ) -> tuple[str, ...]:
            # Citations the condition's own come before are dropped where they are added
            # (the order of first mention is the same): most items cite the condition's own
            # source, and then ci stays the prior's and needs no de-duplication.
            return tuple(x for x in more if x not in known)

        base_rules = (code + (".exclusion" if c.exclusion else ".prior"),)
        # compared by identity: nothing was applied
        untouched = src.const(base_rules, f"RULES_{code}")
        lines += [f"    # --- {code}", "    ev = ag = det = ()", f"    ru = {untouched}",
                  f"    ci = {prior_cites}"]
        if c.exclusion is None:
            lines += _odds_lines(k, c, src, finding, fresh)
            lines.append("    p = o / (1 + o)")
            flag_floors = [fl for fl in c.floor if raises_with_flag(fl.when, fl.id)]
            flagged_var[code] = names.claim(f"flagged_{code}") if flag_floors else "0"
            if flag_floors:
                lines.append(f"    {flagged_var[code]} = 0")
            for fl in flag_floors:
                lines += [f"    if {bound(fl.id)} is True:",
                          f"        {flagged_var[code]} = 1"]
            for fl in c.floor:
                lines += [f"    if {fl.probability!r} > p and {bound(fl.id)} is True:",
                          f"        p = {fl.probability!r}",
                          f"        ev += (FL({fl.id!r}, F, p),)  # {fl.id}",
                          f"        ru += ({fl.id!r},)",
                          f"        ci += {fresh(tuple(fl.citations))!r}"]
        else:
            flagged_var[code] = "0"
            ex = c.exclusion
            f = k.findings[ex.requires]
            lines += [f"    v = {finding(ex.requires)}",
                      "    if v is True:", f"        p = {ex.base!r}",
                      f"        ev = ({f.label!r},)",
                      "    elif v is None:", f"        p = {ex.base * ex.if_unknown!r}",
                      "    else:", f"        p = {ex.base * ex.if_absent!r}",
                      f"        ag = ({(f.absent or 'no ' + f.label)!r},)"]
            for other in ex.excluded_by:
                label = k.conditions[other].label
                lines += [f"    q = {prob[other]}", "    p *= 1 - q",
                          f"    if q >= {moderate!r}:",
                          f"        ag += ({label!r} + ' possible (' + format(q, '.0%') + ')',)"]
            lines.append(f"    ci += {fresh(tuple(ex.citations))!r}")
        lines += [f"    {prob[code]} = p",
                  f"    rank = 2 if p >= {high_at!r} else 1 if p >= {moderate!r} else 0"]
        held_var[code] = names.claim(f"held_{code}") if c.cap else "0"
        if c.cap:
            lines.append(f"    {held_var[code]} = 0")
        for cap in c.cap:
            capped = LIKELIHOOD_RANK[cap.likelihood]
            lines += [f"    if {bound(cap.id)} is True:",
                      f"        {held_var[code]} = 1",
                      f"    if rank > {capped} and {bound(cap.id)} is True:  # {cap.id}",
                      f"        rank = {capped}",
                      f"        ag += ({cap.reason!r},)",
                      f"        ru += ({cap.id!r},)",
                      f"        ci += {fresh(tuple(cap.citations))!r}"]
        # The citations with their text. A condition's own (ci starts with them) that an
        # earlier condition already added are known to be in CIT here; the rest are added as
        # one update from a dict made once, and any others (rare) one by one.
        new_texts = {x: citation_text[x] for x in cites if x not in present}
        present.update(cites)
        if new_texts:
            lines += [f"    if ci is {prior_cites}:",
                      f"        CIT.update({src.const(new_texts, f'TEXTS_{code}')})",
                      "    else:"]
        else:
            lines.append(f"    if ci is not {prior_cites}:")
        lines += ["        ci = tuple(dict.fromkeys(ci))", "        for x in ci:",
                  "            CIT[x] = TEXT[x]",
                  f"    {likely(code)} = rank >= 1",
                  f"    {high(code)} = rank == 2"]
        lines.append(f"    {rank_var[code]} = rank")
        # The entry is a copy of a template with the keys in order, its values then set: a
        # dict display of nine keys cost twice as much. The probability is rounded half up to
        # 3 decimals (p >= 0, so flooring is truncation; cheaper than round() or int()).
        template = src.const({"code": code, "label": c.label, "likelihood": None,
                              "probability": None, "evidence": (), "against": (),
                              "details": (), "rules": (), "citations": ()}, f"ENTRY_{code}")
        build = [f"{entry_var} = {template}.copy()",
                 f"{entry_var}['likelihood'] = NAMES[rank]",
                 f"{entry_var}['probability'] = (p * 1000 + 0.5) // 1 / 1000",
                 *(f"{entry_var}[{key!r}] = {var}" for key, var in (
                     ("evidence", "ev"), ("against", "ag"), ("details", "det"), ("rules", "ru"),
                     ("citations", "ci")))]
        if c.exclusion is None:
            # Nothing applied (no ratio, floor or cap): the entry is the prior's, made once.
            odds = c.prior / (1 - c.prior)
            p0 = odds / (1 + odds)
            rank0 = 2 if p0 >= high_at else 1 if p0 >= moderate else 0
            entry = src.const({"code": code, "label": c.label, "likelihood": LIKELIHOOD_NAME[rank0],
                               "probability": (p0 * 1000 + 0.5) // 1 / 1000, "evidence": (),
                               "against": (), "details": (), "rules": base_rules,
                               "citations": cites}, f"PRIOR_ENTRY_{code}")
            lines += [f"    if ru is {untouched}:",
                      f"        {entry_var} = {entry}.copy()",
                      "    else:", *(f"        {line}" for line in build)]
        else:
            lines += [f"    {line}" for line in build]
    # Most likely band first; within a band a condition whose red flag is raised first and a
    # provisional label (a cap holds) last, then the more probable (as rounded, so that equal
    # shown probabilities are equal), then by priority (distinct: the knowledge checks it): a
    # tie never depends on the file's order.
    if len({c.priority for _, c in conditions}) != len(conditions):
        raise ValueError("every condition needs its own priority")
    # That order as one number per condition (comparing six-part tuples cost more than the
    # rest of the sort): the band, the red flag and the cap (0 or 1 each) make a group, the
    # probability (a multiple of 0.001 in [0, 1], each step worth `span`) and the priority
    # (below `span`) order within it. The float products stay within 1e-9 of the integers
    # they stand for, and the keys are distinct, so the entries themselves are never compared.
    low = min(c.priority for _, c in conditions)
    span = max(c.priority for _, c in conditions) - low + 1
    group = 1002 * span

    def key(code: str, c: Condition) -> str:
        # ((2 - rank) * 4 + (1 - flagged) * 2 + held) * group, with the constant parts folded
        # here: most conditions have no red-flag floor or cap, and their terms are left out
        terms = [f"{10 * group + c.priority - low} - {rank_var[code]} * {4 * group}"]
        if flagged_var[code] != "0":
            terms.append(f" - {flagged_var[code]} * {2 * group}")
        if held_var[code] != "0":
            terms.append(f" + {held_var[code]} * {group}")
        terms.append(f" - {entry_of[code]}['probability'] * {1000 * span}")
        return f"({''.join(terms)}, {entry_of[code]})"

    keys = ", ".join(key(code, c) for code, c in conditions)
    lines += ["    # --- the differential's order",
              # the sorted pairs' second parts, taken in C (the keys are distinct)
              f"    CONDITIONS = list(dict(sorted(({keys}))).values())"]
    namespace: dict[str, Any] = {**src.constants, "FL": floor_label, "NAMES": LIKELIHOOD_NAME,
                                 "TEXT": citation_text}
    return lines, namespace


def _odds_lines(k: Knowledge, c: Condition, src: _Source, finding: Ref,
                fresh: Callable[[tuple[str, ...]], tuple[str, ...]]) -> list[str]:
    """Lines computing ``o``, the odds after every applicable likelihood ratio."""
    lines = [f"    o = {c.prior / (1 - c.prior)!r}"]
    # each population condition (`given`) is read once per condition
    given = {g: f"given_{identifier(g)}" for g in dict.fromkeys(e.given for e in c.evidence
                                                                  if e.given)}
    lines += [f"    {var} = {finding(g)} is True" for g, var in given.items()]
    groups: dict[str, list[Evidence]] = {}
    ungrouped: list[Evidence] = []
    for e in c.evidence:
        if e.group is None:
            ungrouped.append(e)
        else:
            groups.setdefault(e.group, []).append(e)

    def under(population: str | None, block: list[str]) -> list[str]:
        # lines that apply only in a population go under one test of it
        if population is None:
            return block
        return [f"    if {given[population]}:",
                *("    " + part for line in block for part in line.split("\n"))]

    # Items in a row with the same population share one test of it.
    run: list[str] = []
    population: str | None = None
    for e in ungrouped:
        if e.given != population:
            lines += under(population, run)
            run, population = [], e.given
        v = finding(e.finding)
        first = True
        for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
            if lr is None:
                continue
            run.append(f"    {'if' if first else 'elif'} {v} is {present}:")
            run += _apply_known("        ", _applied(k, e, present, fresh), src,
                                "present" if present else "absent")
            first = False
    lines += under(population, run)
    for members in groups.values():
        # A group wholly in one population is skipped as a whole outside it.
        shared = members[0].given if len({e.given for e in members}) == 1 else None
        block = ["    gw = -1.0", "    gr = None"]
        first = True
        for e in members:
            indent = "    "
            if e.given and shared is None:
                block.append(f"    if {given[e.given]}:")
                indent = "        "
            v = finding(e.finding)
            for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
                if lr is None:
                    continue
                w = abs(math.log(lr))
                record = src.const(_applied(k, e, present, fresh),
                                   f"ITEM_{e.id}_{'present' if present else 'absent'}")
                # the first item tested beats the start (gw is -1, every weight >= 0)
                stronger = "" if first else f" and {w!r} > gw"
                block += [f"{indent}if {v} is {present}{stronger}:  # {e.id}",
                          f"{indent}    gw = {w!r}",
                          f"{indent}    gr = {record}"]
                first = False
        block.append("    if gr is not None:")
        block += _apply("        ", "gr", None)
        lines += under(shared, block)
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
