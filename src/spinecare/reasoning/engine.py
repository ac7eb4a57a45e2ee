"""The assessment engine: a case in, a ``spinecare.assessment/1`` out.

All clinical content comes from the knowledge (``spinecare/knowledge``); this module only knows
how to apply it, in four stages:

1. findings: named criteria over the case (three-valued);
2. red flags: rules over findings, each raising a flag and a minimum triage level;
3. the differential: each condition's prior odds times the likelihood ratios of its known
   findings, floors from published post-test probabilities and red flags, caps, diagnoses of
   exclusion last; probabilities become likelihood bands;
4. triage and the source of low back pain: rules over findings, flags and likelihoods.

Everything it concludes names the rule ids and sources behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spinecare import __version__
from spinecare.case import Case
from spinecare.instruments.scoring import score_instruments
from spinecare.reasoning import expr
from spinecare.reasoning.differential import compile_differential
from spinecare.reasoning.knowledge import (
    EXPERT,
    LEVEL_RANK,
    RED_FLAG_CODES,
    Condition,
    Knowledge,
    PointsRule,
    default_knowledge,
)
from spinecare.reasoning.logic import Tri, count_rule

ASSESSMENT_SCHEMA_ID = "spinecare.assessment/1"
LEVELS = {rank: level for level, rank in LEVEL_RANK.items()}


@dataclass(frozen=True, slots=True)
class _Compiled:
    when: expr.Node
    finding_refs: tuple[str, ...]


def _toposort(k: Knowledge, parsed: dict[str, expr.Node]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            from spinecare.errors import KnowledgeError
            raise KnowledgeError(f"findings.toml: cycle {' -> '.join((*trail, name))}")
        state[name] = 1
        for r in expr.refs(parsed[name]):
            if r.kind == "finding":
                visit(r.name, (*trail, name))
        state[name] = 2
        order.append(name)

    for name in k.findings:
        visit(name, ())
    return order


class Engine:
    """Applies one version of the knowledge. Build once, call :meth:`assess` many times."""

    def __init__(self, knowledge: Knowledge | None = None):
        k = self.knowledge = knowledge or default_knowledge()
        names = frozenset(k.findings)
        parsed = {n: expr.parse(f.when, f"findings.toml: {n}", names)
                  for n, f in k.findings.items()}
        self.finding_order = _toposort(k, parsed)
        self.finding_children = {
            n: tuple(r.name for r in expr.refs(parsed[n]) if r.kind == "finding")
            for n in k.findings
        }
        # A finding that reads case facts directly is shown by its own label; one built only
        # from other findings is explained by those that hold.
        self.finding_is_leaf = {n: bool(expr.facts(parsed[n])) or not self.finding_children[n]
                                for n in k.findings}
        self._findings = expr.compile_batch(
            [(n, parsed[n]) for n in self.finding_order], local_kind="finding")

        self.red_rules = [(r, expr.parse(r.when, r.id, names)) for r in k.red_flag_rules]
        self._red = expr.compile_batch([(r.id, n) for r, n in self.red_rules],
                                       local_kind=None, inputs=("finding",))

        self.conditions: list[tuple[str, Condition]] = sorted(
            k.conditions.items(), key=lambda kv: kv[1].exclusion is not None)
        bounds = []
        for _, c in self.conditions:
            bounds += [(f.id, expr.parse(f.when, f.id, names)) for f in c.floor]
            bounds += [(x.id, expr.parse(x.when, x.id, names)) for x in c.cap]
        self._bounds = expr.compile_batch(bounds, local_kind=None, inputs=("finding", "flag"))

        self.triage_rules = [(t, expr.parse(t.when, t.id, names)) for t in k.triage_rules]
        self.lbp_rules = [(r, expr.parse(r.when, r.id, names)) for r in k.lbp_rules]
        self._late = expr.compile_batch(
            [(t.id, n) for t, n in self.triage_rules] + [(r.id, n) for r, n in self.lbp_rules],
            local_kind=None, inputs=("finding", "flag", "likely", "high"))
        self.rule_refs = {
            rid: tuple(r.name for r in expr.refs(node) if r.kind == "finding")
            for rid, node in [*((r.id, n) for r, n in self.red_rules),
                              *((t.id, n) for t, n in self.triage_rules)]
        }
        self.rule_ask_leaves = {rid: self._ask_paths(names_) for rid, names_ in
                                self.rule_refs.items()}
        table = [(LEVEL_RANK[r.triage], r.triage, r.id, r.reason, r.cite) for r in k.red_flag_rules]
        table += [(LEVEL_RANK[t.level], t.level, t.id, t.reason, t.cite) for t in k.triage_rules]
        # Most serious first; a stable sort keeps the knowledge's order within a level.
        self.triage_table = [(*row, self.rule_ask_leaves[row[2]])
                             for row in sorted(table, key=lambda r: -r[0])]
        self.questions = {n: f.ask for n, f in k.findings.items() if f.ask}
        self.labels = {n: f.label for n, f in k.findings.items()}
        self.rule_rank = {row[2]: row[0] for row in self.triage_table}
        # For each question, the rules it could complete, most serious first, each with its
        # place in that order (rule, then path) and the composite findings above it.
        question_rules: dict[str, list[tuple[tuple[int, int], int, str, str, tuple[str, ...]]]]
        question_rules = {}
        for i, (rank, rule_level, rid, _, _, paths) in enumerate(self.triage_table):
            for j, (name, above) in enumerate(paths):
                question_rules.setdefault(name, []).append(((i, j), rank, rid, rule_level, above))
        self.question_rules = {name: tuple(entries) for name, entries in question_rules.items()}

        self.citation_text = {cid: c.short() for cid, c in k.citations.items()}
        self.citation_text[EXPERT] = "expert judgement (no published source)"
        self._differential = compile_differential(k, self.conditions, self._floor_label)
        self.floor_refs: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {}
        for _, c in self.conditions:
            for f in c.floor:
                used = expr.refs(expr.parse(f.when, f.id, names))
                self.floor_refs[f.id] = (
                    tuple(r.name for r in used if r.kind == "finding"),
                    tuple(r.name for r in used if r.kind == "flag"), f.basis == "published")
        self.red_by_id = {r.id: r for r in k.red_flag_rules}
        self.points_items = {
            pr.name: tuple((i.finding, i.points, f"{k.findings[i.finding].label} ({i.points:+d})")
                           for i in pr.items)
            for pr in k.points_rules.values()}
        self.item_labels = {pr.name: tuple(k.findings[i].label for i in pr.items)
                            for pr in k.prediction_rules.values()}
        self.rule_meanings = {
            pr.name: {"rule_in": pr.rule_in, "rule_out": pr.rule_out,
                      "neither": "neither rules in nor rules out",
                      "incomplete": "depends on the items not yet known"}
            for pr in k.prediction_rules.values()}
        self.versions = {"engine": __version__, "knowledge": k.version}

    def _ask_paths(self, names: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The questions under ``names``, in order, each with the composite findings above it:
        a question is asked only while it and everything above it are unknown. A finding with
        its own question is asked as a whole."""
        findings = self.knowledge.findings
        out: list[tuple[str, tuple[str, ...]]] = []

        def walk(name: str, above: tuple[str, ...]) -> None:
            if findings[name].ask:
                out.append((name, above))
            elif not self.finding_is_leaf[name]:
                for child in self.finding_children[name]:
                    walk(child, (*above, name))

        for n in names:
            walk(n, ())
        return tuple(out)

    # --- explanations -----------------------------------------------------------------------

    def explain(self, names: Iterable[str], values: Mapping[str, Tri]) -> list[str]:
        """Labels of the findings that hold, expanding composite findings into their parts."""
        out: dict[str, None] = {}
        for name in names:
            self._explain_into(name, values, out)
        return list(out)

    def _explain_into(self, name: str, values: Mapping[str, Tri], out: dict[str, None]) -> None:
        # A method, not a nested recursive function: a self-referencing closure is a reference
        # cycle, which would leave garbage for the cyclic collector on every case.
        if values[name] is not True:
            return
        if self.finding_is_leaf[name]:
            out[self.labels[name]] = None
            return
        before = len(out)
        for child in self.finding_children[name]:
            self._explain_into(child, values, out)
        if len(out) == before:
            out[self.labels[name]] = None

    # --- the stages -------------------------------------------------------------------------

    def assess(self, case: Case) -> dict[str, Any]:
        """Assess one validated case. Pure: the same case always gives the same assessment."""
        k = self.knowledge
        F = self._findings(case)
        red = self._red(case, F)

        cited: dict[str, None] = {}
        explained: dict[str, list[str]] = {}  # rule id -> the findings shown for it
        flags: dict[str, dict[str, Any]] = {}
        for rid, value in red.items():
            if value is not True:
                continue
            rule = self.red_by_id[rid]
            entry = flags.get(rule.flag)
            if entry is None:
                entry = flags[rule.flag] = {"code": rule.flag, "evidence": [], "rules": [],
                                            "triage": rule.triage, "citations": []}
            entry["rules"].append(rid)
            shown = explained[rid] = self.explain(self.rule_refs[rid], F)
            for label in shown:
                if label not in entry["evidence"]:
                    entry["evidence"].append(label)
            for c in rule.cite:
                if c not in entry["citations"]:
                    entry["citations"].append(c)
            cited.update(dict.fromkeys(rule.cite))
            if LEVEL_RANK[rule.triage] > LEVEL_RANK[entry["triage"]]:
                entry["triage"] = rule.triage
        flag_values: dict[str, Tri] = {code: code in flags for code in RED_FLAG_CODES}

        bounds = self._bounds(case, F, flag_values)
        conditions, likely, high, condition_cites = self._differential(F, bounds)
        cited.update(dict.fromkeys(condition_cites))

        late = self._late(case, F, flag_values, likely, high)
        status = red | late
        triage = self._triage(status, F, cited, explained)
        lbp_rule = next((r for r, _ in self.lbp_rules if late[r.id] is True), None)
        lbp_source = lbp_rule.source if lbp_rule else "undetermined"
        if lbp_rule is not None:
            for c in lbp_rule.cite:
                cited[c] = None

        scores = score_instruments(case.instruments)
        for name, pr in k.prediction_rules.items():
            result = self._prediction_rule(pr, F)
            if result is not None:
                scores[name] = result
                cited.update(dict.fromkeys(pr.cite))
        for name, pts in k.points_rules.items():
            result = self._points_rule(pts, F)
            if result is not None:
                scores[name] = result
                cited.update(dict.fromkeys(pts.cite))

        return {
            "schema": ASSESSMENT_SCHEMA_ID,
            "case_id": case.id,
            "triage": triage,
            "red_flags": list(flags.values()),
            "conditions": conditions,
            "low_back_pain_source": lbp_source,
            "low_back_pain_source_detail": (
                {"rule": lbp_rule.id, "reason": lbp_rule.reason,
                 "citations": list(lbp_rule.cite)}
                if lbp_rule else {"rule": None, "reason": "Not enough is known to say where "
                                  "the low back pain comes from.", "citations": []}),
            "scores": scores,
            "ask": self._ask(status, F, triage["level"]),
            "citations": {c: self.citation_text[c] for c in cited},
            "versions": dict(self.versions),
        }

    def _floor_label(self, floor_id: str, F: Mapping[str, Tri], p: float) -> str:
        """Why a floor raised the estimate: the findings (or red flags) behind it, and whether
        the floor is a published post-test probability or a minimum set by judgement."""
        findings, flags, published = self.floor_refs[floor_id]
        shown = self.explain(findings, F) or [f"{f.replace('_', ' ')} red flag" for f in flags]
        kind = "post-test probability" if published else "minimum estimate"
        return f"{', '.join(shown)}: {kind} {p:.0%}"

    def _triage(self, status: dict[str, Tri], F: dict[str, Tri], cited: dict[str, None],
                explained: dict[str, list[str]]) -> dict[str, Any]:
        """The highest level among the rules that hold, with every rule at that level."""
        rank_of = self.rule_rank
        fired = [rid for rid, v in status.items() if v is True and rid in rank_of]
        if not fired:
            d = self.knowledge.triage_default
            cited.update(dict.fromkeys(d.cite))
            return {"level": d.level, "reasons": [d.reason], "rules": ["tr.default"],
                    "citations": list(d.cite)}
        top = max(rank_of[rid] for rid in fired)
        reasons, rules, sources = [], [], {}
        for rank, _, rid, reason, cite, _ in self.triage_table:
            if rank == top and status[rid] is True:
                shown = explained.get(rid)
                if shown is None:
                    shown = self.explain(self.rule_refs[rid], F)
                reasons.append(f"{reason} Findings: {', '.join(shown)}." if shown else reason)
                rules.append(rid)
                sources.update(dict.fromkeys(cite))
        cited.update(sources)
        return {"level": LEVELS[top], "reasons": reasons, "rules": rules,
                "citations": list(sources)}

    def _ask(self, status: dict[str, Tri], F: dict[str, Tri], level: str) -> list[dict[str, Any]]:
        """Unknown findings whose answers could raise the triage level, most serious first; each
        names the most serious rule it could complete. A question under a composite finding
        that is already known is not asked."""
        now = LEVEL_RANK[level]
        found = []
        for name, entries in self.question_rules.items():
            if F[name] is not None:
                continue
            for order, rank, rid, rule_level, above in entries:
                if rank <= now:
                    break
                if status[rid] is not None:
                    continue
                for a in above:
                    if F[a] is not None:
                        break
                else:
                    found.append((order, name, rid, rule_level))
                    break
        found.sort()
        questions = self.questions
        return [{"finding": name, "question": questions[name], "rule": rid,
                 "could_raise_to": rule_level} for _, name, rid, rule_level in found]

    def _prediction_rule(self, pr: Any, F: dict[str, Tri]) -> dict[str, Any] | None:
        """A counting rule: positives, the range while items are unknown, and its result."""
        values = [F[i] for i in pr.items]
        positive, unknown, result = count_rule(values, pr.rule_in_at_least, pr.rule_out_at_most)
        n = len(values)
        if result == "incomplete" and (n - unknown) * 2 <= n:
            return None  # too little known to be worth showing
        labels = self.item_labels[pr.name]
        return {
            "value": positive if unknown == 0 else None,
            "positive": positive, "unknown": unknown, "of": n,
            "range": [positive, positive + unknown], "result": result,
            "meaning": self.rule_meanings[pr.name][result],
            "positive_items": [label for label, v in zip(labels, values, strict=True)
                               if v is True],
            "citations": list(pr.cite),
        }

    def _points_rule(self, pr: PointsRule, F: dict[str, Tri]) -> dict[str, Any] | None:
        """A points rule: the score, or its range while items are unknown."""
        low = high = known = 0
        positive_items = []
        for finding, points, shown in self.points_items[pr.name]:
            v = F[finding]
            if v is True:
                low += points
                high += points
                positive_items.append(shown)
                known += 1
            elif v is None:
                if points < 0:
                    low += points
                else:
                    high += points
            else:
                known += 1
        n = len(pr.items)
        if known * 2 <= n:
            return None  # too little known to be worth showing
        if low >= pr.positive_at_least:
            result, meaning = "positive", pr.positive
        elif high < pr.positive_at_least:
            result, meaning = "negative", pr.negative
        else:
            result, meaning = "incomplete", "depends on the items not yet known"
        return {
            "value": low if low == high else None, "range": [low, high],
            "positive_at_least": pr.positive_at_least, "result": result, "meaning": meaning,
            "positive_items": positive_items, "unknown": n - known,
            "of": n, "weights_verified": pr.weights_verified,
            "citations": list(pr.cite),
        }


_default: Engine | None = None


def default_engine() -> Engine:
    global _default
    if _default is None:
        _default = Engine()
    return _default


def assess(case: Case) -> dict[str, Any]:
    """Assess ``case`` with the packaged knowledge."""
    return default_engine().assess(case)
