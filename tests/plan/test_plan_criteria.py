"""Plan rules in the criteria language: every rule's ``when`` is parsed at load, reads
only what a situation provides, and an unknown result names what is missing in the plan's words."""

from __future__ import annotations

import pytest

from spinecare import criteria
from spinecare.case import parse_case
from spinecare.criteria.nodes import walk
from spinecare.errors import KnowledgeError
from spinecare.plan.rules import RED_FLAGS, load_plan_rules, parse_when
from spinecare.plan.select import MISSING_DURATION, MISSING_MJOA, Situation, holds, missing

RULES = load_plan_rules()
EMPTY = parse_case(b'{"schema": "spinecare.case/1", "id": "empty", "patient": {"age": 60}}')


def _situation(**change: object) -> Situation:
    fields: dict[str, object] = dict(
        case=EMPTY, triage="routine", flags={}, likelihood={}, order=(), mjoa_band=None,
        duration_weeks=None, triage_rules=frozenset(), lbp_source=None)
    fields.update(change)
    return Situation(**fields)  # type: ignore[arg-type]


# Every flag raised without a level, nothing scored, no duration, an empty case: as much unknown
# as a situation can hold.
UNKNOWN = _situation(flags=dict.fromkeys(RED_FLAGS), triage="urgent")


def test_every_rule_has_a_criterion_built_at_load() -> None:
    ids = {r.id for _, r in RULES.all_rules() if hasattr(r, "when")}
    assert set(RULES.when_criteria) == ids


@pytest.mark.parametrize("rule_id", sorted(RULES.when_criteria))
def test_every_rule_reads_only_what_a_situation_provides_and_words_what_is_missing(
    rule_id: str,
) -> None:
    node = RULES.when_criteria[rule_id]
    values = UNKNOWN.values()
    for leaf in walk(node):
        if isinstance(leaf, criteria.Ref):
            _ = values[leaf]  # a reference no situation has raises KeyError
    value, what = holds(node, UNKNOWN)
    assert (value is None) == bool(what), (value, what)


@pytest.mark.parametrize(("leaf", "words"), [
    (criteria.Ref("situation", "mjoa_band"), MISSING_MJOA),
    (criteria.Ref("situation", "duration_weeks"), MISSING_DURATION),
    (criteria.Ref("flag_level", "fracture"), "triage level of the fracture red flag"),
    (criteria.Fact("history", "course"), "history.course"),
])
def test_a_missing_leaf_is_named_as_the_plan_has_always_named_it(
    leaf: criteria.Fact | criteria.Ref, words: str,
) -> None:
    assert missing(leaf) == words


def test_a_reference_that_is_never_unknown_has_no_wording() -> None:
    with pytest.raises(ValueError, match="never unknown"):
        missing(criteria.Ref("flag", "fracture"))


def test_a_flag_raised_without_a_level_leaves_its_level_rule_pending() -> None:
    node = parse_when("flag.fracture and flag_level.fracture in ('urgent',)", "x", {})
    assert holds(node, _situation(flags={"fracture": None})) == (
        None, frozenset({"triage level of the fracture red flag"}))
    assert holds(node, _situation(flags={})) == (False, frozenset())
    assert holds(node, _situation(flags={"fracture": "urgent"})) == (True, frozenset())


@pytest.mark.parametrize("name", sorted(RULES.define))
def test_a_defined_name_is_the_same_criterion_as_writing_it_out(name: str) -> None:
    assert parse_when(name, "x", RULES.defined) == RULES.defined[name]
    assert parse_when(f"({RULES.define[name]})", "x", RULES.defined) == RULES.defined[name]


@pytest.mark.parametrize("rule_id", sorted(RULES.when_criteria))
def test_every_rule_reads_back_from_its_criteria_text(rule_id: str) -> None:
    node = RULES.when_criteria[rule_id]
    text = criteria.unparse(node)
    assert criteria.parse(text, rule_id, frozenset(), references=criteria.PLAN_REFERENCES) == node


def test_a_rule_written_as_criteria_text_reads_what_it_says() -> None:
    text = ("situation.triage in ('urgent', 'emergency') and flag.cauda_equina_syndrome "
            "and flag_level.fracture in ('urgent',) and not known(situation.mjoa_band) "
            "and triage_rule.tr.routine.cord_compression_imaging")
    parsed = parse_when(text, "x", {})
    pending = _situation(triage="urgent", flags={"cauda_equina_syndrome": "emergency",
                                                 "fracture": None},
                         triage_rules=frozenset({"tr.routine.cord_compression_imaging"}))
    assert holds(parsed, pending) == (None, frozenset({"triage level of the fracture red flag"}))
    ok = _situation(triage="urgent", flags={"cauda_equina_syndrome": "emergency",
                                            "fracture": "urgent"},
                    triage_rules=frozenset({"tr.routine.cord_compression_imaging"}))
    assert holds(parsed, ok) == (True, frozenset())
    assert holds(parsed, _situation(triage="routine"))[0] is False


def test_the_assessment_knowledge_cannot_read_what_only_a_plan_knows() -> None:
    with pytest.raises(KnowledgeError, match="unknown section 'situation'"):
        criteria.parse("situation.triage in ('urgent',)", "findings.toml: x", frozenset())
