"""Likelihood-ratio updating for the differential, compiled from the knowledge.

For each condition (not the diagnoses of exclusion) the compiled function starts from the prior
odds and multiplies in the ratio of each known finding: ``lr_present`` when it holds,
``lr_absent`` when it is known not to. Within a group only the ratio furthest from 1 (on the log
scale) applies, the first one listed winning a tie. A ``given`` finding must hold for the item to
apply. The result per condition is its odds and the items applied, in knowledge order
(ungrouped items first, then one per group), so the explanation lists exactly what moved the
estimate. :func:`reference_odds` does the same by plain iteration; a test checks they agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spinecare.reasoning.knowledge import Condition, Evidence, Knowledge
from spinecare.reasoning.logic import Tri


@dataclass(frozen=True, slots=True)
class Applied:
    """One likelihood ratio applied to a condition, ready to explain."""

    lr: float
    label: str
    detail: Mapping[str, Any]
    rule: str
    cite: tuple[str, ...]


def _applied(k: Knowledge, e: Evidence, present: bool) -> Applied:
    f = k.findings[e.finding]
    lr = e.lr_present if present else e.lr_absent
    assert lr is not None
    label = f.label if present else (f.absent or f"no {f.label}")
    detail = {"finding": label, "likelihood_ratio": lr, "rule": e.id, "basis": e.basis,
              "citations": list(e.cite)}
    return Applied(lr, label, detail, e.id, tuple(e.cite))


Compiled = Callable[[Mapping[str, Tri]], list[tuple[float, list[Applied]]]]


def compile_odds(k: Knowledge, conditions: list[tuple[str, Condition]]) -> Compiled:
    """One function computing ``(odds, applied)`` for each condition in ``conditions``."""
    records: list[Applied] = []

    def record(e: Evidence, present: bool) -> str:
        records.append(_applied(k, e, present))
        return f"R[{len(records) - 1}]"

    lines = ["def _odds(F):", "    out = []"]
    for code, c in conditions:
        lines += [f"    # {code}", f"    o = {c.prior / (1 - c.prior)!r}", "    ap = []"]
        groups: dict[str, list[Evidence]] = {}
        for e in c.evidence:
            if e.group is None:
                lines += _item(e, record, "        " if e.given else "    ")
            else:
                groups.setdefault(e.group, []).append(e)
        for members in groups.values():
            lines += ["    gw = -1.0", "    gr = None"]
            for e in members:
                indent = "    "
                if e.given:
                    lines.append(f"    if F[{e.given!r}] is True:")
                    indent = "        "
                lines.append(f"{indent}v = F[{e.finding!r}]")
                for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
                    if lr is None:
                        continue
                    w = abs(math.log(lr))
                    lines += [f"{indent}if v is {present} and {w!r} > gw:",
                              f"{indent}    gw = {w!r}", f"{indent}    gr = {record(e, present)}"]
            lines += ["    if gr is not None:", "        o *= gr.lr", "        ap.append(gr)"]
        lines.append("    out.append((o, ap))")
    lines.append("    return out")
    namespace: dict[str, Any] = {"R": records}
    exec(compile("\n".join(lines), "<spinecare differential>", "exec"), namespace)
    fn: Compiled = namespace["_odds"]
    return fn


def _item(e: Evidence, record: Callable[[Evidence, bool], str], indent: str) -> list[str]:
    out = []
    if e.given:
        out.append(f"    if F[{e.given!r}] is True:")
    out.append(f"{indent}v = F[{e.finding!r}]")
    first = True
    for present, lr in ((True, e.lr_present), (False, e.lr_absent)):
        if lr is None:
            continue
        kw = "if" if first else "elif"
        out += [f"{indent}{kw} v is {present}:", f"{indent}    o *= {lr!r}",
                f"{indent}    ap.append({record(e, present)})"]
        first = False
    return out


def reference_odds(k: Knowledge, c: Condition, F: Mapping[str, Tri]) -> tuple[float, list[str]]:
    """The same update by plain iteration: odds and the ids of the items applied."""
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
    applied = []
    for lr, eid in ungrouped:
        odds *= lr
        applied.append(eid)
    for lr, _, eid in strongest.values():
        odds *= lr
        applied.append(eid)
    return odds, applied
