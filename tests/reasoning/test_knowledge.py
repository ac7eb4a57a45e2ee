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
from spinecare.reasoning.reference import Reference
from tests.conftest import broken_copy
from tests.strategies import valid_case_documents

KNOWLEDGE = default_knowledge()
# the plain reference of the whole assessment: its findings and rule values are computed
# without the code generator
REFERENCE = Reference(KNOWLEDGE)


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
        assert item.citations, where
        for cid in item.citations:
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
    ("conditions.toml",
     'citations = ["suri2010", "altman_oa_criteria"]\nbasis = "published"',
     'citations = ["suri2010", "altman_oa_criteria"]\nbasis = "expert_judgement"',
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
        odds, used = reference_odds(condition, REFERENCE.findings(parse_case(orjson.dumps(doc))))
        bounds = {f.id for f in condition.floor} | {x.id for x in condition.cap}
        assert [r for r in c["rules"][1:] if r not in bounds] == used
        if not any(r in bounds for r in c["rules"]):
            assert c["probability"] == pytest.approx(odds / (1 + odds), abs=0.0006)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_case_documents)
def test_the_questions_to_ask_follow_the_rules_most_serious_first(doc: dict) -> None:
    from spinecare.reasoning.knowledge import LEVEL_RANK

    engine = default_engine()
    case = parse_case(orjson.dumps(doc))
    a = engine.assess(case)
    F = REFERENCE.findings(case)
    status = REFERENCE.rule_values(case)
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
