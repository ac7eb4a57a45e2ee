"""The readable report of an assessment: triage first, in words a clinician scans in seconds."""

from __future__ import annotations

import textwrap
from typing import Any

from spinecare.instruments.display import report_name, score_suffix
from spinecare.instruments.registry import instrument

LEVEL_WORDS = {
    "emergency": "EMERGENCY: same-day emergency department",
    "urgent": "URGENT: specialist assessment within about two weeks",
    "routine": "ROUTINE: primary care, physiotherapy or routine referral",
    "self_care": "SELF-CARE: advice and self-management, review if not better",
}
_WIDTH = 96



#: Said instead of a first condition when no condition is moderate or high.
NOTHING_LIKELY = ("No condition is moderately or highly likely on what is known: none is named "
                  "first. Answer the questions above and examine before concluding.")

def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=first if first is not None else indent,
                         subsequent_indent=indent) or [first or indent]


def _score_lines(scores: dict[str, Any]) -> list[str]:
    lines = []
    for key in ("odi", "ndi", "mjoa"):
        s = scores.get(key)
        if s is None:
            continue
        inst = instrument(key)
        name, unit = report_name(inst), score_suffix(inst)
        if s["value"] is None:
            lines.append(f"  {name}: not scored ({s.get('reason', 'too many items missing')})")
        else:
            extra = f" [{s['flag']}]" if s.get("flag") else ""
            lines.append(f"  {name}: {s['value']}{unit}, {s.get('band_label') or s['band']}{extra}")
    zcq = scores.get("zcq")
    if zcq:
        parts = [f"{k.replace('_', ' ')} {zcq[k] if zcq[k] is not None else 'not scored'}"
                 for k in ("symptom_severity", "physical_function") if k in zcq]
        reason = f" ({zcq['reason']})" if zcq.get("reason") else ""
        lines.append(f"  {report_name(instrument('zcq'))}: {', '.join(parts)}{reason}")
    nrs = scores.get("pain_nrs")
    if nrs:
        inst = instrument("pain_nrs")
        unit = score_suffix(inst)
        parts = [f"{k} {v['value']}{unit} ({v['band']})" for k, v in nrs.items()]
        lines.append(f"  {report_name(inst)}: {', '.join(parts)}")
    for key in ("cook_myelopathy_cpr", "cook_lss_cpr"):
        c = scores.get(key)
        if c:
            count = (f"{c['positive']}/{c['of']}" if c["unknown"] == 0
                     else f"{c['positive']}/{c['of']} ({c['unknown']} unknown)")
            lines.append(f"  {report_name(instrument(key))}: {count}: {c['meaning']}")
    # Konno's support tool is a prediction rule of the engine (prediction_rules.toml), not a
    # registered instrument, so its name here is the report's own.
    konno = scores.get("konno_lss_dst")
    if konno:
        shown = konno["value"] if konno["value"] is not None else \
            f"{konno['range'][0]} to {konno['range'][1]}"
        flag = "" if konno["weights_verified"] else " [item weights unverified]"
        lines.append(f"  Konno LSS support tool: {shown}: {konno['meaning']}{flag}")
    return lines


def percent(p: float) -> str:
    """A model's probability in words: never shown as certain (nor as impossible)."""
    if p > 0.99:
        return "over 99%"
    if p < 0.01:
        return "under 1%"
    return f"{p:.0%}"


def _weighed(label: str, detail: dict[str, Any] | None) -> str:
    if detail is None:
        return label
    lr = f"LR {detail['likelihood_ratio']:g}"
    if detail["basis"] == "expert_judgement":
        return f"{label} ({lr}, expert judgement)"
    flag = ", unverified source" if detail["basis"] == "unverified" else ""
    return f"{label} ({lr} [{', '.join(detail['citations'])}]{flag})"


def render(a: dict[str, Any]) -> str:
    """The whole report for one assessment, as plain text."""
    t = a["triage"]
    out = [f"spinecare assessment: {a['case_id']}", "",
           f"TRIAGE  {LEVEL_WORDS[t['level']]}"]
    for reason, rule in zip(t["reasons"], t["rules"], strict=True):
        out += _wrap(f"{reason} [{rule}]", "          ", "        - ")
    if a["red_flags"]:
        out += ["", "RED FLAGS"]
        for f in a["red_flags"]:
            out += _wrap(f"{f['code'].replace('_', ' ')} ({f['triage']}): "
                         f"{', '.join(f['evidence'])} [{', '.join(f['rules'])}]",
                         "          ", "      !   ")
    else:
        out += ["", "RED FLAGS  none raised"]
    if a.get("ask"):
        out += ["", "ASK NEXT (answers could raise the triage level)"]
        for q in a["ask"][:8]:
            out += _wrap(q["question"], "          ", "      ?   ")
    out += ["", "DIFFERENTIAL (most likely first)"]
    shown = [c for c in a["conditions"] if c["likelihood"] != "low"]
    if not shown:
        out += _wrap(NOTHING_LIKELY, "    ", "  ")
    for i, c in enumerate(shown, 1):
        out.append(f"  {i}. {c['label']}: {c['likelihood'].upper()} "
                   f"(model estimate {percent(c['probability'])})")
        weighed = {d["finding"]: d for d in c["details"]}
        for word, labels in (("for", c["evidence"]), ("against", c["against"])):
            if labels:
                parts = [_weighed(label, weighed.get(label)) for label in labels]
                out += _wrap(f"{word}: " + "; ".join(parts), "          ", "       ")
    low = [c["label"] for c in a["conditions"] if c["likelihood"] == "low"]
    if low:
        out += _wrap("Unlikely on what is known: " + "; ".join(low), "    ", "  ")
    if a.get("consider"):
        out += ["", "ALSO CONSIDER (not estimated by the differential)"]
        for x in a["consider"]:
            out += _wrap(f"{x['label']}: {x['reason']}"
                         + (f" Findings: {', '.join(x['evidence'])}." if x["evidence"] else "")
                         + f" [{x['id']}]", "          ", "      +   ")
    out += ["", f"LOW BACK PAIN SOURCE  {a['low_back_pain_source'].replace('_', ' ')}"]
    out += _wrap(a["low_back_pain_source_detail"]["reason"], "        ")
    scores = _score_lines(a["scores"])
    if scores:
        out += ["", "SCORES", *scores]
    used: dict[str, None] = dict.fromkeys(t["citations"])
    for f in a["red_flags"]:
        used.update(dict.fromkeys(f["citations"]))
    for c in shown:
        used.update(dict.fromkeys(c["citations"]))
    for x in a.get("consider", []):
        used.update(dict.fromkeys(x["citations"]))
    used.update(dict.fromkeys(a["low_back_pain_source_detail"]["citations"]))
    for s in a["scores"].values():
        used.update(dict.fromkeys(s.get("citations", [])))
    out += ["", "SOURCES"]
    for cid in used:
        out += _wrap(f"[{cid}] {a['citations'].get(cid, cid)}", "          ", "  ")
    v = a["versions"]
    out += ["", f"engine {v['engine']}, knowledge {v['knowledge']}. Decision support for "
            "clinicians, not a diagnosis.", ""]
    return "\n".join(out)
