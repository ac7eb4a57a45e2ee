"""Contract tests for the care-plan rules (knowledge/plan_rules.toml) and their links.

Every rule is checked (parametrised by id) so a new rule cannot skip a check: its sources
resolve, it can fire for some situation, and every id it names exists. The snippet tests append
one broken rule to the packaged file and show the loader rejects it, naming the rule; the
control appends a valid rule and shows it loads and fires, so the harness can pass as well as
fail.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from importlib.resources import files
from typing import Any

import orjson
import pytest

from spinecare.case import parse_case
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
    Selector,
    load_plan_rules,
    parse_plan_rules,
)
from spinecare.plan.select import Situation, evaluate
from spinecare.reasoning.engine import default_engine
from spinecare.reasoning.knowledge import default_knowledge
from tests.plan.conftest import case_document

RULES = load_plan_rules()
TEXT = (files("spinecare.knowledge") / "plan_rules.toml").read_text(encoding="utf-8")
CITED = sorted(RULES.cited_ids().items())
RULE_IDS = [r.id for s in ("contraindication", *SECTIONS) for r in RULES.rules(s)]


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
    assert RULES.version == "2026.11.0"
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


def test_every_triage_level_has_a_fallback_referral() -> None:
    covered = {level for r in RULES.referral if r.fallback for level in r.when.triage or ()}
    covered |= {"self_care"} if any(r.when.triage == ("self_care",) for r in RULES.referral) \
        else set()
    assert covered == set(LEVELS)


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
    named = {rid for _, rule in _sections() for s in rule.when.branches()
             for rid in s.triage_rules_any or ()}
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
    assert negative - set(rule.treatments) == set()


def test_every_negatively_recommended_treatment_is_avoided_somewhere(
    treatments: TreatmentBase,
) -> None:
    avoided = {t for r in RULES.avoid for t in r.treatments}
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


def _conjunctions(selector: Selector, named: Mapping[str, Selector]) -> list[list[Selector]]:
    """The selector as a disjunction of conjunctions of plain selectors (no use, no any)."""
    plain = selector.model_copy(update={"use": None, "any": None})
    options: list[list[Selector]] = [[plain]]
    for name in selector.use or ():
        options = [a + b for a in options for b in _conjunctions(named[name], named)]
    if selector.any:
        branches = [c for branch in selector.any for c in _conjunctions(branch, named)]
        options = [a + b for a in options for b in branches]
    return options


def _witness(parts: list[Selector]) -> Situation | None:
    """A situation meeting every part, or None when this combination is contradictory."""
    def meet(values: list[tuple[str, ...] | None], default: tuple[str, ...]) -> tuple[str, ...]:
        out = default
        for v in values:
            if v is not None:
                out = tuple(x for x in out if x in v)
        return out

    triage = meet([p.triage for p in parts], LEVELS)
    banned = {f for p in parts for f in p.red_flags_none or ()}
    flags: dict[str, str | None] = {}
    for p in parts:
        for flag, levels in (p.flag_levels or {}).items():
            flags[flag] = levels[0]
        for group in [p.red_flags_any] if p.red_flags_any else []:
            if not set(group) & set(flags):
                allowed = [f for f in group if f not in banned]
                if not allowed:
                    return None
                flags[allowed[0]] = "urgent"
    if set(flags) & banned or not triage:
        return None
    unlikely = {c for p in parts for c in p.unlikely_all or ()}
    likelihood: dict[str, str] = {}
    for p in parts:
        for group in (p.likely_any, p.high_any):
            if group and not any(likelihood.get(c) == "high" for c in group):
                allowed = [c for c in group if c not in unlikely]
                if not allowed:
                    return None
                likelihood[allowed[0]] = "high"
    bands = meet([p.mjoa_band for p in parts], ("mild", "moderate", "severe", "normal"))
    scored = {p.mjoa_scored for p in parts if p.mjoa_scored is not None}
    wants_band = any(p.mjoa_band for p in parts)
    if not bands or len(scored) > 1 or (False in scored and wants_band):
        return None
    band = None if False in scored or (not wants_band and True not in scored) else bands[0]
    low = max([p.duration_weeks_at_least for p in parts if p.duration_weeks_at_least is not None],
              default=None)
    high = min([p.duration_weeks_under for p in parts if p.duration_weeks_under is not None],
               default=None)
    known = {p.duration_known for p in parts if p.duration_known is not None}
    if False in known:
        if low is not None or high is not None:
            return None
        duration = None
    elif low is not None:
        duration = low
    elif high is not None:
        duration = high / 2
    else:
        duration = 4.0 if True in known else None
    if low is not None and high is not None and low >= high:
        return None
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": "witness",
                           "patient": {"age": 60}}
    for p in parts:
        for path, values in (p.facts or {}).items():
            section, field = path.split(".")
            doc.setdefault(section, {})[field] = values[0]
    rules_fired = {p.triage_rules_any[0] for p in parts if p.triage_rules_any}
    sources = meet([p.lbp_source for p in parts],
                   ("lumbar", "none", "cervical_myelopathy", "mixed", "undetermined"))
    if not sources:
        return None
    none_ci = {c for p in parts for c in p.contraindications_none or ()}
    cis = {next(iter(c for c in p.contraindications_any if c not in none_ci), "")
           for p in parts if p.contraindications_any}
    if "" in cis:
        return None
    return Situation(
        case=parse_case(orjson.dumps(doc)), triage=triage[0], flags=flags,
        likelihood=likelihood, order=tuple(likelihood), mjoa_band=band,
        duration_weeks=duration, triage_rules=frozenset(rules_fired), lbp_source=sources[0],
        contraindications=frozenset(cis),
    )


REACHABLE = [(s, r) for s, r in _sections()] + [("programme", w) for w in
                                                 RULES.programme.withhold]


def _reachable(selector: Selector) -> bool:
    for parts in _conjunctions(selector, RULES.selector):
        situation = _witness(parts)
        if situation is not None and evaluate(selector, situation, RULES.selector)[0] is True:
            return True
    return False


@pytest.mark.parametrize(("section", "rule"), REACHABLE, ids=[r.id for _, r in REACHABLE])
def test_every_rule_can_fire_for_some_situation(section: str, rule: Any) -> None:
    assert _reachable(rule.when), f"{section} rule {rule.id} can never fire"


@pytest.mark.parametrize(
    "dead",
    [
        Selector(triage=("emergency",), use=("not_emergency",)),
        Selector(red_flags_any=("myelopathy",), use=("no_red_flags",)),
        Selector(likely_any=("lumbar_spinal_stenosis",),
                 unlikely_all=("lumbar_spinal_stenosis",)),
        Selector(mjoa_band=("mild",), mjoa_scored=False),
        Selector(duration_weeks_at_least=6, duration_known=False),
    ],
    ids=["triage", "red flag", "likelihood", "mjoa", "duration"],
)
def test_the_reachability_check_catches_a_contradictory_rule(dead: Selector) -> None:
    assert not _reachable(dead)


# ---------------------------------------------------------------------------------------------
# The loader rejects broken rules (each snippet breaks one link of a valid rule)
# ---------------------------------------------------------------------------------------------

VALID_REFERRAL = """
[[referral]]
id = "ref.test.hip_physio"
when = { likely_any = ["hip_osteoarthritis"], triage = ["routine"] }
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
        ('likely_any = ["hip_osteoarthritis"]', 'likely_any = ["hip_arthritis"]'),
        "referral[ref.test.hip_physio].when.likely_any",
    ),
    "unknown urgency word": (('urgency = "routine"', 'urgency = "soonish"'),
                             "referral[ref.test.hip_physio].urgency"),
    "misspelt key": (('urgency = "routine"', 'urgncy = "routine"'),
                     "referral[ref.test.hip_physio].urgncy: unknown key"),
    "no citations": (('citations = ["expert_judgement"]', "citations = []"),
                     "referral[ref.test.hip_physio].citations"),
    "unknown named selector": (('triage = ["routine"] }', 'use = ["no_such_selector"] }'),
                               "unknown selector 'no_such_selector'"),
    "unknown case field": (('triage = ["routine"] }', 'facts = { "history.smoking" = [true] } }'),
                           "'history.smoking' is not a true/false or coded case field"),
    "impossible case value": (('triage = ["routine"] }',
                               'facts = { "history.course" = ["sideways"] } }'),
                              "not allowed here: ['sideways']"),
    "unknown contraindication": (('triage = ["routine"] }',
                                  'contraindications_any = ["vertigo"] }'),
                                 "unknown contraindication 'vertigo'"),
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
when = { contraindications_any = ["falls_risk"] }
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
                        '[[safety_net]]\nid = "safe.cauda_equina"\nwhen = { triage = '
                        '["emergency"] }\n', 1)
    text = text.replace('[[safety_net]]\nid = "safe.progressive_weakness"\n',
                        '[[safety_net]]\nid = "safe.progressive_weakness"\nwhen = { triage = '
                        '["emergency"] }\n', 1)
    with pytest.raises(KnowledgeFileError, match="every plan carries it"):
        parse_plan_rules(text)


def test_the_packaged_file_parses_the_same_way_twice() -> None:
    assert parse_plan_rules(TEXT) == RULES


def test_combinations_of_branches_are_all_enumerated() -> None:
    rule = _rule("contraindication", "ci.falls_risk")
    assert len(_conjunctions(rule.when, RULES.selector)) == 4
    assert list(itertools.chain.from_iterable(_conjunctions(rule.when, RULES.selector)))


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
