"""The care plan of an assessed case: ``spinecare.plan/1``.

:func:`make_plan` applies the plan rules (``knowledge/plan_rules.toml``) to a case and its
assessment. It is generic: what to refer, test, offer, avoid, review and watch for is all data.
The steps:

1. read the situation (triage, red flags, likelihoods, mJOA band, duration, case facts);
2. find the contraindications the case has (``[[contraindication]]`` rules);
3. fire each section's rules (three-valued: a rule over a missing answer is *pending*, with what
   is missing); fallback rules fire only when nothing more specific has;
4. remove from first-line care and escalation every treatment an avoid rule names;
5. build the home exercise programme (or withhold it) and answer the website claims.

Every item names the rule behind it and its sources; the plan names the versions of the plan
rules, the treatment knowledge base, the exercise library, the assessment knowledge and the engine.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from spinecare import __version__
from spinecare.case import Case
from spinecare.plan.evidence import citation_text
from spinecare.plan.knowledge import (
    CONDITIONS,
    Citation,
    Condition,
    ExerciseLibrary,
    TreatmentBase,
    load_citations,
    load_exercises,
    load_treatments,
    normalise_treatment_id,
)
from spinecare.plan.programme import build_programme
from spinecare.plan.rules import (
    SECTIONS,
    URGENCY_RANK,
    AvoidRule,
    ClaimsRule,
    DisagreementRule,
    EscalationRule,
    FirstLineRule,
    ImmediateRule,
    InvestigationRule,
    PlanRules,
    ReferralRule,
    ReviewRule,
    SafetyNetRule,
    load_plan_rules,
)
from spinecare.plan.select import Situation, holds

__all__ = ["PLAN_SCHEMA_ID", "PlanKnowledge", "default_plan_knowledge", "make_plan"]

PLAN_SCHEMA_ID = "spinecare.plan/1"

#: Where each rule section goes in the plan document.
_OUTPUT = {
    "immediate": "immediate_action",
    "referral": "referral",
    "investigation": "investigations",
    "first_line": "first_line",
    "escalation": "escalation",
    "avoid": "avoid",
    "disagreement": "disagreements",
    "review": "review",
    "safety_net": "safety_net",
    "claims": "claims",
}


def _condition(code: str | None) -> Condition | None:
    if code is not None and code not in CONDITIONS:
        raise ValueError(f"unknown condition code {code!r}")
    return cast("Condition | None", code)


@dataclass(frozen=True, slots=True)
class PlanKnowledge:
    """Everything a plan is made from: one version of each knowledge file."""

    rules: PlanRules
    treatments: TreatmentBase
    exercises: ExerciseLibrary
    citations: Mapping[str, Citation]


@functools.lru_cache(maxsize=1)
def default_plan_knowledge() -> PlanKnowledge:
    """The packaged knowledge (read once, then cached)."""
    return PlanKnowledge(load_plan_rules(), load_treatments(), load_exercises(), load_citations())


def make_plan(
    case: Case, assessment: Mapping[str, Any], *, knowledge: PlanKnowledge | None = None
) -> dict[str, Any]:
    """The care plan (``spinecare.plan/1``) for ``case`` and its ``assessment``. Pure."""
    k = default_plan_knowledge() if knowledge is None else knowledge
    return _Planner(k, case, assessment).plan()


class _Planner:
    def __init__(self, k: PlanKnowledge, case: Case, assessment: Mapping[str, Any]):
        self.k = k
        self.case = case
        self.assessment = assessment
        self.cited: dict[str, None] = {}
        self.fired: list[str] = []
        self.pending: list[dict[str, Any]] = []
        aliases = k.treatments.by_alias()

        def treatment_id(words: str) -> str | None:
            key = normalise_treatment_id(words)
            return key if key in k.treatments.treatments else aliases.get(key)

        self.treatment_id = treatment_id
        situation = Situation.of(case, assessment, treatment_id)
        contraindications = [
            r.contraindication for r in self._fire("contraindication", situation)
        ]
        self.s = situation.with_contraindications(contraindications)

    # --- rule selection ---------------------------------------------------------------------

    def _fire(self, section: str, s: Situation) -> list[Any]:
        rules = self.k.rules
        chosen: list[Any] = []
        fallbacks: list[Any] = []
        for rule in rules.rules(section):
            value, missing = holds(rules.criterion(rule), s)
            if value is None and not rule.fallback:
                self.pending.append(
                    {"rule": rule.id, "section": _OUTPUT.get(section, section),
                     "missing": sorted(missing)}
                )
            if value is True:
                (fallbacks if rule.fallback else chosen).append(rule)
        for rule in fallbacks:
            rank = URGENCY_RANK.get(getattr(rule, "urgency", ""), 0)
            covered = any(URGENCY_RANK.get(getattr(r, "urgency", ""), 0) >= rank for r in chosen)
            if not covered:
                chosen.append(rule)
        for rule in chosen:
            self.fired.append(rule.id)
            self._cite(rule.citations)
        return chosen

    def _cite(self, ids: Iterable[str]) -> list[str]:
        out = list(dict.fromkeys(ids))
        self.cited.update(dict.fromkeys(out))
        return out

    # --- treatments -------------------------------------------------------------------------

    def _treatment(self, tid: str, condition: str | None,
                   contraindication: str | None = None) -> dict[str, Any]:
        """A treatment as the plan shows it, with its verdict for ``condition``. Its sources are
        the verdict's, or the contraindication's when that is why it is listed."""
        t = self.k.treatments.treatments[tid]
        entry: dict[str, Any] = {"id": t.id, "name": t.name}
        code = _condition(condition)
        verdict = t.by_condition.get(code) if code is not None else None
        if code is not None and code in t.conditions:
            grade, recommendation = t.verdict_for(code)
            entry["evidence_grade"], entry["recommendation"] = grade, recommendation
        else:
            entry["evidence_grade"], entry["recommendation"] = t.evidence_grade, t.recommendation
        entry["summary"] = t.patient_summary
        entry["expected_benefit"] = t.expected_benefit
        entry["check_first"] = [
            self.k.treatments.contraindications[c].label for c in t.contraindications
        ]
        if contraindication is not None:
            sources = self.k.treatments.contraindications[contraindication].citations
        else:
            sources = verdict.citations if verdict is not None else t.citations
        entry["citations"] = self._cite(sources)
        return entry

    # --- the plan ---------------------------------------------------------------------------

    def plan(self) -> dict[str, Any]:
        k, s, a = self.k, self.s, self.assessment
        level = k.rules.levels[s.triage]  # type: ignore[index]
        fired = {section: self._fire(section, s) for section in SECTIONS}

        avoid, avoided = self._avoid(fired["avoid"])
        listed: set[str] = set()
        first_line = [item for r in fired["first_line"]
                      if (item := self._first_line(r, avoided, listed)) is not None]
        escalation = [self._escalation(r, avoided) for r in fired["escalation"]]
        review = self._reviews(fired["review"])
        referral = sorted((self._referral(r) for r in fired["referral"]),
                          key=lambda x: -URGENCY_RANK[x["urgency"]])
        safety_net = sorted((self._safety_net(r) for r in fired["safety_net"]),
                            key=lambda x: -URGENCY_RANK[x["urgency"]])
        programme = self._programme()
        versions = dict(a.get("versions", {}))
        plan: dict[str, Any] = {
            "schema": PLAN_SCHEMA_ID,
            "case_id": self.case.id,
            "immediate_action": [self._immediate(r) for r in fired["immediate"]],
            "level": {
                "triage": s.triage, "label": level.label, "patient_text": level.patient_text,
                "citations": self._cite(level.citations),
            },
            "notice": {"patient_text": k.rules.notice.patient_text,
                       "citations": self._cite(k.rules.notice.citations)},
            "based_on": self._based_on(),
            "referral": referral,
            "investigations": [self._investigation(r) for r in fired["investigation"]],
            "first_line": first_line,
            "escalation": escalation,
            "avoid": avoid,
            "disagreements": [self._disagreement(r) for r in fired["disagreement"]],
            "review": review,
            "safety_net": safety_net,
            "exercise_programme": programme,
            "claims": self._claims(fired["claims"]),
            "pending": self._relevant_pending(first_line, escalation, programme),
            "rules": list(dict.fromkeys(self.fired)),
            "citations": {cid: citation_text(cid, k.citations) for cid in self.cited},
            "versions": {
                "software": __version__,
                "engine": str(versions.get("engine", "unknown")),
                "assessment_knowledge": str(versions.get("knowledge", "unknown")),
                "plan_rules": k.rules.version,
                "treatments": k.treatments.version,
                "exercises": k.exercises.version,
            },
        }
        return plan

    def _based_on(self) -> dict[str, Any]:
        s = self.s
        return {
            "triage": s.triage,
            "red_flags": [{"code": c, "triage": lv} for c, lv in s.flags.items()],
            "conditions": [{"code": c, "likelihood": s.likelihood[c]} for c in s.likely()],
            "mjoa_band": s.mjoa_band,
            "duration_weeks": s.duration_weeks,
            "contraindications": sorted(s.contraindications),
            "severity": {
                "odi_band": s.bands.get("odi"),
                "zcq_physical_function": s.scores.get("zcq_physical_function"),
                "zcq_symptom_severity": s.scores.get("zcq_symptom_severity"),
                "walking_tolerance_minutes": self.case.symptoms.walking_tolerance_minutes,
                "course": self.case.history.course,
            },
            "prior_treatments": None if self.case.history.prior_treatments is None else [
                {"treatment": t.treatment, "id": self.treatment_id(t.treatment),
                 "weeks": t.weeks, "response": t.response}
                for t in self.case.history.prior_treatments],
        }

    def _worded(self, r: Any) -> dict[str, Any]:
        return {"patient_text": r.patient_text, "clinician_text": r.clinician_text,
                "citations": list(r.citations)}

    def _immediate(self, r: ImmediateRule) -> dict[str, Any]:
        return {"rule": r.id, "steps": list(r.steps), **self._worded(r)}

    def _referral(self, r: ReferralRule) -> dict[str, Any]:
        return {"rule": r.id, "to": r.to, "urgency": r.urgency, **self._worded(r)}

    def _investigation(self, r: InvestigationRule) -> dict[str, Any]:
        return {"rule": r.id, "test": r.test, "status": r.status, "timing": r.timing,
                "reason": r.reason, **self._worded(r)}

    def _first_line(self, r: FirstLineRule, avoided: Mapping[str, str],
                    listed: set[str]) -> dict[str, Any] | None:
        # A treatment is offered once, by the first (most specific) rule that names it.
        kept = [t for t in r.treatments if t not in avoided and t not in listed]
        if r.treatments and not kept:
            return None
        listed.update(kept)
        choice = r.choice if len(kept) > 1 else "all"
        return {
            "rule": r.id, "condition": r.condition, "choice": choice,
            "treatments": [self._treatment(t, r.condition) for t in kept],
            "left_out": [{"treatment": t, "rule": avoided[t]} for t in r.treatments
                         if t in avoided],
            **self._worded(r),
        }

    def _escalation(self, r: EscalationRule, avoided: Mapping[str, str]) -> dict[str, Any]:
        return {
            "rule": r.id, "trigger": r.trigger, "action": r.action, "urgency": r.urgency,
            "condition": r.condition,
            "treatments": [self._treatment(t, r.condition) for t in r.treatments
                           if t not in avoided],
            **self._worded(r),
        }

    def _avoid(self, rules: list[AvoidRule]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        items: list[dict[str, Any]] = []
        avoided: dict[str, str] = {}
        for r in rules:
            fresh = [t for t in r.treatments if t not in avoided]
            if r.treatments and not fresh:
                continue
            for t in fresh:
                avoided[t] = r.id
            ci = r.contraindication
            items.append({
                "rule": r.id,
                "basis": "contraindication" if ci else "recommendation" if r.condition
                else "advice",
                "condition": r.condition,
                "contraindication": (
                    {"id": ci, "label": self.k.treatments.contraindications[ci].label}
                    if ci else None),
                "treatments": [self._treatment(t, r.condition, ci) for t in fresh],
                **self._worded(r),
            })
        return items, avoided

    def _disagreement(self, r: DisagreementRule) -> dict[str, Any]:
        items = []
        for tid in r.treatments:
            t = self.k.treatments.treatments[tid]
            items.append({
                "id": t.id, "name": t.name, "summary": t.patient_summary,
                "sides": [{"guideline": p.guideline, "stance": p.stance, "says": p.says,
                           "verification": p.verification, "citations": self._cite(p.citations)}
                          for p in t.positions_for(r.condition)],
            })
        return {"rule": r.id, "condition": r.condition, "treatments": items, **self._worded(r)}

    def _reviews(self, rules: list[ReviewRule]) -> list[dict[str, Any]]:
        # One schedule per instrument (and pain site): the first, most specific rule wins.
        seen: set[tuple[str | None, str | None]] = set()
        out = []
        for r in rules:
            key = (r.instrument, r.pain_site)
            if r.instrument is not None and key in seen:
                continue
            seen.add(key)
            out.append(self._review(r))
        return out

    def _relevant_pending(self, first_line: list[dict[str, Any]],
                          escalation: list[dict[str, Any]],
                          programme: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Pending rules, keeping a contraindication only when it would change this plan: a
        treatment offered or an exercise given lists it."""
        kb, library = self.k.treatments, self.k.exercises
        matters: set[str] = set()
        for item in (*first_line, *escalation):
            for t in item["treatments"]:
                matters.update(kb.treatments[t["id"]].contraindications)
        for e in programme.get("exercises", ()):
            ex = library.exercises[e["exercise"]]
            matters.update(ex.avoid_with)
            matters.update(ex.supervise_with)
        by_rule = {r.id: r.contraindication for r in self.k.rules.contraindication}
        return [p for p in self.pending
                if p["rule"] not in by_rule or by_rule[p["rule"]] in matters]

    def _review(self, r: ReviewRule) -> dict[str, Any]:
        return {"rule": r.id, "instrument": r.instrument, "pain_site": r.pain_site,
                "baseline": self._baseline(r), "weeks": list(r.weeks),
                "meaningful_change": r.meaningful_change, **self._worded(r)}

    def _baseline(self, r: ReviewRule) -> Any:
        scores = self.assessment.get("scores", {})
        if r.instrument is None:
            return None
        score = scores.get(r.instrument)
        if not isinstance(score, Mapping):
            return None
        if r.instrument == "pain_nrs":
            site = score.get(r.pain_site)
            return site.get("value") if isinstance(site, Mapping) else None
        if r.instrument == "zcq":
            return {key: score.get(key) for key in ("symptom_severity", "physical_function")}
        return score.get("value")

    def _safety_net(self, r: SafetyNetRule) -> dict[str, Any]:
        return {"rule": r.id, "symptoms": list(r.symptoms), "action": r.action,
                "urgency": r.urgency, "citations": list(r.citations)}

    def _claims(self, rules: list[ClaimsRule]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for r in rules:
            for tid in r.treatments:
                t = self.k.treatments.treatments[tid]
                grade, recommendation = t.verdict_for(r.condition)
                for claim in t.claims:
                    if (tid, claim.question) in seen:
                        continue
                    seen.add((tid, claim.question))
                    out.append({
                        "rule": r.id, "treatment": tid, "name": t.name,
                        "condition": r.condition, "evidence_grade": grade,
                        "recommendation": recommendation, "question": claim.question,
                        "answer": claim.answer, "citations": self._cite(claim.citations),
                    })
        return out

    def _programme(self) -> dict[str, Any]:
        rules = self.k.rules
        withheld: str | None = None
        for w in rules.programme.withhold:
            value, missing = holds(rules.criterion(w), self.s)
            if value is None:
                self.pending.append({"rule": w.id, "section": "exercise_programme",
                                     "missing": sorted(missing)})
            if value is True and withheld is None:
                withheld = w.patient_text
                self.fired.append(w.id)
                self._cite(w.citations)
        ratings = self.case.instruments.pain_nrs
        pain = ratings.model_dump() if ratings is not None else {}
        programme = build_programme(
            self.s.likely(), sorted(self.s.contraindications), pain=pain, withheld=withheld,
            rules=rules, library=self.k.exercises,
        )
        self.fired.extend(programme.rules)
        self._cite(programme.citations)
        for entry in programme.exercises:
            self._cite(entry.citations)
        return programme.to_json()
