"""Checks an assessment against an ``.expect.json`` (the keys are described in data/cases)."""

from __future__ import annotations

from typing import Any

KNOWN_KEYS = {"triage", "top", "include", "not_high", "red_flags", "no_red_flags", "lbp",
              "scores", "null_scores"}


def _score(scores: dict[str, Any], dotted: str) -> Any:
    head, _, rest = dotted.partition(".")
    s = scores.get(head)
    if s is None:
        return None
    return s.get(rest) if rest else s.get("value")


def failures(a: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Every way ``a`` misses ``expect``; empty when it meets it."""
    unknown = set(expect) - KNOWN_KEYS
    if unknown:
        return [f"unknown expectation key(s) {sorted(unknown)}"]
    out = []
    by_code = {c["code"]: c for c in a["conditions"]}
    if "triage" in expect and a["triage"]["level"] not in expect["triage"]:
        out.append(f"triage {a['triage']['level']} not in {expect['triage']}")
    if "top" in expect and a["conditions"][0]["code"] not in expect["top"]:
        out.append(f"top {a['conditions'][0]['code']} not in {expect['top']}")
    for code in expect.get("include", []):
        if by_code[code]["likelihood"] not in ("moderate", "high"):
            out.append(f"{code} is {by_code[code]['likelihood']}, expected moderate or high")
    for code in expect.get("not_high", []):
        if by_code[code]["likelihood"] == "high":
            out.append(f"{code} is high")
    raised = {f["code"] for f in a["red_flags"]}
    for code in expect.get("red_flags", []):
        if code not in raised:
            out.append(f"red flag {code} not raised (raised: {sorted(raised)})")
    if expect.get("no_red_flags") and raised:
        out.append(f"red flags raised: {sorted(raised)}")
    if "lbp" in expect and a["low_back_pain_source"] not in expect["lbp"]:
        out.append(f"low_back_pain_source {a['low_back_pain_source']} not in {expect['lbp']}")
    for name, value in expect.get("scores", {}).items():
        got = _score(a["scores"], name)
        if got is None or abs(got - value) > 0.05:
            out.append(f"score {name} = {got}, expected {value}")
    for name in expect.get("null_scores", []):
        if name not in a["scores"] or _score(a["scores"], name) is not None:
            out.append(f"score {name} should be null")
    return out
