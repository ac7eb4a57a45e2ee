"""Readable text for a care plan and for a treatment's evidence.

For an emergency the plan opens with what to do now. Patient words come first in each item;
the clinician's detail follows, with the rule id and sources in brackets.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from spinecare.instruments.display import score_range
from spinecare.instruments.registry import instrument

__all__ = ["render_evidence", "render_plan"]

_WIDTH = 96
_URGENCY = {
    "immediately": "now",
    "same_day": "today",
    "within_48_hours": "within 48 hours",
    "within_2_weeks": "within about 2 weeks",
    "routine": "routine",
    "if_not_improving": "only if not improving",
}
_STATUS = {"do_now": "do now", "only_if": "only if needed", "not_needed": "NOT needed"}
_GRADE = {
    "high": "high-certainty evidence",
    "moderate": "moderate-certainty evidence",
    "low": "low-certainty evidence",
    "very_low": "very low-certainty evidence",
    "insufficient": "insufficient evidence",
    "evidence_against": "evidence against it",
}
_RECOMMENDATION = {
    "only_within_package": "only within a package with exercise",
    "not_recommended": "not recommended",
    "do_not_offer": "do not offer",
    "not_approved": "not approved",
}
_PROGRAMME = {
    "active": "home programme",
    "supervised_only": "ONLY WITH A PHYSIOTHERAPIST (supervised)",
    "withheld": "not now",
    "stopped": "STOPPED",
}


_STANCE = {"for": "for", "conditional": "only in some situations", "against": "against"}


def _wrap(text: str, indent: str = "    ", first: str | None = None) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent if first is None else first,
                         subsequent_indent=indent) or [indent]


def _source(item: Mapping[str, Any]) -> str:
    rule = item.get("rule")
    cites = ", ".join(item.get("citations", ()))
    return f"[{rule}; {cites}]" if rule else f"[{cites}]"


def _clinician(item: Mapping[str, Any]) -> list[str]:
    return _wrap(f"Clinician: {item['clinician_text']} {_source(item)}", "      ", "    ")


def _grade(t: Mapping[str, Any]) -> str:
    grade = _GRADE.get(t["evidence_grade"], t["evidence_grade"])
    recommendation = _RECOMMENDATION.get(t["recommendation"], t["recommendation"])
    return f"{grade}; {recommendation}"


def _pain_scale() -> str:
    low, high = score_range(instrument("pain_nrs"))
    return f"{low:g}-{high:g}"


def _review_name(instrument_id: str, pain_site: str | None) -> str:
    """The instrument to repeat, as a reader knows it: ``ODI``, ``Leg pain (0-10)``."""
    inst = instrument(instrument_id)
    if pain_site is None:
        return inst.short_name
    low, high = score_range(inst, pain_site)
    return f"{inst.group[pain_site].title} ({low:g}-{high:g})"


def _dose(d: Mapping[str, Any]) -> str:
    amount = f"{d['reps']} repetitions" if d.get("reps") else f"{d['minutes']} minutes"
    hold = f", hold {d['hold_seconds']} s" if d.get("hold_seconds") else ""
    sets = "1 set" if d["sets"] == 1 else f"{d['sets']} sets"
    days = "every day" if d["frequency_per_week"] == 7 else f"{d['frequency_per_week']} days a week"
    return f"{sets} of {amount}{hold}, {days}"


def render_plan(plan: Mapping[str, Any]) -> str:
    """The whole plan as plain text."""
    out = [f"spinecare care plan: {plan['case_id']}"]
    for item in plan["immediate_action"]:
        out += ["", "WHAT TO DO NOW"]
        for i, step in enumerate(item["steps"], 1):
            out += _wrap(step, "     ", f"  {i}. ")
        out += _clinician(item)
    level = plan["level"]
    out += ["", f"TRIAGE  {level['label']}"]
    out += _wrap(level["patient_text"])
    out += _wrap(plan["notice"]["patient_text"])

    out += ["", "REFERRAL"]
    for r in plan["referral"]:
        out += _wrap(f"{r['to']}: {_URGENCY[r['urgency']]}", "    ", "  - ")
        out += _wrap(r["patient_text"])
        out += _clinician(r)

    if plan["investigations"]:
        out += ["", "TESTS"]
        for t in plan["investigations"]:
            out += _wrap(f"{t['test']}: {_STATUS[t['status']]} ({t['timing']})", "    ", "  - ")
            out += _wrap(t["patient_text"])
            out += _wrap(f"Why: {t['reason']}")
            out += _clinician(t)

    if plan["first_line"]:
        out += ["", "FIRST-LINE CARE"]
        for f in plan["first_line"]:
            out += _wrap(f["patient_text"], "    ", "  - ")
            if f["choice"] == "one_of":
                out += _wrap("Choose one of:", "    ")
            for t in f["treatments"]:
                out += _wrap(f"{t['name']} ({_grade(t)})", "        ", "      * ")
            for t in f["left_out"]:
                out += _wrap(f"Left out: {t['treatment']} (see {t['rule']})", "        ",
                             "      * ")
            out += _clinician(f)

    if plan["escalation"]:
        out += ["", "WHEN TO STEP UP"]
        for e in plan["escalation"]:
            out += _wrap(f"{e['trigger']}: {e['action']} ({_URGENCY[e['urgency']]})",
                         "    ", "  - ")
            out += _wrap(e["patient_text"])
            out += _clinician(e)

    if plan["avoid"]:
        out += ["", "AVOID"]
        for a in plan["avoid"]:
            out += _wrap(a["patient_text"], "    ", "  - ")
            ci = a["contraindication"]
            for t in a["treatments"]:
                why = f"ruled out here: {ci['label'].lower()}" if ci else _grade(t)
                out += _wrap(f"{t['name']} ({why})", "        ", "      * ")
            out += _clinician(a)

    if plan.get("disagreements"):
        out += ["", "WHERE GUIDELINES DIFFER"]
        for d in plan["disagreements"]:
            out += _wrap(d["patient_text"], "    ", "  - ")
            for t in d["treatments"]:
                out += _wrap(t["name"], "        ", "      * ")
                for side in t["sides"]:
                    out += _wrap(f"{side['guideline']} ({_STANCE[side['stance']]}, "
                                 f"[{side['verification']}]): {side['says']} "
                                 f"[{', '.join(side['citations'])}]", "            ", "          ")
            out += _clinician(d)

    out += ["", "REVIEW"]
    for r in plan["review"]:
        if r["instrument"] is None:
            out += _wrap(r["patient_text"], "    ", "  - ")
            continue
        name = _review_name(r["instrument"], r["pain_site"])
        base = r["baseline"]
        if isinstance(base, Mapping):
            base = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in base.items()
                             if v is not None) or None
        now = f"; now {base}" if base is not None else ""
        weeks = ", ".join(str(w) for w in r["weeks"])
        out += _wrap(f"{name} at week {weeks}{now}", "    ", "  - ")
        out += _wrap(f"Meaningful change: {r['meaningful_change']}")
        out += _wrap(f"{r['patient_text']} {_source(r)}")

    out += ["", "SEEK CARE NOW IF"]
    for s in plan["safety_net"]:
        out += _wrap(f"{s['action']} {_source(s)}", "    ", "  - ")
        for symptom in s["symptoms"]:
            out += _wrap(symptom, "        ", "      * ")

    p = plan["exercise_programme"]
    out += ["", f"HOME EXERCISE PROGRAMME: {_PROGRAMME[p['status']]}"]
    if p.get("reason"):
        out += _wrap(p["reason"])
    if p["pain"]["site"]:
        value = p["pain"]["value"]
        out += _wrap(f"Track your {p['pain']['site']} pain ({_pain_scale()})"
                     + (f"; starting at {value}." if value is not None else "."))
    for e in p["exercises"]:
        tag = " [supervised]" if e["supervised"] else ""
        out += _wrap(f"{e['name']}{tag}: {_dose(e['dosage'])}", "    ", "  - ")
    for e in p["left_out"]:
        because = ", ".join(b.replace("_", " ") for b in e["because"])
        out += _wrap(f"Left out: {e['name']} (because of: {because})", "    ", "  - ")

    if plan["claims"]:
        out += ["", "QUESTIONS FROM WEBSITES"]
        for c in plan["claims"]:
            out += _wrap(f"Q: {c['question']}", "       ", "  - ")
            out += _wrap(f"A: {c['answer']}", "       ", "    ")
            out += _wrap(f"{c['name']}: {_grade(c)} {_source(c)}", "       ", "    ")

    if plan["pending"]:
        out += ["", "STILL TO FIND OUT (each answer could change the plan)"]
        rules_by_missing: dict[tuple[str, ...], list[str]] = {}
        for item in plan["pending"]:
            rules_by_missing.setdefault(tuple(item["missing"]), []).append(item["rule"])
        for missing, rules in rules_by_missing.items():
            out += _wrap(f"{' or '.join(missing)}: decides {', '.join(rules)}", "    ", "  - ")

    out += ["", "SOURCES"]
    out += [f"  {cid}: {text}" for cid, text in plan["citations"].items()]
    v = plan["versions"]
    out += ["", f"Plan rules {v['plan_rules']}, treatments {v['treatments']}, exercises "
                f"{v['exercises']}, assessment knowledge {v['assessment_knowledge']}, engine "
                f"{v['engine']}."]
    return "\n".join(out) + "\n"


def render_evidence(e: Mapping[str, Any]) -> str:
    """One treatment's evidence as plain text."""
    out = [f"{e['name']} ({e['treatment']})", *_wrap(e["what_it_is"], "  ", "  "), ""]
    out.append("VERDICT BY CONDITION")
    for v in e["verdicts"]:
        out += _wrap(f"{v['condition']}: {_grade(v)}", "    ", "  - ")
        if v["reason"]:
            out += _wrap(f"{v['reason']} [{', '.join(v['citations'])}]", "      ", "    ")
    out += ["", "WHAT IT MAY DO", *_wrap(e["expected_benefit"], "  ", "  ")]
    out += ["", "RISKS", *(line for r in e["risks"] for line in _wrap(r, "    ", "  - "))]
    if e["check_first"]:
        out += ["", "CHECK FIRST"]
        out += [line for c in e["check_first"] for line in _wrap(c["label"], "    ", "  - ")]
    if e["regulatory"]:
        out += ["", "REGULATORS", *_wrap(e["regulatory"], "  ", "  ")]
    out += ["", "IN PLAIN WORDS", *_wrap(e["patient_summary"], "  ", "  ")]
    out += ["", "EVIDENCE ([V] verified, [P] partly verified, [U] not verified)"]
    for item in e["evidence"]:
        out += _wrap(f"[{item['verification']}] {item['finding']} "
                     f"[{', '.join(item['citations'])}]", "        ", "  - ")
    if e.get("positions"):
        out += ["", "WHERE GUIDELINES DIFFER"]
        for p in e["positions"]:
            out += _wrap(f"{p['guideline']} ({_STANCE[p['stance']]}; "
                         f"{', '.join(p['conditions'])}) [{p['verification']}]: {p['says']} "
                         f"[{', '.join(p['citations'])}]", "    ", "  - ")
    if e["claims"]:
        out += ["", "QUESTIONS FROM WEBSITES"]
        for c in e["claims"]:
            out += _wrap(f"Q: {c['question']}", "       ", "  - ")
            out += _wrap(f"A: {c['answer']} [{', '.join(c['citations'])}]", "       ", "    ")
    out += ["", "SOURCES", *(f"  {k}: {v}" for k, v in e["citations"].items())]
    out += ["", f"Treatment knowledge {e['versions']['treatments']}."]
    return "\n".join(out) + "\n"


def suggestions_text(query: str, suggestions: Sequence[str]) -> str:
    """The message for an unknown treatment."""
    if suggestions:
        return (f"unknown treatment {query!r}. Close matches: {', '.join(suggestions)}\n"
                "(see 'spinecare evidence --list' for every treatment)\n")
    return f"unknown treatment {query!r}; see 'spinecare evidence --list' for every treatment\n"
