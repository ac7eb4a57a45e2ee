"""Links between the knowledge files and the code: ids resolve, everything is reachable, every
rule cites a source, and broken knowledge is refused with a message naming the item."""

from __future__ import annotations

import re
from importlib.resources import as_file, files
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from spinecare import criteria
from spinecare.case import parse_case
from spinecare.errors import KnowledgeError
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import EXPERT, cited_items, default_knowledge, load_knowledge
from tests.conftest import broken_copy
from tests.strategies import valid_case_documents

KNOWLEDGE = default_knowledge()


def _knowledge_dir() -> Path:
    with as_file(files("spinecare.knowledge")) as path:
        return Path(path)


def test_every_finding_is_used_by_a_rule_a_condition_or_another_finding() -> None:
    used: set[str] = set()
    exprs = [f.when for f in KNOWLEDGE.findings.values()]
    exprs += [r.when for r in KNOWLEDGE.red_flag_rules] + [t.when for t in KNOWLEDGE.triage_rules]
    exprs += [r.when for r in KNOWLEDGE.lbp_rules]
    for c in KNOWLEDGE.conditions.values():
        exprs += [f.when for f in c.floor] + [x.when for x in c.cap]
        used |= {e.finding for e in c.evidence} | {e.given for e in c.evidence if e.given}
        if c.exclusion:
            used.add(c.exclusion.requires)
    for text in exprs:
        used |= {r.name for r in criteria.refs(criteria.parse(text, "test")) if r.kind == "finding"}
    for p in KNOWLEDGE.prediction_rules.values():
        used |= set(p.items)
    for points in KNOWLEDGE.points_rules.values():
        used |= {i.finding for i in points.items}
    assert set(KNOWLEDGE.findings) - used == set()


def test_every_flag_and_likelihood_reference_names_a_real_code() -> None:
    from spinecare.reasoning.knowledge import CONDITION_CODES, RED_FLAG_CODES

    texts = [r.when for r in KNOWLEDGE.triage_rules] + [r.when for r in KNOWLEDGE.lbp_rules]
    for c in KNOWLEDGE.conditions.values():
        texts += [f.when for f in c.floor] + [x.when for x in c.cap]
    for text in texts:
        for r in criteria.refs(criteria.parse(text, "test")):
            if r.kind == "flag":
                assert r.name in RED_FLAG_CODES, text
            elif r.kind in ("likely", "high"):
                assert r.name in CONDITION_CODES, text


def test_every_red_flag_code_can_be_raised_by_some_rule() -> None:
    from spinecare.reasoning.knowledge import RED_FLAG_CODES

    assert {r.flag for r in KNOWLEDGE.red_flag_rules} == set(RED_FLAG_CODES)


def test_every_rule_weight_and_threshold_cites_a_source() -> None:
    items = cited_items(KNOWLEDGE)
    assert len(items) > 100
    for where, item in items:
        assert item.cite, where
        for cid in item.cite:
            assert cid == EXPERT or cid in KNOWLEDGE.citations, (where, cid)


def test_every_citation_is_used_somewhere() -> None:
    root = _knowledge_dir()
    text = "\n".join(p.read_text() for p in root.rglob("*.toml") if p.parent.name != "citations")
    unused = [cid for cid in KNOWLEDGE.citations if f'"{cid}"' not in text]
    assert unused == []


def test_every_citation_has_a_verification_tag_and_a_place_to_find_it() -> None:
    for cid, c in KNOWLEDGE.citations.items():
        assert c.verification in ("V", "P", "U"), cid
        assert c.journal and c.authors, cid


def _broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return broken_copy(_knowledge_dir(), tmp_path / "knowledge", file, old, new)


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("red_flags.toml", 'when = "saddle_anaesthesia"', 'when = "saddle_anesthesia_typo"',
     r"red_flags.toml: rf.ces.saddle_anaesthesia: unknown finding 'saddle_anesthesia_typo'"),
    ("findings.toml", "symptoms.leg_pain == 'both'\"", "symptoms.leg_pain == 'bilateral'\"",
     r"findings.toml: bilateral_leg_pain: symptoms.leg_pain is never 'bilateral'"),
    ("red_flags.toml", 'triage = "emergency"', 'triage = "emergency"\nsevere = true',
     r"red_flags.toml: rf.ces.saddle_anaesthesia: severe: unknown key"),
    ("conditions.toml", 'citations = ["suri2010"]', 'citations = ["suri2011"]',
     r"cites unknown source 'suri2011'"),
    ("conditions.toml", 'lr_present = 7.4\ncitations = ["suri2010"]\nbasis = "published"',
     'lr_present = 7.4\ncitations = ["suri2010"]\nbasis = "expert_judgement"',
     r"lss.no_pain_seated: basis is 'expert_judgement' but its sources make it 'published'"),
    ("findings.toml", 'when = "low_back_pain or neck_pain or thoracic_pain"',
     'when = "low_back_pain or neck_pain or thoracic_pain or spinal_pain"', r"cycle"),
    ("findings.toml", 'when = "patient.age > 70"', 'when = "patient.age"',
     r"age_over_70: patient.age is not a yes/no finding"),
    ("findings.toml", 'when = "history.fever"', 'when = "history.fevers"',
     r"fever: unknown case fact history.fevers"),
])
def test_broken_knowledge_is_refused_naming_the_item(tmp_path: Path, file: str, old: str,
                                                      new: str, message: str) -> None:
    from importlib.resources.abc import Traversable

    folder: Traversable = _broken(tmp_path, file, old, new)  # type: ignore[assignment]
    with pytest.raises(KnowledgeError, match=message):
        from spinecare.reasoning.engine import Engine

        Engine(load_knowledge(folder))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_compiled_knowledge_agrees_with_the_reference_interpreter(doc: dict) -> None:
    engine = default_engine()
    case = parse_case(orjson.dumps(doc))
    compiled = engine._findings(case)
    names = frozenset(KNOWLEDGE.findings)
    interpreted: dict[criteria.Ref, bool | None] = {}
    for name in engine.finding_order:
        node = criteria.parse(KNOWLEDGE.findings[name].when, name, names)
        interpreted[criteria.Ref("finding", name)] = criteria.evaluate(node, case, interpreted)
        assert compiled[name] is interpreted[criteria.Ref("finding", name)], name
    red = engine._red(case, compiled)
    for rule, node in engine.red_rules:
        assert red[rule.id] is criteria.evaluate(node, case, interpreted), rule.id


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_single_compiled_function_agrees_with_the_stages_one_by_one(doc: dict) -> None:
    from spinecare.reasoning.engine import LEVELS
    from spinecare.reasoning.knowledge import LEVEL_RANK, RED_FLAG_CODES

    engine = default_engine()
    case = parse_case(orjson.dumps(doc))
    values, rule_values, fired, held, conditions, cites, lbp, ask = engine._core(case)
    F = dict(zip(engine.finding_order, values, strict=True))
    status = dict(zip(engine.status_ids, rule_values, strict=True))
    staged_F = engine._findings(case)
    staged_red = engine._red(case, staged_F)
    raised = {engine.red_by_id[rid].flag for rid, v in staged_red.items() if v is True}
    flags = {code: code in raised for code in RED_FLAG_CODES}
    staged = engine._differential(staged_F, engine._bounds(case, staged_F, flags))
    assert staged_F == F and list(staged_F) == list(F)
    assert conditions == staged[0]
    # the citations: the red-flag rules' that hold, then the conditions', in order
    expected_cites = engine._texts(c for r, _ in engine.red_rules if staged_red[r.id] is True
                                   for c in r.cite) | staged[3]
    assert cites == expected_cites and list(cites) == list(expected_cites)
    staged_late = engine._late(case, staged_F, flags, staged[1], staged[2])
    staged_status = staged_red | staged_late
    assert status == staged_status and list(status) == list(staged_status)
    for d in (F, status):
        assert all(v is None or type(v) is bool for v in d.values())
    assert fired == [(r.id, r.flag, r.triage, LEVEL_RANK[r.triage], tuple(r.cite))
                     for r, _ in engine.red_rules if staged_red[r.id] is True]
    assert held == [row for row in engine.triage_table if staged_status[row[2]] is True]
    assert lbp == next(((r.id, r.source, r.reason, tuple(r.cite)) for r, _ in engine.lbp_rules
                        if staged_late[r.id] is True), None)
    level = LEVELS[held[0][0]] if held else engine.triage_default[0]
    assert ask == engine._ask(rule_values, values, level)


def test_a_syntax_error_names_the_item() -> None:
    with pytest.raises(KnowledgeError, match=re.escape("rule.x: cannot parse")):
        criteria.parse("saddle and (", "rule.x")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_compiled_differential_agrees_with_plain_iteration(doc: dict) -> None:
    from spinecare.reasoning.differential import reference_odds

    engine = default_engine()
    a = engine.assess(parse_case(orjson.dumps(doc)))
    for c in a["conditions"]:
        condition = KNOWLEDGE.conditions[c["code"]]
        if condition.exclusion is not None:
            continue
        odds, used = reference_odds(condition, engine._findings(parse_case(orjson.dumps(doc))))
        bounds = {f.id for f in condition.floor} | {x.id for x in condition.cap}
        assert [r for r in c["rules"][1:] if r not in bounds] == used
        if not any(r in bounds for r in c["rules"]):
            assert c["probability"] == pytest.approx(odds / (1 + odds), abs=0.0006)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_questions_to_ask_follow_the_rules_most_serious_first(doc: dict) -> None:
    from spinecare.reasoning.knowledge import LEVEL_RANK, RED_FLAG_CODES

    engine = default_engine()
    case = parse_case(orjson.dumps(doc))
    a = engine.assess(case)
    F = engine._findings(case)
    red = engine._red(case, F)
    raised = {engine.red_by_id[rid].flag for rid, v in red.items() if v is True}
    flags = {code: code in raised for code in RED_FLAG_CODES}
    _, likely, high, _ = engine._differential(F, engine._bounds(case, F, flags))
    status = red | engine._late(case, F, flags, likely, high)
    # plain iteration: pending rules above the current level, in the knowledge's order
    expected: dict[str, str] = {}
    now = LEVEL_RANK[a["triage"]["level"]]
    for rank, _, rid, _, _, paths in engine.triage_table:
        if rank <= now or status[rid] is not None:
            continue
        for name, above in paths:
            if F[name] is None and all(F[x] is None for x in above):
                expected.setdefault(name, rid)
    assert [(q["finding"], q["rule"]) for q in a["ask"]] == list(expected.items())
