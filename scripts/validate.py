"""Validate the engine on the independent clinical vignettes and write docs/validation.md.

Each vignette (``tests/data/vignettes/*.json``) holds a case and what a clinician expects from it,
written from the guideline criteria in the shared references, not from the engine's output:

    {"case": {...spinecare.case/1...},
     "expected": {"triage": LEVEL, "first_condition": CODE or null (optional), "top3": [CODE...],
                  "red_flags": [CODE...], "consider": [ID...]},
     "class": "red_flag|classic|mimic|overlap|self_care|not_modelled",
     "source": {"citation": "...", "criterion": "..."}, "note": "..."}

Every vignette is assessed through the package's public API only (``parse_case`` and
``assess``), scored, and summarised in a Markdown report whose content depends only on the
vignettes and the engine (sorted, no dates), so the file changes only when one of them does.

    python scripts/validate.py [--vignettes DIR] [--output FILE]

The scoring functions (``score``, ``summarise``, ``render``) take plain dicts so that the tests
can check them on small hand-made inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spinecare.case import parse_case
from spinecare.reasoning.engine import assess

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = ROOT / "tests" / "data" / "vignettes"
OUTPUT = ROOT / "docs" / "validation.md"

LEVELS = ("self_care", "routine", "urgent", "emergency")
RANK = {level: i for i, level in enumerate(LEVELS)}
CLASSES = ("red_flag", "classic", "mimic", "overlap", "self_care", "not_modelled")
LIKELY = ("moderate", "high")


def given_first(assessment: Mapping[str, Any]) -> str | None:
    """The engine's leading condition, or None when no condition is moderate or high."""
    conditions = assessment.get("conditions") or []
    if not conditions or conditions[0].get("likelihood") not in LIKELY:
        return None
    code: str = conditions[0]["code"]
    return code


def score(expected: Mapping[str, Any], assessment: Mapping[str, Any]) -> dict[str, Any]:
    """Compare one assessment with one vignette's expectation.

    Triage must match exactly; below the expected level is under-triage, above it over-triage.
    The first condition must equal the expected code (None expected: no condition may be
    moderate or high; no ``first_condition`` at all: which one leads is not judged).
    Every expected top-3 code must be among the first three conditions
    (any likelihood). Every expected red flag must be raised, and every expected diagnosis to
    consider (``consider.*`` ids) named.
    """
    exp_level = expected["triage"]
    got_level = assessment["triage"]["level"]
    first = given_first(assessment)
    top3 = [c["code"] for c in (assessment.get("conditions") or [])[:3]]
    raised = {f["code"] for f in assessment.get("red_flags") or []}
    want_top3 = list(expected.get("top3") or [])
    want_flags = list(expected.get("red_flags") or [])
    named = {x["id"] for x in assessment.get("consider") or []}
    want_consider = list(expected.get("consider") or [])
    return {
        "triage_expected": exp_level,
        "triage_given": got_level,
        "triage_ok": exp_level == got_level,
        "under_triage": RANK[got_level] < RANK[exp_level],
        "over_triage": RANK[got_level] > RANK[exp_level],
        "first_judged": "first_condition" in expected,
        "first_expected": expected.get("first_condition"),
        "first_given": first,
        "first_ok": "first_condition" not in expected or expected["first_condition"] == first,
        "top3_expected": want_top3,
        "top3_given": top3,
        "top3_missing": [c for c in want_top3 if c not in top3],
        "flags_expected": want_flags,
        "flags_given": sorted(raised),
        "flags_missing": [f for f in want_flags if f not in raised],
        "consider_expected": want_consider,
        "consider_given": sorted(named),
        "consider_missing": [x for x in want_consider if x not in named],
    }


def _pct(hits: int, n: int) -> str:
    return "n/a" if n == 0 else f"{100 * hits / n:.1f}% ({hits}/{n})"


def _rate(hits: int, n: int) -> float | None:
    return None if n == 0 else hits / n


def summarise(results: Iterable[tuple[str, str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Aggregate ``(file, class, score)`` triples into the report's figures."""
    rows = sorted(results, key=lambda r: r[0])
    confusion = {e: {g: 0 for g in LEVELS} for e in LEVELS}
    for _, _, s in rows:
        confusion[s["triage_expected"]][s["triage_given"]] += 1

    def figures(subset: Sequence[tuple[str, str, Mapping[str, Any]]]) -> dict[str, Any]:
        n = len(subset)
        scores = [s for _, _, s in subset]
        with_top3 = [s for s in scores if s["top3_expected"]]
        judged = [s for s in scores if s.get("first_judged", True)]
        flags_total = sum(len(s["flags_expected"]) for s in scores)
        flags_hit = flags_total - sum(len(s["flags_missing"]) for s in scores)
        consider_total = sum(len(s.get("consider_expected", ())) for s in scores)
        consider_hit = consider_total - sum(len(s.get("consider_missing", ())) for s in scores)
        return {
            "n": n,
            "triage_hits": sum(s["triage_ok"] for s in scores),
            "under": sum(s["under_triage"] for s in scores),
            "over": sum(s["over_triage"] for s in scores),
            "first_n": len(judged),
            "first_hits": sum(s["first_ok"] for s in judged),
            "top3_n": len(with_top3),
            "top3_hits": sum(not s["top3_missing"] for s in with_top3),
            "flags_total": flags_total,
            "flags_hit": flags_hit,
            "triage_accuracy": _rate(sum(s["triage_ok"] for s in scores), n),
            "first_accuracy": _rate(sum(s["first_ok"] for s in judged), len(judged)),
            "top3_rate": _rate(sum(not s["top3_missing"] for s in with_top3), len(with_top3)),
            "flag_recall": _rate(flags_hit, flags_total),
            "consider_total": consider_total,
            "consider_hit": consider_hit,
        }

    by_class = {c: figures([r for r in rows if r[1] == c]) for c in CLASSES}
    extra = sorted({r[1] for r in rows} - set(CLASSES))
    by_class.update({c: figures([r for r in rows if r[1] == c]) for c in extra})
    under = [(f, s["triage_expected"], s["triage_given"]) for f, _, s in rows
             if s["under_triage"]]
    urgent_under = [u for u in under if RANK[u[1]] >= RANK["urgent"]]
    misses: list[tuple[str, str, str, str]] = []
    for f, _, s in rows:
        if not s["triage_ok"]:
            misses.append((f, "triage", s["triage_expected"], s["triage_given"]))
        if not s["first_ok"]:
            misses.append((f, "first condition", str(s["first_expected"] or "none moderate/high"),
                           str(s["first_given"] or "none moderate/high")))
        if s["top3_missing"]:
            misses.append((f, "top 3", ", ".join(s["top3_expected"]),
                           ", ".join(s["top3_given"])))
        if s["flags_missing"]:
            misses.append((f, "red flags", ", ".join(s["flags_expected"]),
                           ", ".join(s["flags_given"]) or "none"))
        if s.get("consider_missing"):
            misses.append((f, "consider", ", ".join(s["consider_expected"]),
                           ", ".join(s["consider_given"]) or "none"))
    return {"all": figures(rows), "by_class": by_class, "confusion": confusion,
            "under_triaged": under, "urgent_under_triaged": urgent_under, "misses": misses}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(summary: Mapping[str, Any], versions: Mapping[str, Any]) -> str:
    """The Markdown report."""
    a = summary["all"]
    out = [
        "# Validation on independent clinical vignettes",
        "",
        "Generated by `make validate` (`scripts/validate.py`) from `tests/data/vignettes/`: each",
        "vignette is a case written from a guideline criterion or a textbook presentation (its",
        "source is in the file), with the triage, leading condition, top-3 conditions and red",
        "flags a clinician expects. The vignettes were written from the sources, not from the",
        "engine's output. Do not edit this file by hand.",
        "",
        f"Engine {versions.get('engine', '?')}, knowledge {versions.get('knowledge', '?')}; "
        f"{a['n']} vignettes.",
        "",
        "## Summary",
        "",
        "| measure | result |",
        "|---|---|",
        f"| triage accuracy (exact level) | {_pct(a['triage_hits'], a['n'])} |",
        f"| under-triaged (given lower than expected) | {a['under']} |",
        "| of which expected urgent or emergency | "
        f"{len(summary['urgent_under_triaged'])} |",
        f"| over-triaged (given higher than expected) | {a['over']} |",
        "| first-condition accuracy (vignettes naming one) | "
        f"{_pct(a['first_hits'], a['first_n'])} |",
        f"| top-3 hit rate (vignettes naming top-3 codes) | {_pct(a['top3_hits'], a['top3_n'])} |",
        f"| red-flag recall | {_pct(a['flags_hit'], a['flags_total'])} |",
        "| diagnoses to consider named (outside the differential) | "
        f"{_pct(a['consider_hit'], a['consider_total'])} |",
        "",
        "First condition: the engine's first condition when it is moderate or high, otherwise",
        "\"none\"; a vignette expecting none is met only when no condition is moderate or high;",
        "one that names no first condition is not counted.",
        "",
        "## Triage confusion (rows: expected, columns: given)",
        "",
        "| expected \\ given | " + " | ".join(LEVELS) + " | total |",
        "|---" * (len(LEVELS) + 2) + "|",
    ]
    for e in reversed(LEVELS):
        row = summary["confusion"][e]
        out.append(f"| {e} | " + " | ".join(str(row[g]) for g in LEVELS)
                   + f" | {sum(row.values())} |")
    out += ["", "## Under-triaged vignettes", ""]
    if summary["under_triaged"]:
        out += ["| file | expected | given |", "|---|---|---|"]
        out += [f"| {_cell(f)} | {e} | {g} |" for f, e, g in summary["under_triaged"]]
    else:
        out.append("None.")
    out += ["", "## By class", "",
            "| class | n | triage | under | over | first condition | top 3 | red-flag recall |",
            "|---|---|---|---|---|---|---|---|"]
    for c, f in summary["by_class"].items():
        if f["n"] == 0:
            continue
        out.append(f"| {c} | {f['n']} | {_pct(f['triage_hits'], f['n'])} | {f['under']} | "
                   f"{f['over']} | {_pct(f['first_hits'], f['first_n'])} | "
                   f"{_pct(f['top3_hits'], f['top3_n'])} | "
                   f"{_pct(f['flags_hit'], f['flags_total'])} |")
    out += ["", "## Every miss", ""]
    if summary["misses"]:
        out += ["| file | measure | expected | given |", "|---|---|---|---|"]
        out += [f"| {_cell(f)} | {m} | {_cell(e)} | {_cell(g)} |"
                for f, m, e, g in summary["misses"]]
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def load(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """The vignettes in ``directory``, sorted by file name."""
    return [(p.name, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(directory.glob("*.json"))]


def run(directory: Path = VIGNETTES) -> tuple[dict[str, Any], dict[str, Any]]:
    """Assess every vignette; returns (summary, versions)."""
    results = []
    versions: dict[str, Any] = {}
    for name, doc in load(directory):
        assessment = assess(parse_case(doc["case"]))
        versions = dict(assessment.get("versions") or versions)
        results.append((name, doc["class"], score(doc["expected"], assessment)))
    return summarise(results), versions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vignettes", type=Path, default=VIGNETTES)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    summary, versions = run(args.vignettes)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(summary, versions), encoding="utf-8")
    a = summary["all"]
    print(f"{args.output}: {a['n']} vignettes, triage {_pct(a['triage_hits'], a['n'])}, "
          f"under-triaged {a['under']}, first condition {_pct(a['first_hits'], a['first_n'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
