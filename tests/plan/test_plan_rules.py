"""Contract tests for the care-plan rules (knowledge/plan_rules.toml) and their links.

Every rule is checked (parametrised by id) so a new rule cannot skip a check: its sources
resolve, it can fire for some situation, and every id it names exists. The snippet tests append
one broken rule to the packaged file and show the loader rejects it, naming the rule; the
control appends a valid rule and shows it loads and fires, so the harness can pass as well as
fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import orjson
import pytest

from spinecare import criteria
from spinecare.case import parse_case
from spinecare.criteria.nodes import walk
from spinecare.plan.knowledge import (
    EXPERT_JUDGEMENT,
    NEGATIVE_RECOMMENDATIONS,
    ExerciseLibrary,
    KnowledgeFileError,
    TreatmentBase,
    load_citations,
    unresolved_citations,
    verify_citations,
)
from spinecare.plan.planner import PlanKnowledge, make_plan
from spinecare.plan.rules import (
    LEVELS,
    SECTIONS,
    PlanRules,
    load_plan_rules,
    parse_plan_rules,
    parse_when,
)
from spinecare.plan.select import holds
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import default_knowledge
from tests.plan.conftest import case_document
from tests.plan.witness import dnf, witness
from tests.plan.witness import situation_of as _situation_of

RULES = load_plan_rules()
TEXT = (files("spinecare.knowledge") / "plan_rules.toml").read_text(encoding="utf-8")
CITED = sorted(RULES.cited_ids().items())
RULE_IDS = [r.id for s in ("contraindication", *SECTIONS) for r in RULES.rules(s)]


def witness_situation(triage: str) -> Any:
    """A situation with this triage level and nothing else known."""
    return _situation_of({criteria.Ref("situation", "triage"): triage})


def _rule(section: str, rule_id: str) -> Any:
    return next(r for r in RULES.rules(section) if r.id == rule_id)


def _sections() -> Iterator[tuple[str, Any]]:
    for section in ("contraindication", *SECTIONS):
        for rule in RULES.rules(section):
            yield section, rule


# ---------------------------------------------------------------------------------------------
# The file as a whole
# ---------------------------------------------------------------------------------------------


def test_plan_rules_carry_a_version_and_cover_every_section() -> None:
    assert RULES.version == "2026.12.0"
    for section in SECTIONS:
        assert RULES.rules(section), section
    assert set(RULES.levels) == set(LEVELS)


def test_plan_rules_round_trip_through_json() -> None:
    assert PlanRules.model_validate_json(RULES.model_dump_json()) == RULES


def test_loading_is_cached() -> None:
    assert load_plan_rules() is load_plan_rules()


def test_rule_ids_are_unique() -> None:
    ids = [getattr(item, "id", None) for _, item in RULES.all_rules()]
    ids = [i for i in ids if i is not None]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("level", LEVELS)
def test_every_triage_level_has_a_referral_that_needs_nothing_else(level: str) -> None:
    s = witness_situation(triage=level)
    fired = [r.id for r in RULES.referral if holds(RULES.criterion(r), s)[0] is True]
    assert fired, f"no referral for a bare {level} situation"


# ---------------------------------------------------------------------------------------------
# Sources: every rule, treatment and exercise cites something that resolves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "cited"), CITED, ids=[c[0] for c in CITED])
def test_every_plan_rule_cites_a_source_that_resolves(item: str, cited: frozenset[str]) -> None:
    assert cited, f"{item} cites nothing"
    assert unresolved_citations({item: cited}, set(load_citations())) == {}


def test_every_treatment_and_exercise_carries_a_resolving_citation(
    treatments: TreatmentBase, exercises: ExerciseLibrary
) -> None:
    for item, ids in (*treatments.cited_ids().items(), *exercises.cited_ids().items()):
        assert ids, f"{item} cites nothing"
    verify_citations(set(load_citations()), treatments, exercises)


def test_the_citation_check_fails_for_an_unknown_source(treatments: TreatmentBase) -> None:
    known = set(load_citations()) - {"nice_ng59"}
    with pytest.raises(KnowledgeFileError, match="unknown source 'nice_ng59'"):
        verify_citations(known, treatments)


def test_plan_citations_do_not_reuse_ids_of_other_citation_files() -> None:
    # load_citations refuses duplicates across files; loading proves plan.toml adds only new ids.
    sources = load_citations()
    assert {"nass_choosing_wisely", "acr_lbp2021", "tandem_cervical_decompression2020",
            "alvin2018"} <= set(sources)
    assert EXPERT_JUDGEMENT not in sources


# ---------------------------------------------------------------------------------------------
# Links to the other knowledge
# ---------------------------------------------------------------------------------------------


def test_engine_rule_ids_named_by_plan_rules_exist() -> None:
    k = default_knowledge()
    engine_ids = {r.id for r in k.triage_rules} | {r.id for r in k.red_flag_rules}
    named = {n.name for node in RULES.when_criteria.values() for n in walk(node)
             if isinstance(n, criteria.Ref) and n.kind == "triage_rule"}
    assert named and named <= engine_ids


def test_review_instruments_have_instrument_knowledge() -> None:
    folder = files("spinecare.knowledge") / "instruments"
    shipped = {e.name.removesuffix(".toml") for e in folder.iterdir()}
    assert {r.instrument for r in RULES.review if r.instrument} <= shipped


@pytest.mark.parametrize("rule", [r for r in RULES.avoid if r.condition], ids=lambda r: r.id)
def test_a_condition_avoid_rule_lists_every_treatment_advised_against_for_it(
    rule: Any, treatments: TreatmentBase
) -> None:
    negative = {
        tid for tid, t in treatments.treatments.items()
        if rule.condition in t.conditions
        and t.verdict_for(rule.condition)[1] in NEGATIVE_RECOMMENDATIONS
    }
    # where guidelines differ, the plan shows the disagreement instead
    disputed = {t for d in RULES.disagreement if d.condition == rule.condition
                for t in d.treatments}
    assert negative - set(rule.treatments) - disputed == set()


def test_every_negatively_recommended_treatment_is_avoided_somewhere(
    treatments: TreatmentBase,
) -> None:
    avoided = {t for r in RULES.avoid for t in r.treatments}
    avoided |= {t for d in RULES.disagreement for t in d.treatments}
    negative = {tid for tid, t in treatments.treatments.items()
                if any(t.verdict_for(c)[1] in NEGATIVE_RECOMMENDATIONS for c in t.conditions)}
    assert negative - avoided == set()


def test_every_treatment_with_claims_is_answered_in_some_plan(treatments: TreatmentBase) -> None:
    answered = {t for r in RULES.claims for t in r.treatments}
    with_claims = {tid for tid, t in treatments.treatments.items() if t.claims}
    assert with_claims - answered == set()


def test_every_programme_template_offers_flexion_walking_cycling_neck_or_balance_work(
    exercises: ExerciseLibrary,
) -> None:
    categories = {exercises.exercises[e].category for t in RULES.programme.templates
                  for e in t.exercises}
    assert {"flexion_bias", "walking", "cycling", "neck", "balance"} <= categories


# ---------------------------------------------------------------------------------------------
# Reachability: every rule can fire for some situation
# ---------------------------------------------------------------------------------------------


REACHABLE = [(s, r) for s, r in _sections()] + [("programme", w) for w in
                                                 RULES.programme.withhold]


@pytest.mark.parametrize(("section", "rule"), REACHABLE, ids=[r.id for _, r in REACHABLE])
def test_every_rule_can_fire_for_some_situation(section: str, rule: Any) -> None:
    assert witness(RULES.criterion(rule)) is not None, f"{section} rule {rule.id} can never fire"


@pytest.mark.parametrize(
    "dead",
    [
        "situation.triage in ('emergency',) and not_emergency",
        "flag.myelopathy and no_red_flags",
        "likely.lumbar_spinal_stenosis and unlikely.lumbar_spinal_stenosis",
        "situation.mjoa_band in ('mild',) and not known(situation.mjoa_band)",
        "situation.duration_weeks >= 6 and not known(situation.duration_weeks)",
    ],
    ids=["triage", "red flag", "likelihood", "mjoa", "duration"],
)
def test_the_reachability_check_catches_a_contradictory_rule(dead: str) -> None:
    assert witness(parse_when(dead, "dead", RULES.defined)) is None


# ---------------------------------------------------------------------------------------------
# The loader rejects broken rules (each snippet breaks one link of a valid rule)
# ---------------------------------------------------------------------------------------------

VALID_REFERRAL = """
[[referral]]
id = "ref.test.hip_physio"
when = "likely.hip_osteoarthritis and situation.triage in ('routine',)"
to = "Test physiotherapist"
urgency = "routine"
patient_text = "A physiotherapist may check the hip."
clinician_text = "Test rule."
citations = ["expert_judgement"]
"""


def _load(extra: str) -> PlanRules:
    return parse_plan_rules(TEXT + extra)


def test_a_valid_added_rule_loads_and_fires(
    treatments: TreatmentBase, exercises: ExerciseLibrary
) -> None:
    k = PlanKnowledge(_load(VALID_REFERRAL), treatments, exercises, load_citations())
    doc = case_document("lss-classic", exam={"hip_rotation_pain": True})
    doc["symptoms"].update({"claudication": False, "relief_forward_flexion": False,
                            "worse_standing": False, "relief_sitting": False})
    case = parse_case(orjson.dumps(doc))
    assessment = default_engine().assess(case)
    likely = {c["code"] for c in assessment["conditions"] if c["likelihood"] != "low"}
    assert "hip_osteoarthritis" in likely, "pick another case that makes hip OA possible"
    plan = make_plan(case, assessment, knowledge=k)
    assert "ref.test.hip_physio" in [r["rule"] for r in plan["referral"]]
    assert "ref.test.hip_physio" not in [r["rule"] for r in make_plan(case, assessment)["referral"]]


BROKEN = {
    "unknown condition code": (
        ("likely.hip_osteoarthritis", "likely.hip_arthritis"),
        "referral[ref.test.hip_physio].when: unknown likely 'hip_arthritis'",
    ),
    "unknown urgency word": (('urgency = "routine"', 'urgency = "soonish"'),
                             "referral[ref.test.hip_physio].urgency"),
    "misspelt key": (('urgency = "routine"', 'urgncy = "routine"'),
                     "referral[ref.test.hip_physio].urgncy: unknown key"),
    "no citations": (('citations = ["expert_judgement"]', "citations = []"),
                     "referral[ref.test.hip_physio].citations"),
    "unknown named criterion": (("situation.triage in ('routine',)", "no_such_criterion"),
                                "unknown finding 'no_such_criterion'"),
    "unknown case field": (("situation.triage in ('routine',)", "history.smoking"),
                           "unknown case fact history.smoking"),
    "impossible case value": (("situation.triage in ('routine',)",
                               "history.course in ('sideways',)"),
                              "history.course is never 'sideways'"),
    "impossible triage level": (("situation.triage in ('routine',)",
                                 "situation.triage in ('soon',)"),
                                "situation.triage is never 'soon'"),
    "unknown contraindication": (("situation.triage in ('routine',)", "contraindication.vertigo"),
                                 "unknown contraindication 'vertigo'"),
    "unknown red flag": (("situation.triage in ('routine',)", "flag.vertigo"),
                         "unknown flag 'vertigo'"),
    "text that does not parse": (("situation.triage in ('routine',)", "situation.triage in ("),
                                 "cannot parse"),
    "duplicate id": (('id = "ref.test.hip_physio"', 'id = "ref.lss.physiotherapy"'),
                     "id already used"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_referral_rule_is_rejected_naming_it(name: str) -> None:
    (old, new), expected = BROKEN[name]
    assert old in VALID_REFERRAL
    with pytest.raises(KnowledgeFileError) as info:
        _load(VALID_REFERRAL.replace(old, new, 1))
    assert info.value.file == "plan_rules.toml"
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        pytest.param("""
[[first_line]]
id = "fl.test.unknown_treatment"
condition = "lumbar_spinal_stenosis"
treatments = ["reiki"]
patient_text = "x may help."
clinician_text = "x"
citations = ["expert_judgement"]
""", "first_line[fl.test.unknown_treatment].treatments: unknown treatment 'reiki'",
                     id="unknown treatment id"),
        pytest.param("""
[[first_line]]
id = "fl.test.paracetamol"
condition = "lumbar_spinal_stenosis"
treatments = ["paracetamol"]
patient_text = "x may help."
clinician_text = "x"
citations = ["expert_judgement"]
""", "'paracetamol' is 'do_not_offer' for 'lumbar_spinal_stenosis' and cannot be offered",
                     id="first-line treatment advised against"),
        pytest.param("""
[[first_line]]
id = "fl.test.wrong_condition"
condition = "vascular_claudication"
treatments = ["nsaids"]
patient_text = "x may help."
clinician_text = "x"
citations = ["expert_judgement"]
""", "treatment 'nsaids' does not cover 'vascular_claudication'",
                     id="treatment not for that condition"),
        pytest.param("""
[[avoid]]
id = "avoid.test.exercise"
condition = "lumbar_spinal_stenosis"
treatments = ["exercise_therapy"]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "'exercise_therapy' is 'recommended' for 'lumbar_spinal_stenosis', not advised against",
                     id="avoiding a recommended treatment"),
        pytest.param("""
[[avoid]]
id = "avoid.test.contraindication"
contraindication = "pregnancy"
treatments = ["manual_therapy"]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "'manual_therapy' does not list contraindication 'pregnancy'",
                     id="contraindication the treatment does not list"),
        pytest.param("""
[[claims]]
id = "claims.test.massage"
condition = "lumbar_spinal_stenosis"
treatments = ["massage"]
citations = ["expert_judgement"]
""", "treatment 'massage' answers no claims", id="claims of a treatment without claims"),
        pytest.param("""
[[programme.templates]]
id = "prog.test.unknown_exercise"
condition = "hip_osteoarthritis"
exercises = ["yoga_sun_salutation"]
citations = ["expert_judgement"]
""", "unknown exercise 'yoga_sun_salutation'", id="unknown exercise id"),
        pytest.param("""
[[programme.templates]]
id = "prog.test.wrong_suit"
condition = "hip_osteoarthritis"
exercises = ["chin_tuck_lying"]
citations = ["expert_judgement"]
""", "exercise 'chin_tuck_lying' does not suit 'hip_osteoarthritis'",
                     id="exercise not for that condition"),
        pytest.param("""
[[contraindication]]
id = "ci.test.circular"
when = "contraindication.falls_risk"
contraindication = "osteoporosis"
citations = ["expert_judgement"]
""", "contraindication rules cannot select on contraindications",
                     id="contraindication rule reading contraindications"),
        pytest.param("""
[[review]]
id = "rev.test.pain_without_site"
instrument = "pain_nrs"
weeks = [2]
patient_text = "x"
clinician_text = "x"
citations = ["expert_judgement"]
""", "'pain_site' is given exactly when the instrument is 'pain_nrs'",
                     id="pain review without a site"),
    ],
)
def test_a_broken_rule_is_rejected_naming_it(snippet: str, expected: str) -> None:
    with pytest.raises(KnowledgeFileError) as info:
        _load(snippet)
    assert expected in str(info.value)


def test_unknown_top_level_tables_are_rejected() -> None:
    with pytest.raises(KnowledgeFileError, match="referrals: unknown key"):
        _load('\n[[referrals]]\nid = "x.y"\n')


def test_a_safety_net_that_is_not_always_shown_is_rejected() -> None:
    text = TEXT.replace('[[safety_net]]\nid = "safe.cauda_equina"\n',
                        '[[safety_net]]\nid = "safe.cauda_equina"\n'
                        'when = "situation.triage in (\'emergency\',)"\n', 1)
    text = text.replace('[[safety_net]]\nid = "safe.progressive_weakness"\n',
                        '[[safety_net]]\nid = "safe.progressive_weakness"\n'
                        'when = "situation.triage in (\'emergency\',)"\n', 1)
    with pytest.raises(KnowledgeFileError, match="every plan carries it"):
        parse_plan_rules(text)


def test_the_packaged_file_parses_the_same_way_twice() -> None:
    assert parse_plan_rules(TEXT) == RULES


def test_every_branch_of_a_rule_is_a_conjunction_of_its_own() -> None:
    rule = _rule("contraindication", "ci.falls_risk")
    assert len(dnf(RULES.criterion(rule))) == 4


# ---------------------------------------------------------------------------------------------
# Patient words: plain, hedged, never a diagnosis, short enough for a frightened reader
# ---------------------------------------------------------------------------------------------

DIAGNOSIS = re.compile(r"\byou (have|have got|are suffering from)\b|\byou've got\b", re.IGNORECASE)
NAMES_A_CONDITION = re.compile(
    r"\b(myelopathy|stenosis|cauda equina|sciatica|cancer|infection|fracture|osteoarthritis|"
    r"neuropathy|spinal cord|arteries)\b", re.IGNORECASE)
HEDGE = re.compile(r"\b(may|might|possibl\w*|could)\b", re.IGNORECASE)
JARGON = re.compile(
    r"\b(mJOA|ODI|NDI|ZCQ|NRS|MCID|radiculopath\w*|claudication|neurogenic|contraindicat\w*|"
    r"lumbar|cervical|decompression)\b")
MAX_SENTENCE_WORDS = 28


def _patient_texts() -> list[tuple[str, str]]:
    out = [("notice", RULES.notice.patient_text)]
    out += [(f"levels.{k}", v.patient_text) for k, v in RULES.levels.items()]
    for _, rule in _sections():
        for field in ("patient_text", "action"):
            if isinstance(getattr(rule, field, None), str):
                out.append((f"{rule.id}.{field}", getattr(rule, field)))
        for field in ("steps", "symptoms"):
            out += [(f"{rule.id}.{field}", t) for t in getattr(rule, field, ())]
    p = RULES.programme
    out += [(w.id, w.patient_text) for w in p.withhold]
    out += [(f"stop.{s.id}", s.message) for s in p.stop_symptoms]
    out += [(f"stop.{s.id}.label", s.label) for s in p.stop_symptoms]
    out += [(a.id, a.patient_text) for a in (getattr(p.adjust, n) for n in type(p.adjust)
                                             .model_fields)]
    return out


PATIENT_TEXTS = _patient_texts()


@pytest.mark.parametrize(("where", "text"), PATIENT_TEXTS, ids=[w for w, _ in PATIENT_TEXTS])
def test_patient_words_never_give_a_diagnosis(where: str, text: str) -> None:
    assert not DIAGNOSIS.search(text)


@pytest.mark.parametrize(("where", "text"), PATIENT_TEXTS, ids=[w for w, _ in PATIENT_TEXTS])
def test_patient_words_are_short_and_free_of_clinical_jargon(where: str, text: str) -> None:
    assert not JARGON.search(text), JARGON.search(text)
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        assert len(sentence.split()) <= MAX_SENTENCE_WORDS, sentence


@pytest.mark.parametrize(("where", "text"), [(w, t) for w, t in PATIENT_TEXTS
                                            if w.endswith(".patient_text")],
                         ids=[w for w, _ in PATIENT_TEXTS if w.endswith(".patient_text")])
def test_patient_words_that_name_a_condition_say_may_or_possible(where: str, text: str) -> None:
    if NAMES_A_CONDITION.search(text):
        assert HEDGE.search(text)


def test_every_emergency_step_list_starts_with_the_emergency_department_and_driving() -> None:
    for rule in RULES.immediate:
        assert rule.steps[0].startswith("Go to the emergency department (A&E) now.")
        assert any("drive" in step for step in rule.steps), rule.id
        assert any("ambulance" in step for step in rule.steps), rule.id
