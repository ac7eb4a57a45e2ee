"""The whole assessment in plain Python: the reference the compiled engine is checked against.

:class:`spinecare.reasoning.engine.Engine` compiles the knowledge into one generated function for
speed. This module computes the same assessment the slow, obvious way, straight from the
knowledge models: every criterion through the tree interpreter :func:`spinecare.criteria.evaluate`,
the differential as a loop over each condition's evidence, triage, questions and scores as
loops over the rules. It shares no code with the code generator (nor with the engine's
precomputed tables), so a bug in either shows up as a difference; ``tests/reasoning/
test_reference.py`` compares the two on generated cases and on every example case, and checks
that a deliberately broken compiler is caught.

The probabilities are computed with the same multiplications in the same order as the
compiled code (prior odds, then the ungrouped ratios in the knowledge's order, then each
group's strongest ratio in order of the groups' first mention), so they agree exactly, not
merely within a tolerance.

The method is the one the engine documents: findings (three-valued criteria over the case), red
flags, the differential (prior odds times likelihood ratios; Suri P et al. 2010, JAMA
304(23):2628-36 and the sources each condition cites), floors, caps and diagnoses of exclusion,
likelihood bands, triage, the source of low back pain, the questions to ask, scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from spinecare import __version__, criteria
from spinecare.case import Case
from spinecare.criteria.logic import Tri, count_rule
from spinecare.instruments.scoring import score_instruments
from spinecare.reasoning.knowledge import (
    EXPERT,
    LEVEL_RANK,
    RED_FLAG_CODES,
    Condition,
    Evidence,
    Knowledge,
)

EXPERT_TEXT = "expert judgement (no published source)"
LIKELIHOODS = ("low", "moderate", "high")


def citation_texts(k: Knowledge) -> dict[str, str]:
    """Every citation id with the short text an assessment shows for it."""
    texts = {cid: c.short() for cid, c in k.citations.items()}
    texts[EXPERT] = EXPERT_TEXT
    return texts


class Reference:
    """Plain evaluation of one version of the knowledge: :meth:`assess` gives what
    ``Engine(knowledge).assess`` must give."""

    def __init__(self, knowledge: Knowledge):
        self.k = knowledge
        names = frozenset(knowledge.findings)
        self.when = {n: criteria.parse(f.when, n, names) for n, f in knowledge.findings.items()}
        self.texts = citation_texts(knowledge)
        self.names = names
        self.parsed: dict[str, criteria.Node] = {}

    def node(self, text: str, where: str) -> criteria.Node:
        """``text`` parsed (once: the tree of a text never changes)."""
        node = self.parsed.get(text)
        if node is None:
            node = self.parsed[text] = criteria.parse(text, where, self.names)
        return node

    def finding_refs(self, text: str, where: str) -> list[str]:
        return [r.name for r in criteria.refs(self.node(text, where)) if r.kind == "finding"]

    # --- findings and their explanations -----------------------------------------------------

    def findings(self, case: Case) -> dict[str, Tri]:
        """Every finding, each evaluated once its parts are (depth first, memoised)."""
        values: dict[criteria.Ref, Tri] = {}

        def value(name: str) -> Tri:
            ref = criteria.Ref("finding", name)
            if ref not in values:
                for r in criteria.refs(self.when[name]):
                    if r.kind == "finding":
                        value(r.name)
                values[ref] = criteria.evaluate(self.when[name], case, values)
            return values[ref]

        return {name: value(name) for name in self.k.findings}

    def is_leaf(self, name: str) -> bool:
        node = self.when[name]
        return bool(criteria.facts(node)) or not any(r.kind == "finding"
                                                     for r in criteria.refs(node))

    def explain(self, names: Iterable[str], F: Mapping[str, Tri]) -> list[str]:
        """The labels of the findings that hold, a composite finding shown by its parts that
        hold (its own label when none adds anything new)."""
        out: list[str] = []

        def add(name: str) -> None:
            if F[name] is not True:
                return
            if not self.is_leaf(name):
                before = len(out)
                for r in criteria.refs(self.when[name]):
                    if r.kind == "finding":
                        add(r.name)
                if len(out) > before:
                    return
            label = self.k.findings[name].label
            if label not in out:
                out.append(label)

        for n in names:
            add(n)
        return out

    # --- the differential --------------------------------------------------------------------

    def odds(self, c: Condition, F: Mapping[str, Tri]) -> tuple[float, list[tuple[Evidence, bool]]]:
        """The prior odds times every applicable ratio, and the items applied (with whether
        the finding was present), in the order applied."""
        ungrouped: list[tuple[Evidence, bool]] = []
        strongest: dict[str, tuple[float, Evidence, bool]] = {}
        for e in c.evidence:
            if e.given is not None and F[e.given] is not True:
                continue
            v = F[e.finding]
            if v is None:
                continue
            lr = e.lr_present if v else e.lr_absent
            if lr is None:
                continue
            if e.group is None:
                ungrouped.append((e, v))
                continue
            # the ratio furthest from 1 on the log scale; the first listed wins a tie
            weight = abs(math.log(lr))
            if e.group not in strongest or weight > strongest[e.group][0]:
                strongest[e.group] = (weight, e, v)
        applied = ungrouped + [(e, v) for _, e, v in strongest.values()]
        odds = c.prior / (1 - c.prior)
        for e, present in applied:
            lr = e.lr_present if present else e.lr_absent
            assert lr is not None
            odds *= lr
        return odds, applied

    def band(self, p: float) -> int:
        bands = self.k.bands
        return 2 if p >= bands.high else 1 if p >= bands.moderate else 0

    def differential(self, case: Case, F: Mapping[str, Tri], flags: Mapping[str, bool]
                     ) -> tuple[list[dict[str, Any]], dict[str, int], list[str]]:
        """The conditions (by band; in a band flagged first, then most probable, then
        priority), each condition's likelihood rank, and the citations used, in order of first
        mention."""
        values: dict[criteria.Ref, Tri] = {criteria.Ref("finding", n): v for n, v in F.items()}
        values |= {criteria.Ref("flag", code): v for code, v in flags.items()}

        def holds(text: str, where: str) -> bool:
            return criteria.evaluate(self.node(text, where), case, values) is True

        prob: dict[str, float] = {}
        rank_of: dict[str, int] = {}
        provisional: dict[str, int] = {}  # 1: a cap holds (a red flag is open)
        flagged: dict[str, int] = {}  # 1: a red flag's floor holds
        entries: dict[str, dict[str, Any]] = {}
        cited: list[str] = []
        # diagnoses of exclusion last: they read the others' probabilities
        order = [code for code, c in self.k.conditions.items() if c.exclusion is None]
        order += [code for code, c in self.k.conditions.items() if c.exclusion is not None]
        for code in order:
            c = self.k.conditions[code]
            evidence: list[str] = []
            against: list[str] = []
            details: list[dict[str, Any]] = []
            rules: list[str] = []
            cites: list[str] = list(c.citations)
            if c.exclusion is None:
                rules.append(f"{code}.prior")
                odds, applied = self.odds(c, F)
                for e, present in applied:
                    f = self.k.findings[e.finding]
                    lr = e.lr_present if present else e.lr_absent
                    label = f.label if present else (f.absent or f"no {f.label}")
                    (evidence if lr is not None and lr > 1 else against).append(label)
                    details.append({"finding": label, "likelihood_ratio": lr, "rule": e.id,
                                    "basis": e.basis, "citations": list(e.citations)})
                    rules.append(e.id)
                    cites += e.citations
                p = odds / (1 + odds)
                for fl in c.floor:
                    is_flags = any(r.kind == "flag"
                                   for r in criteria.refs(self.node(fl.when, fl.id)))
                    if is_flags and holds(fl.when, fl.id):
                        flagged[code] = 1
                    if fl.probability > p and holds(fl.when, fl.id):
                        p = fl.probability
                        evidence.append(self.floor_label(fl.id, fl.when, fl.basis, F, p))
                        rules.append(fl.id)
                        cites += fl.citations
            else:
                ex = c.exclusion
                rules.append(f"{code}.exclusion")
                f = self.k.findings[ex.requires]
                v = F[ex.requires]
                if v is True:
                    p = ex.base
                    evidence.append(f.label)
                elif v is None:
                    p = ex.base * ex.if_unknown
                else:
                    p = ex.base * ex.if_absent
                    against.append(f.absent or "no " + f.label)
                for other in ex.excluded_by:
                    q = prob[other]
                    p *= 1 - q
                    if q >= self.k.bands.moderate:
                        against.append(f"{self.k.conditions[other].label} possible ({q:.0%})")
                cites += ex.citations
            prob[code] = p
            rank = self.band(p)
            provisional[code] = 0
            for cap in c.cap:
                capped = LIKELIHOODS.index(cap.likelihood)
                if holds(cap.when, cap.id):
                    provisional[code] = 1
                if rank > capped and holds(cap.when, cap.id):
                    rank = capped
                    against.append(cap.reason)
                    rules.append(cap.id)
                    cites += cap.citations
            rank_of[code] = rank
            cites = list(dict.fromkeys(cites))
            cited += cites
            entries[code] = {
                "code": code, "label": c.label, "likelihood": LIKELIHOODS[rank],
                # half up to 3 decimals
                "probability": math.floor(p * 1000 + 0.5) / 1000,
                "evidence": evidence, "against": against, "details": details, "rules": rules,
                "citations": cites}
        ranked = sorted(order, key=lambda code: (-rank_of[code], -flagged.get(code, 0),
                                                 provisional[code],
                                                 -entries[code]["probability"],
                                                 self.k.conditions[code].priority))
        return [entries[code] for code in ranked], rank_of, list(dict.fromkeys(cited))

    def floor_label(self, fid: str, when: str, basis: str, F: Mapping[str, Tri], p: float
                    ) -> str:
        used = criteria.refs(self.node(when, fid))
        shown = self.explain([r.name for r in used if r.kind == "finding"], F)
        if not shown:
            shown = [f"{r.name.replace('_', ' ')} red flag" for r in used if r.kind == "flag"]
        kind = "post-test probability" if basis == "published" else "minimum estimate"
        return f"{', '.join(shown)}: {kind} {p:.0%}"

    # --- questions ---------------------------------------------------------------------------

    def ask_paths(self, names: Iterable[str]) -> list[tuple[str, list[str]]]:
        """The findings with a question under ``names``, each with the composite findings
        above it."""
        out: list[tuple[str, list[str]]] = []

        def walk(name: str, above: list[str]) -> None:
            if self.k.findings[name].ask:
                out.append((name, above))
            elif not self.is_leaf(name):
                for child in criteria.refs(self.when[name]):
                    if child.kind == "finding":
                        walk(child.name, [*above, name])

        for n in names:
            walk(n, [])
        return out

    # --- the whole assessment ----------------------------------------------------------------

    def rule_values(self, case: Case) -> dict[str, Tri]:
        """Every rule's value by id: the red-flag rules, the triage rules, the low back pain
        rules."""
        return self._stages(case)[4]

    def _stages(self, case: Case) -> tuple[dict[str, Tri], list[tuple[Any, Tri]],
                                            list[dict[str, Any]], list[str], dict[str, Tri]]:
        """The findings, the red-flag rules with their values, the conditions, their
        citations, and every rule's value."""
        k = self.k
        F = self.findings(case)
        values: dict[criteria.Ref, Tri] = {criteria.Ref("finding", n): v for n, v in F.items()}
        red = [(r, criteria.evaluate(self.node(r.when, r.id), case, values))
               for r in k.red_flag_rules]
        raised = {code: any(v is True for r, v in red if r.flag == code)
                  for code in RED_FLAG_CODES}
        conditions, rank_of, condition_cites = self.differential(case, F, raised)
        values |= {criteria.Ref("flag", code): v for code, v in raised.items()}
        values |= {criteria.Ref("likely", code): r >= 1 for code, r in rank_of.items()}
        values |= {criteria.Ref("high", code): r == 2 for code, r in rank_of.items()}
        status = {r.id: v for r, v in red}
        late = [(r.id, r.when) for r in k.triage_rules] + [(r.id, r.when) for r in k.lbp_rules]
        status |= {rid: criteria.evaluate(self.node(when, rid), case, values)
                   for rid, when in late}
        return F, red, conditions, condition_cites, status

    def assess(self, case: Case) -> dict[str, Any]:
        k = self.k
        F, red, conditions, condition_cites, status = self._stages(case)
        cited: list[str] = []
        flags: dict[str, dict[str, Any]] = {}
        for r, v in red:
            if v is not True:
                continue
            entry = flags.setdefault(r.flag, {"code": r.flag, "evidence": [], "rules": [],
                                              "triage": r.triage, "citations": []})
            entry["rules"].append(r.id)
            for label in self.explain(self.finding_refs(r.when, r.id), F):
                if label not in entry["evidence"]:
                    entry["evidence"].append(label)
            for c in r.citations:
                if c not in entry["citations"]:
                    entry["citations"].append(c)
            if LEVEL_RANK[r.triage] > LEVEL_RANK[entry["triage"]]:
                entry["triage"] = r.triage
            cited += r.citations
        cited += condition_cites

        # every rule that can set the level: the red-flag rules, then the triage rules
        rules: list[tuple[str, str, str, str, list[str], Tri]] = [
            (r.id, r.triage, r.when, r.reason, r.citations, v) for r, v in red]
        rules += [(t.id, t.level, t.when, t.reason, t.citations, status[t.id])
                  for t in k.triage_rules]
        held = [r for r in rules if r[5] is True]
        if held:
            top = max(LEVEL_RANK[r[1]] for r in held)
            at_top = [r for r in held if LEVEL_RANK[r[1]] == top]
            reasons = []
            for rid, _, when, reason, _, _ in at_top:
                shown = self.explain(self.finding_refs(when, rid), F)
                reasons.append(f"{reason} Findings: {', '.join(shown)}." if shown else reason)
            sources = list(dict.fromkeys(c for r in at_top for c in r[4]))
            triage = {"level": at_top[0][1], "reasons": reasons,
                      "rules": [r[0] for r in at_top], "citations": sources}
        else:
            d = k.triage_default
            sources = list(d.citations)
            triage = {"level": d.level, "reasons": [d.reason], "rules": ["tr.default"],
                      "citations": sources}
        cited += sources

        # the diagnoses to consider: each rule that holds, with the findings behind it
        values: dict[criteria.Ref, Tri] = {criteria.Ref("finding", n): v for n, v in F.items()}
        consider = []
        for x in k.considerations:
            if criteria.evaluate(self.node(x.when, x.id), case, values) is True:
                consider.append({"id": x.id, "label": x.label, "reason": x.reason,
                                 "evidence": self.explain(self.finding_refs(x.when, x.id), F),
                                 "citations": list(x.citations)})
                cited += x.citations

        lbp = next((r for r in k.lbp_rules if status[r.id] is True), None)
        if lbp is not None:
            cited += lbp.citations

        # The questions: for each rule that could still raise the level and is unknown, most
        # serious first, the unknown findings with a question under it, none of what is
        # above them known. A question is asked once, for the first rule it could complete.
        now = LEVEL_RANK[str(triage["level"])]
        ask: dict[str, dict[str, Any]] = {}
        for rid, level, when, _, _, v in sorted(rules, key=lambda r: -LEVEL_RANK[r[1]]):
            if LEVEL_RANK[level] <= now or v is not None:
                continue
            for name, above in self.ask_paths(self.finding_refs(when, rid)):
                if name not in ask and F[name] is None and all(F[a] is None for a in above):
                    ask[name] = {"finding": name, "question": k.findings[name].ask, "rule": rid,
                                 "could_raise_to": level}

        scores = score_instruments(case.instruments)
        for name, pr in k.prediction_rules.items():
            items = [F[i] for i in pr.items]
            positive, unknown, result = count_rule(items, pr.rule_in_at_least,
                                                   pr.rule_out_at_most)
            if result == "incomplete" and (len(items) - unknown) * 2 <= len(items):
                continue  # too little known to be worth showing
            meaning = {"rule_in": pr.rule_in, "rule_out": pr.rule_out,
                       "neither": "neither rules in nor rules out",
                       "incomplete": "depends on the items not yet known"}[result]
            scores[name] = {
                "value": positive if unknown == 0 else None, "positive": positive,
                "unknown": unknown, "of": len(items), "range": [positive, positive + unknown],
                "result": result, "meaning": meaning,
                "positive_items": [k.findings[i].label for i in pr.items if F[i] is True],
                "citations": list(pr.citations)}
            cited += pr.citations
        for name, pts in k.points_rules.items():
            known = [i for i in pts.items if F[i.finding] is not None]
            if len(known) * 2 <= len(pts.items):
                continue
            sure = sum(i.points for i in pts.items if F[i.finding] is True)
            open_points = [i.points for i in pts.items if F[i.finding] is None]
            low = sure + sum(p for p in open_points if p < 0)
            high = sure + sum(p for p in open_points if p > 0)
            if low >= pts.positive_at_least:
                outcome, meaning = "positive", pts.positive
            elif high < pts.positive_at_least:
                outcome, meaning = "negative", pts.negative
            else:
                outcome, meaning = "incomplete", "depends on the items not yet known"
            scores[name] = {
                "value": low if low == high else None, "range": [low, high],
                "positive_at_least": pts.positive_at_least, "result": outcome,
                "meaning": meaning,
                "positive_items": [f"{k.findings[i.finding].label} ({i.points:+d})"
                                   for i in pts.items if F[i.finding] is True],
                "unknown": len(open_points), "of": len(pts.items),
                "weights_verified": pts.weights_verified, "citations": list(pts.citations)}
            cited += pts.citations

        return {
            "schema": "spinecare.assessment/1",
            "case_id": case.id,
            "triage": triage,
            "red_flags": list(flags.values()),
            "conditions": conditions,
            "consider": consider,
            "low_back_pain_source": lbp.source if lbp else "undetermined",
            "low_back_pain_source_detail": (
                {"rule": lbp.id, "reason": lbp.reason, "citations": list(lbp.citations)}
                if lbp else {"rule": None, "reason": "Not enough is known to say where "
                             "the low back pain comes from.", "citations": []}),
            "scores": scores,
            "ask": list(ask.values()),
            "citations": {c: self.texts[c] for c in dict.fromkeys(cited)},
            "versions": {"engine": __version__, "knowledge": k.version},
        }
