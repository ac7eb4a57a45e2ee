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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from spinecare import __version__, criteria
from spinecare.case import Case
from spinecare.criteria.logic import Tri, count_decision
from spinecare.instruments.scoring import score_instruments
from spinecare.reasoning.differential import SCRATCH, SCRATCH_LOCALS, differential_lines
from spinecare.reasoning.knowledge import (
    EXPERT,
    LEVEL_RANK,
    RED_FLAG_CODES,
    Condition,
    Knowledge,
    default_knowledge,
)

ASSESSMENT_SCHEMA_ID = "spinecare.assessment/1"
LEVELS = {rank: level for level, rank in LEVEL_RANK.items()}

# (score name, reads the items' values from the findings, rule in at least, rule out at most,
#  item labels, meanings, citations)
_PredictionSpec = tuple[str, Callable[[Sequence[Tri]], tuple[Tri, ...]], int, int,
                        tuple[str, ...], dict[str, str], tuple[str, ...]]
# (score name, (finding index, points, label) per item, item count, threshold, positive meaning,
#  negative meaning, weights verified, citations)
_PointsSpec = tuple[str, tuple[tuple[int, int, str], ...], int, int, str, str, bool,
                    tuple[str, ...]]
# (rank, level, rule id, reason, citations, the questions under it)
_TriageRow = tuple[int, str, str, str, list[str], tuple[tuple[str, tuple[str, ...]], ...]]
# a red-flag rule that holds: (id, flag, triage level, its rank, citations)
_Fired = tuple[str, str, str, int, tuple[str, ...]]
# the low back pain rule that holds: (id, source, reason, citations)
_Lbp = tuple[str, str, str, tuple[str, ...]]
# a diagnosis to consider: (id, label, reason, citations, the indexes of its findings)
_ConsiderRow = tuple[str, str, str, tuple[str, ...], tuple[int, ...]]
_Core = Callable[..., tuple[tuple[Tri, ...], tuple[Tri, ...], list[_Fired],
                               list[_TriageRow], list[dict[str, Any]], dict[str, str],
                               _Lbp | None, list[dict[str, Any]], list[_ConsiderRow]]]
# a rule a question could complete: (place, rank, rule id, its index in the status tuple,
#  level, the indexes of the composite findings above the question)
_QuestionRule = tuple[int, int, str, int, str, tuple[int, ...]]


def _getter(indexes: tuple[int, ...]) -> Callable[[Sequence[Tri]], tuple[Tri, ...]]:
    """Reads the values at ``indexes`` as a tuple, in C."""
    if len(indexes) == 1:
        (i,) = indexes
        return lambda values: (values[i],)
    return itemgetter(*indexes)


@dataclass(frozen=True, slots=True)
class _Compiled:
    when: criteria.Node
    finding_refs: tuple[str, ...]


def _toposort(k: Knowledge, parsed: dict[str, criteria.Node]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            from spinecare.errors import KnowledgeError
            raise KnowledgeError(f"findings.toml: cycle {' -> '.join((*trail, name))}")
        state[name] = 1
        for r in criteria.refs(parsed[name]):
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
        parsed = {n: criteria.parse(f.when, f"findings.toml: {n}", names)
                  for n, f in k.findings.items()}
        self.finding_order = _toposort(k, parsed)
        # The findings of a case are a tuple in this order (building a dict of a hundred
        # entries for every case cost more than all the rules that read them); code that reads
        # them by name goes through this index, resolved once here.
        self.finding_index = {n: i for i, n in enumerate(self.finding_order)}
        at = self.finding_index
        self.finding_children = {
            n: tuple(r.name for r in criteria.refs(parsed[n]) if r.kind == "finding")
            for n in k.findings
        }
        # A finding that reads case facts directly is shown by its own label; one built only
        # from other findings is explained by those that hold.
        self.finding_is_leaf = {n: bool(criteria.facts(parsed[n])) or not self.finding_children[n]
                                for n in k.findings}
        self._finding_batch = [(n, parsed[n]) for n in self.finding_order]
        self.red_rules = [(r, criteria.parse(r.when, r.id, names)) for r in k.red_flag_rules]
        self.conditions: list[tuple[str, Condition]] = sorted(
            k.conditions.items(), key=lambda kv: kv[1].exclusion is not None)
        self._bound_batch: list[tuple[str, criteria.Node]] = []
        for _, c in self.conditions:
            self._bound_batch += [(f.id, criteria.parse(f.when, f.id, names)) for f in c.floor]
            self._bound_batch += [(x.id, criteria.parse(x.when, x.id, names)) for x in c.cap]
        self.triage_rules = [(t, criteria.parse(t.when, t.id, names)) for t in k.triage_rules]
        self.lbp_rules = [(r, criteria.parse(r.when, r.id, names)) for r in k.lbp_rules]
        # Diagnoses to consider: rules over the case and the findings, evaluated at the end of
        # the generated function, where the findings are locals (a batch of their own took a
        # dict of its inputs, built for every case, and gave a dict back).
        consider = [(x, criteria.parse(x.when, x.id, names)) for x in k.considerations]
        self._consider_batch = [(x.id, n) for x, n in consider]
        self._consider_rows: list[_ConsiderRow] = [
            (x.id, x.label, x.reason, tuple(x.citations),
             tuple(self.finding_index[r.name] for r in criteria.refs(n) if r.kind == "finding"))
            for x, n in consider]
        self._late_batch = ([(t.id, n) for t, n in self.triage_rules]
                            + [(r.id, n) for r, n in self.lbp_rules])
        self.rule_refs = {
            rid: tuple(r.name for r in criteria.refs(node) if r.kind == "finding")
            for rid, node in [*((r.id, n) for r, n in self.red_rules),
                              *((t.id, n) for t, n in self.triage_rules)]
        }
        self.rule_ref_index = {rid: tuple(at[n] for n in names_)
                               for rid, names_ in self.rule_refs.items()}
        self.rule_ask_leaves = {rid: self._ask_paths(names_) for rid, names_ in
                                self.rule_refs.items()}
        table = [(LEVEL_RANK[r.triage], r.triage, r.id, r.reason, r.citations)
                 for r in k.red_flag_rules]
        table += [(LEVEL_RANK[t.level], t.level, t.id, t.reason, t.citations)
                  for t in k.triage_rules]
        # Most serious first; a stable sort keeps the knowledge's order within a level.
        self.triage_table = [(*row, self.rule_ask_leaves[row[2]])
                             for row in sorted(table, key=lambda r: -r[0])]
        d = k.triage_default
        self.triage_default = (d.level, d.reason, tuple(d.citations))
        self.questions = {n: f.ask for n, f in k.findings.items() if f.ask}
        self.labels = {n: f.label for n, f in k.findings.items()}
        # for explain: each finding's label, and the parts it is explained by (none for a
        # leaf), by the finding's index
        self.explain_parts = [
            (self.labels[n], () if self.finding_is_leaf[n]
             else tuple(at[c] for c in self.finding_children[n])) for n in self.finding_order]
        self.rule_rank = {row[2]: row[0] for row in self.triage_table}
        # Every rule's value, by id, is a tuple in this order: the red-flag rules, then the
        # triage and low back pain rules.
        self.status_ids = (*(r.id for r, _ in self.red_rules), *(i for i, _ in self._late_batch))
        self.status_index = {rid: i for i, rid in enumerate(self.status_ids)}
        # For each question, the rules it could complete, most serious first, each with its
        # place in that order (rule, then path: one int, cheap to sort by), the rule's place in
        # the status tuple, and the composite findings above it (by index).
        question_rules: dict[str, list[_QuestionRule]] = {}
        place = 0
        for rank, rule_level, rid, _, _, paths in self.triage_table:
            for name, above in paths:
                question_rules.setdefault(name, []).append(
                    (place, rank, rid, self.status_index[rid], rule_level,
                     tuple(at[a] for a in above)))
                place += 1
        self.question_rules = {name: tuple(entries) for name, entries in question_rules.items()}
        # (question, its finding's index, the most serious rank it could raise to, its text,
        #  its rules)
        self.question_list = [(name, at[name], entries[0][1], self.questions[name], entries)
                              for name, entries in self.question_rules.items()]

        self.citation_text = {cid: c.short() for cid, c in k.citations.items()}
        self.citation_text[EXPERT] = "expert judgement (no published source)"
        self.program = criteria.Program()
        self._core = self._compile_core()
        self.floor_refs: dict[str, tuple[tuple[int, ...], tuple[str, ...], bool]] = {}
        for _, c in self.conditions:
            for f in c.floor:
                used = criteria.refs(criteria.parse(f.when, f.id, names))
                self.floor_refs[f.id] = (
                    tuple(at[r.name] for r in used if r.kind == "finding"),
                    tuple(r.name for r in used if r.kind == "flag"), f.basis == "published")
        self.red_by_id = {r.id: r for r in k.red_flag_rules}
        self.points_items = {
            pr.name: tuple((at[i.finding], i.points,
                            f"{k.findings[i.finding].label} ({i.points:+d})") for i in pr.items)
            for pr in k.points_rules.values()}
        self.item_labels = {pr.name: tuple(k.findings[i].label for i in pr.items)
                            for pr in k.prediction_rules.values()}
        self.rule_meanings = {
            pr.name: {"rule_in": pr.rule_in, "rule_out": pr.rule_out,
                      "neither": "neither rules in nor rules out",
                      "incomplete": "depends on the items not yet known"}
            for pr in k.prediction_rules.values()}
        self.versions = {"engine": __version__, "knowledge": k.version}
        self.score_texts = {name: self._texts(tuple(pr.citations)) for name, pr in
                            [*k.prediction_rules.items(), *k.points_rules.items()]}
        # The rules' fields as plain tuples: reading a knowledge model's attribute goes through
        # pydantic's __getattr__ hook, and these are read for every case.
        self.prediction_specs: list[_PredictionSpec] = [
            (name, _getter(tuple(at[i] for i in pr.items)), pr.rule_in_at_least,
             pr.rule_out_at_most, self.item_labels[pr.name], self.rule_meanings[pr.name],
             tuple(pr.citations))
            for name, pr in k.prediction_rules.items()]
        self.points_specs: list[_PointsSpec] = [
            (name, self.points_items[pr.name], len(pr.items), pr.positive_at_least, pr.positive,
             pr.negative, pr.weights_verified, tuple(pr.citations))
            for name, pr in k.points_rules.items()]

    def _compile_core(self) -> _Core:
        """Stages 1-3 and the rules of stage 4 as one generated function of the case:
        findings, red-flag rules, flags, floors and caps, the differential, then the triage and
        low back pain rules, and the questions to ask. Every value is a local of that function,
        read by the later stages without a dict lookup; it returns ``(findings in
        finding_order, every rule's value in status_ids order, the red-flag rules that hold,
        the triage table's rows whose rule holds, conditions, the citations of the red-flag
        rules and conditions (id -> text), the low back pain rule that holds, the questions)``.
        :mod:`spinecare.reasoning.reference` computes the same assessment in plain Python,
        and a test holds the two equal."""
        prog = self.program
        names = prog.names
        # names of the code itself: no rule or finding may be given one
        names.taken.update((*SCRATCH, "F", "FIRED", "HELD", "NOW", "ASK", "LBP_RULE", "CONSIDER",
                            "rules", "_any_item"))
        # The names of the generated code say what each value is: f_<finding>, the rules by
        # their ids (rf_ces_saddle_anaesthesia), flag_<code>, likely_<code>; the constants it
        # reads are globals named likewise (RULE_<id>, ROW_<id>, CITES_<condition>).
        prog.emit(["    # --- findings"])
        found = prog.batch(self._finding_batch, local_kind="finding", prefix="f_")
        # The findings are still needed together, for explanations and scores: as
        # a tuple in finding_order (a dict of a hundred entries cost more to build).
        prog.emit(["    # --- red flags",
                   "    F = (" + "".join(f"{v}, " for v in found) + ")"])
        red = prog.batch([(r.id, n) for r, n in self.red_rules], local_kind=None, prefix="")
        for code in RED_FLAG_CODES:
            # a flag is raised when any of its rules holds (as in assess's list of flags)
            raising = [v for (r, _), v in zip(self.red_rules, red, strict=True) if r.flag == code]
            prog.let(criteria.Ref("flag", code), " or ".join(f"{v} is True" for v in raising)
                     or "False", name=f"flag_{code}")
        # The red-flag rules that hold, in order: straight-line tests of locals, rather than
        # a loop in assess. The citations of the assessment start with theirs (CIT: id ->
        # text, in order of first mention; the differential adds its own next).
        # as plain tuples: a knowledge model's attributes are read through pydantic's
        # __getattr__ hook
        namespace: dict[str, Any] = {}
        prog.emit(["    CIT = {}", "    FIRED = []"])
        for (r, _), v in zip(self.red_rules, red, strict=True):
            fired, texts = names.claim(f"RULE_{r.id}"), names.claim(f"CITES_{r.id}")
            namespace[fired] = (r.id, r.flag, r.triage, LEVEL_RANK[r.triage], tuple(r.citations))
            namespace[texts] = self._texts(r.citations)
            prog.emit([f"    if {v} is True:\n        FIRED.append({fired})\n"
                       f"        CIT.update({texts})"])
        prog.emit(["    # --- floors and caps"])
        bound = dict(zip((i for i, _ in self._bound_batch),
                         prog.batch(self._bound_batch, local_kind=None, prefix=""), strict=True))
        for code, _ in self.conditions:
            prog.local[criteria.Ref("likely", code)] = prog.var(f"likely_{code}")
            prog.local[criteria.Ref("high", code)] = prog.var(f"high_{code}")
        local = prog.local
        lines, more = differential_lines(
            self.knowledge, self.conditions, self._floor_label, self.citation_text,
            finding=lambda n: local[criteria.Ref("finding", n)], bound=bound.__getitem__,
            likely=lambda n: local[criteria.Ref("likely", n)],
            high=lambda n: local[criteria.Ref("high", n)], names=names)
        namespace.update(more)
        prog.emit(lines)
        prog.emit(["    # --- triage and the source of low back pain"])
        late = prog.batch(self._late_batch, local_kind=None, prefix="")
        # the first low back pain rule that holds
        lbp = late[len(self.triage_rules):]
        choice = []
        for (lr, _), v in zip(self.lbp_rules, lbp, strict=True):
            const = names.claim(f"RULE_{lr.id}")
            namespace[const] = (lr.id, lr.source, lr.reason, tuple(lr.citations))
            choice.append(f"{const} if {v} is True else ")
        prog.emit(["    LBP_RULE = " + "".join(choice) + "None"])
        var_of = dict(zip(self.status_ids, [*red, *late], strict=True))
        # The rows of the triage table whose rule holds, in the table's order (most serious
        # first), for _triage.
        prog.emit(["    HELD = []"])
        for table_row in self.triage_table:
            const = names.claim(f"ROW_{table_row[2]}")
            namespace[const] = table_row
            prog.emit([f"    if {var_of[table_row[2]]} is True:\n        HELD.append({const})"])
        prog.emit(["    # --- considerations"])
        considered = prog.batch(self._consider_batch, local_kind=None, prefix="")
        prog.emit(["    CONSIDER = []"])
        for row, v in zip(self._consider_rows, considered, strict=True):
            const = names.claim(f"CONSIDER_{row[0]}")
            namespace[const] = row
            prog.emit([f"    if {v} is True:\n        CONSIDER.append({const})"])
        prog.emit(["    # --- questions"])
        prog.emit(self._ask_lines(found, var_of, namespace, names))
        # Every rule's value, for tests and tools only (rules=True): assess needs the ones that
        # hold, already in FIRED and HELD, and the tuple of them all is not built for it.
        status = "".join(f"{v}, " for v in var_of.values())
        fn: _Core = prog.function(
            f"F, (({status}) if rules else ()), FIRED, HELD, CONDITIONS, CIT, LBP_RULE, ASK, "
            "CONSIDER", f"<spinecare knowledge {self.knowledge.version}: assessment>", namespace,
            hot=SCRATCH_LOCALS, options=("rules",))
        return fn

    def _ask_lines(self, found: list[str], var_of: dict[str, str], namespace: dict[str, Any],
                   names: criteria.Names) -> list[str]:
        """Lines leaving in ``ASK`` the questions to ask: unknown findings whose answers could
        raise the triage level, most serious first, each naming the most serious rule it could
        complete; a question under a composite finding already known is not asked. As
        straight-line tests of the findings' and rules' locals (``found`` and ``var_of``)
        against the level the rules that hold give (``HELD`` is most serious first)."""
        default_rank = LEVEL_RANK[self.triage_default[0]]
        lines = [f"    NOW = HELD[0][0] if HELD else {default_rank}", "    ASK = []"]
        for name, at, top, question, entries in self.question_list:
            # A question is asked for the first of its rules (most serious first) that could
            # still raise the level, is unknown, and has nothing known above the question.
            lines.append(f"    if NOW < {top} and {found[at]} is None:")
            for n, (place, rank, rid, _, rule_level, above) in enumerate(entries):
                test = " and ".join([f"NOW < {rank}", f"{var_of[rid]} is None",
                                     *(f"{found[a]} is None" for a in above)])
                const = names.claim(f"QUESTION_{name}__{rid}")
                namespace[const] = {"finding": name, "question": question, "rule": rid,
                                    "could_raise_to": rule_level}
                lines += [f"        {'if' if n == 0 else 'elif'} {test}:",
                          f"            ASK.append(({place}, {const}))"]
        # places are distinct: the dicts are never compared; each is a copy of the constant
        lines += ["    ASK.sort()", "    ASK = [q.copy() for _, q in ASK]"]
        return lines

    def _texts(self, cites: Iterable[str]) -> dict[str, str]:
        """``cites`` with their text, in order."""
        return {c: self.citation_text[c] for c in cites}

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

    @property
    def source(self) -> str:
        """The generated code of :meth:`assess` (registered in :mod:`linecache` as
        ``<spinecare knowledge VERSION: assessment>``)."""
        return self.program.source

    def findings(self, case: Case) -> dict[str, Tri]:
        """Every finding of ``case`` by name, in ``finding_order`` (for tests and tools; assess
        keeps them as a tuple)."""
        return dict(zip(self.finding_order, self._core(case)[0], strict=True))

    def rule_values(self, case: Case) -> dict[str, Tri]:
        """Every rule's value by id, in ``status_ids`` order (for tests and tools)."""
        return dict(zip(self.status_ids, self._core(case, True)[1], strict=True))

    # --- explanations -----------------------------------------------------------------------

    def explain(self, indexes: Iterable[int], values: Sequence[Tri]) -> list[str]:
        """Labels of the findings (by index) that hold, expanding composite findings into
        their parts. ``values`` are a case's findings, in ``finding_order``."""
        out: dict[str, None] = {}
        for i in indexes:
            self._explain_into(i, values, out)
        return list(out)

    def _explain_into(self, i: int, values: Sequence[Tri], out: dict[str, None]) -> None:
        # A method, not a nested recursive function: a self-referencing closure is a reference
        # cycle, which would leave garbage for the cyclic collector on every case.
        if values[i] is not True:
            return
        label, parts = self.explain_parts[i]
        if parts:
            before = len(out)
            for child in parts:
                if values[child] is True:  # tested here too: most parts do not hold
                    self._explain_into(child, values, out)
            if len(out) != before:
                return
        out[label] = None

    # --- the stages -------------------------------------------------------------------------

    def assess(self, case: Case) -> dict[str, Any]:
        """Assess one validated case. Pure: the same case always gives the same assessment."""
        return self.assess_with_findings(case)[0]

    def assess_with_findings(self, case: Case) -> tuple[dict[str, Any], Sequence[Tri]]:
        """:meth:`assess`, and every finding's value in ``finding_order`` from the same
        evaluation (the screening reference needs both; evaluating twice cost a third of it)."""
        try:
            F, _, fired, held, conditions, cited, lbp_rule, ask, considered = self._core(case)
        except Exception as exc:
            # said in the knowledge's terms: the rule whose line failed, and its version
            error = self.program.error(exc, self.knowledge.version, (case,))
            if error is None:
                raise
            # from the exception on the generated line (the native build's is found again by
            # running the case through the Python function)
            raise error from error.cause

        # cited: the citations (id -> text), in order of first mention; the red-flag rules'
        # and the conditions' are already in
        explained: dict[str, list[str]] = {}  # rule id -> the findings shown for it
        flags: dict[str, dict[str, Any]] = {}
        for rid, flag, rule_triage, rank, cite in fired:
            entry = flags.get(flag)
            if entry is None:
                entry = flags[flag] = {"code": flag, "evidence": [], "rules": [],
                                       "triage": rule_triage, "citations": []}
            entry["rules"].append(rid)
            shown = explained[rid] = self.explain(self.rule_ref_index[rid], F)
            for label in shown:
                if label not in entry["evidence"]:
                    entry["evidence"].append(label)
            for c in cite:
                if c not in entry["citations"]:
                    entry["citations"].append(c)
            if rank > LEVEL_RANK[entry["triage"]]:
                entry["triage"] = rule_triage
        triage = self._triage(held, F, cited, explained)
        consider = self._consider(considered, F, cited)
        lbp_source = lbp_rule[1] if lbp_rule else "undetermined"
        if lbp_rule is not None:
            cited.update(self._texts(lbp_rule[3]))

        scores = score_instruments(case.instruments)
        for spec in self.prediction_specs:
            result = self._prediction_rule(spec, F)
            if result is not None:
                scores[spec[0]] = result
                cited.update(self.score_texts[spec[0]])
        for pspec in self.points_specs:
            result = self._points_rule(pspec, F)
            if result is not None:
                scores[pspec[0]] = result
                cited.update(self.score_texts[pspec[0]])

        return {
            "schema": ASSESSMENT_SCHEMA_ID,
            "case_id": case.id,
            "triage": triage,
            "red_flags": list(flags.values()),
            "conditions": conditions,
            "consider": consider,
            "low_back_pain_source": lbp_source,
            "low_back_pain_source_detail": (
                {"rule": lbp_rule[0], "reason": lbp_rule[2], "citations": list(lbp_rule[3])}
                if lbp_rule else {"rule": None, "reason": "Not enough is known to say where "
                                  "the low back pain comes from.", "citations": []}),
            "scores": scores,
            "ask": ask,
            "citations": cited,
            "versions": dict(self.versions),
        }, F

    def _consider(self, held: list[_ConsiderRow], F: Sequence[Tri], cited: dict[str, str]
                  ) -> list[dict[str, Any]]:
        """The diagnoses to consider whose rule holds (``held``, in the knowledge's order),
        each with the findings behind it."""
        out = []
        for rid, label, reason, cites, refs in held:
            out.append({"id": rid, "label": label, "reason": reason,
                        "evidence": self.explain(refs, F), "citations": list(cites)})
            cited.update(self._texts(cites))
        return out

    def _floor_label(self, floor_id: str, F: Sequence[Tri], p: float) -> str:
        """Why a floor raised the estimate: the findings (or red flags) behind it, and whether
        the floor is a published post-test probability or a minimum set by judgement."""
        findings, flags, published = self.floor_refs[floor_id]
        shown = self.explain(findings, F) or [f"{f.replace('_', ' ')} red flag" for f in flags]
        kind = "post-test probability" if published else "minimum estimate"
        return f"{', '.join(shown)}: {kind} {p:.0%}"

    def _triage(self, held: list[_TriageRow], F: Sequence[Tri], cited: dict[str, str],
                explained: dict[str, list[str]]) -> dict[str, Any]:
        """The highest level among the rules that hold, with every rule at that level.
        ``held`` is the rows of the triage table whose rule holds, most serious first."""
        if not held:
            level, default_reason, default_cite = self.triage_default
            cited.update(self._texts(default_cite))
            return {"level": level, "reasons": [default_reason], "rules": ["tr.default"],
                    "citations": list(default_cite)}
        top = held[0][0]
        reasons: list[str] = []
        rules: list[str] = []
        sources: dict[str, None] = {}
        for rank, _, rid, reason, cite, _ in held:
            if rank < top:
                break
            shown = explained.get(rid)
            if shown is None:
                shown = self.explain(self.rule_ref_index[rid], F)
            reasons.append(f"{reason} Findings: {', '.join(shown)}." if shown else reason)
            rules.append(rid)
            sources.update(dict.fromkeys(cite))
        cited.update(self._texts(sources))
        return {"level": LEVELS[top], "reasons": reasons, "rules": rules,
                "citations": list(sources)}

    def _prediction_rule(self, spec: _PredictionSpec, F: Sequence[Tri]
                         ) -> dict[str, Any] | None:
        """A counting rule: positives, the range while items are unknown, and its result."""
        _, get, rule_in_at_least, rule_out_at_most, labels, meanings, cite = spec
        values = get(F)
        # counted in C: the values are only True, False and None
        positive, unknown = values.count(True), values.count(None)
        result = count_decision(positive, unknown, rule_in_at_least, rule_out_at_most)
        n = len(values)
        if result == "incomplete" and (n - unknown) * 2 <= n:
            return None  # too little known to be worth showing
        return {
            "value": positive if unknown == 0 else None,
            "positive": positive, "unknown": unknown, "of": n,
            "range": [positive, positive + unknown], "result": result,
            "meaning": meanings[result],
            "positive_items": [label for label, v in zip(labels, values, strict=True)
                               if v is True] if positive else [],
            "citations": list(cite),
        }

    def _points_rule(self, spec: _PointsSpec, F: Sequence[Tri]) -> dict[str, Any] | None:
        """A points rule: the score, or its range while items are unknown."""
        _, items, n, positive_at_least, positive, negative, weights_verified, cite = spec
        low = high = known = 0
        positive_items = []
        for finding, points, shown in items:
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
        if known * 2 <= n:
            return None  # too little known to be worth showing
        if low >= positive_at_least:
            result, meaning = "positive", positive
        elif high < positive_at_least:
            result, meaning = "negative", negative
        else:
            result, meaning = "incomplete", "depends on the items not yet known"
        return {
            "value": low if low == high else None, "range": [low, high],
            "positive_at_least": positive_at_least, "result": result, "meaning": meaning,
            "positive_items": positive_items, "unknown": n - known,
            "of": n, "weights_verified": weights_verified,
            "citations": list(cite),
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
