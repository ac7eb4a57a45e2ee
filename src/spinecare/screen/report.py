"""The screen's summary and worklists: what a population-health or spine team acts on.

:class:`Summary` is fed the output of a screen batch by batch (with the care columns of the
same rows, :data:`~spinecare.screen.inputs.CARE_COLUMNS`) and keeps only counts and the
worklists, so its memory does not grow with the input beyond the worklists themselves; each
worklist's rows stream to a CSV file as they are found, and the HTML report shows the first
:data:`HTML_ROWS` of each.

The worklists (:data:`WORKLISTS`):

- ``open_red_flags``: emergency or urgent triage with no referral recorded as made;
- ``dcm_without_referral``: degenerative cervical myelopathy moderate or high, no referral
  recorded as made;
- ``stenosis_without_plan``: lumbar spinal stenosis moderate or high, no care plan recorded.

"Recorded as made" means ``care.referral`` (or ``care.plan``) is true; false or absent (NULL:
not recorded) keeps the patient on the list, with the state shown, because a team should see a
patient whose referral nobody recorded rather than miss one.

Screening suggests who may need attention; it is not a diagnosis. The report says so, and says
that an emergency on the list needs same-day contact.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spinecare.reasoning.knowledge import Knowledge, default_knowledge
from spinecare.screen.atomic import atomic_file
from spinecare.screen.inputs import CARE_PLAN, CARE_REFERRAL
from spinecare.vocabulary import TRIAGE_LEVELS

DCM = "degenerative_cervical_myelopathy"
LSS = "lumbar_spinal_stenosis"
SUSPECTED = ("high", "moderate")
#: rows of each worklist shown in the HTML report (the CSV holds them all)
HTML_ROWS = 1000


def _not_true(care: pa.ChunkedArray | pa.Array) -> Any:
    """False where the care column says true; true where it says false or nothing."""
    return pc.invert(pc.fill_null(care, False))


def _suspected(output: pa.Table, code: str) -> Any:
    return pc.fill_null(pc.is_in(output.column(f"band.{code}"),
                                 value_set=pa.array(SUSPECTED)), False)


@dataclass(frozen=True, slots=True)
class Worklist:
    id: str
    title: str
    explanation: str
    #: which rows belong: (output batch, referral column, plan column) -> boolean mask
    select: Callable[[pa.Table, Any, Any], Any]
    #: the care column whose state the list shows
    care: str
    #: whose rules' findings the list shows: "red_flags" or a condition code
    basis: str


WORKLISTS: tuple[Worklist, ...] = (
    Worklist("open_red_flags", "Open emergencies and urgent referrals",
             "Triage emergency (same-day emergency department) or urgent (specialist within "
             "about two weeks), with no referral recorded as made. Contact each emergency "
             "today.",
             lambda out, ref, plan: pc.and_(pc.fill_null(pc.is_in(
                 out.column("triage"), value_set=pa.array(["emergency", "urgent"])), False),
                 _not_true(ref)),
             CARE_REFERRAL, "red_flags"),
    Worklist("dcm_without_referral", "Possible cervical myelopathy without a referral",
             "Degenerative cervical myelopathy moderate or high, with no referral recorded as "
             "made: a possible myelopathy that may need a specialist's assessment.",
             lambda out, ref, plan: pc.and_(_suspected(out, DCM), _not_true(ref)),
             CARE_REFERRAL, DCM),
    Worklist("stenosis_without_plan", "Possible lumbar stenosis without a plan",
             "Lumbar spinal stenosis moderate or high, with no care plan recorded: a possible "
             "stenosis that may benefit from a plan (physiotherapy first).",
             lambda out, ref, plan: pc.and_(_suspected(out, LSS), _not_true(plan)),
             CARE_PLAN, LSS),
)

def rule_findings(k: Knowledge) -> dict[str, dict[str, frozenset[str]]]:
    """For each worklist basis (``red_flags`` or a condition code): each rule id with the
    findings its criterion names, as the assessment's evidence names them. A worklist row
    shows the true findings of the rules that fired for it: what put the patient there."""
    from spinecare.criteria import parse, refs

    names = frozenset(k.findings)

    def used(text: str, where: str) -> frozenset[str]:
        return frozenset(r.name for r in refs(parse(text, where, names))
                         if r.kind == "finding")

    out: dict[str, dict[str, frozenset[str]]] = {"red_flags": {}}
    for rule in k.red_flag_rules:
        out["red_flags"][rule.id] = used(rule.when, rule.id)
    for trule in k.triage_rules:
        out["red_flags"][trule.id] = used(trule.when, trule.id)
    for code, c in k.conditions.items():
        rules: dict[str, frozenset[str]] = {}
        for e in c.evidence:
            rules[e.id] = frozenset({e.finding})
        for floor in c.floor:
            rules[floor.id] = used(floor.when, floor.id)
        for cap in c.cap:
            rules[cap.id] = used(cap.when, cap.id)
        out[code] = rules
    # a suspected myelopathy is also what the myelopathy red-flag rules saw
    if DCM in out:
        out[DCM].update({r.id: out["red_flags"][r.id] for r in k.red_flag_rules
                         if r.flag == "myelopathy"})
    return out


CSV_COLUMNS = ("case_id", "triage", "red_flags", "first_condition", f"p.{DCM}", f"band.{DCM}",
               f"p.{LSS}", f"band.{LSS}", "care", "findings")


def _count(into: dict[str, int], column: Any) -> None:
    for item in pc.value_counts(column).to_pylist():
        value = item["values"]
        if value is not None:
            into[value] = into.get(value, 0) + item["counts"]


def care_state(value: bool | None) -> str:
    return "not recorded" if value is None else "yes" if value else "no"


@dataclass
class Summary:
    """Counts and worklists over a screen's output, fed batch by batch."""

    knowledge: Knowledge = field(default_factory=default_knowledge)
    worklist_dir: Path | None = None
    rows: int = 0
    rejected: int = 0
    triage: dict[str, int] = field(default_factory=dict)
    #: condition -> band -> count
    bands: dict[str, dict[str, int]] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    shown: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _writers: dict[str, Any] = field(default_factory=dict)
    _behind: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    _files: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._behind = rule_findings(self.knowledge)
        self.triage = dict.fromkeys(TRIAGE_LEVELS, 0)
        codes = list(self.knowledge.conditions)
        self.bands = {c: {"high": 0, "moderate": 0, "low": 0} for c in codes}
        self.first = dict.fromkeys(codes, 0)
        for w in WORKLISTS:
            self.counts[w.id] = 0
            self.shown[w.id] = []

    def open(self, folder: Path | None) -> None:
        """Stream the worklists to ``folder/ID.csv`` (written whole or not at all)."""
        self.worklist_dir = folder
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        for w in WORKLISTS:
            cm = atomic_file(folder / f"{w.id}.csv")
            binary = cm.__enter__()
            self._files.append(cm)
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(CSV_COLUMNS)
            self._writers[w.id] = (writer, text)

    def close(self, ok: bool) -> None:
        """Finish the worklist files: renamed into place when ``ok``, dropped otherwise."""
        for _, text in self._writers.values():
            text.flush()
            text.detach()
        error = None if ok else RuntimeError("screen stopped")
        for cm in self._files:
            if error is None:
                cm.__exit__(None, None, None)
            else:
                cm.__exit__(RuntimeError, error, None)
        self._files.clear()
        self._writers.clear()

    def add(self, output: pa.Table, care: pa.Table) -> None:
        """Count one batch of output rows and add its worklist rows (column-wise: only the
        rows on a worklist become Python values)."""
        self.rows += output.num_rows
        _count(self.triage, output.column("triage"))
        _count(self.first, output.column("first_condition"))
        for code, bands in self.bands.items():
            _count(bands, output.column(f"band.{code}"))
        ref, plan = care.column(CARE_REFERRAL), care.column(CARE_PLAN)
        names = ["case_id", "triage", "red_flags", "first_condition", "findings",
                 f"p.{DCM}", f"band.{DCM}", f"p.{LSS}", f"band.{LSS}"]
        for w in WORKLISTS:
            mask = w.select(output, ref, plan)
            hits = pc.sum(mask).as_py() or 0
            if not hits:
                continue
            self.counts[w.id] += hits
            wanted = w.id in self._writers or len(self.shown[w.id]) < HTML_ROWS
            if not wanted:
                continue
            states = care.column(w.care).filter(mask).to_pylist()
            rows = output.select(names).filter(mask).to_pylist()
            fired = output.column("rules").filter(mask).to_pylist()
            for row, state, rules in zip(rows, states, fired, strict=True):
                row["care"] = care_state(state)
                row["findings"] = self.behind(w, rules, row["findings"])
                if len(self.shown[w.id]) < HTML_ROWS:
                    self.shown[w.id].append(row)
                if w.id in self._writers:
                    self._writers[w.id][0].writerow(self._csv_row(row, row["care"]))

    def behind(self, w: Worklist, rules: list[str] | None, true: list[str] | None
               ) -> list[str]:
        """The true findings named by the rules that put a row on worklist ``w``."""
        table = self._behind.get(w.basis, {})
        used: set[str] = set()
        for rule in rules or ():
            used |= table.get(rule, frozenset())
        return [f for f in true or () if f in used]

    def _csv_row(self, row: dict[str, Any], state: str) -> list[Any]:
        return [row["case_id"], row["triage"], " ".join(row["red_flags"] or []),
                row["first_condition"], row[f"p.{DCM}"], row[f"band.{DCM}"],
                row[f"p.{LSS}"], row[f"band.{LSS}"], state,
                "; ".join(self.finding_labels(row["findings"]))]

    def finding_labels(self, names: Iterable[str] | None) -> list[str]:
        found = self.knowledge.findings
        return [found[n].label if n in found else n for n in names or ()]

    def condition_label(self, code: str) -> str:
        condition = self.knowledge.conditions.get(code)
        return condition.label if condition is not None else code


# --- the HTML report ---------------------------------------------------------------------


def _svg(figure: Any, prefix: str, title: str) -> str:
    """A matplotlib figure as inline SVG: text as text, no metadata, no script or external
    reference, its ids prefixed so that two charts on one page keep distinct ids."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        figure.savefig(buffer, format="svg", bbox_inches="tight",
                       metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = (text.replace('id="', f'id="{prefix}-').replace("url(#", f"url(#{prefix}-")
            .replace('href="#', f'href="#{prefix}-'))
    return text.replace("<svg ", f'<svg role="img" aria-label="{_e(title)}" ', 1)


def triage_chart(summary: Summary) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(summary.triage)
    counts = [summary.triage[level] for level in levels]
    colours = {"emergency": "#b2182b", "urgent": "#ef8a62", "routine": "#67a9cf",
               "self_care": "#4d9221"}
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    bars = ax.barh([level.replace("_", " ") for level in levels], counts,
                   color=[colours.get(level, "#888888") for level in levels])
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("patients")
    ax.set_title("Patients by triage level")
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.15)
    return _svg(fig, "triage", "Bar chart: patients by triage level")


def condition_chart(summary: Summary) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codes = sorted(summary.bands, key=lambda c: -(summary.bands[c]["high"]
                                                  + summary.bands[c]["moderate"]))
    labels = [summary.condition_label(c) for c in codes]
    high = [summary.bands[c]["high"] for c in codes]
    moderate = [summary.bands[c]["moderate"] for c in codes]
    fig, ax = plt.subplots(figsize=(7.2, 0.38 * len(codes) + 1.2))
    ax.barh(labels, high, color="#b2182b", label="high")
    ax.barh(labels, moderate, left=high, color="#f4a582", label="moderate")
    ax.invert_yaxis()
    ax.set_xlabel("patients")
    ax.set_title("Possible conditions: patients with a high or moderate likelihood")
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "conditions", "Bar chart: patients with each possible condition at a high "
                "or moderate likelihood")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_html(summary: Summary, *, source: str, engine: str, knowledge_version: str,
                software_version: str) -> str:
    total = summary.rows
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Screening report: {_e(Path(source).name)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Screening report: {_e(Path(source).name)}</h1>",
        '<p class="note">Screening suggests who <strong>may</strong> need attention, from the '
        "recorded findings only; a listed condition is a possibility to assess, never a "
        "diagnosis. <strong>Any patient on the emergency list needs contact today</strong>: "
        "a possible emergency (such as cauda equina syndrome) means the same-day emergency "
        "department.</p>",
        '<dl class="facts">',
        f"<dt>Patients screened</dt><dd id=\"rows\">{total:,}</dd>",
        f"<dt>Rows left out as invalid</dt><dd id=\"rejected\">{summary.rejected:,}</dd>",
        f"<dt>Input</dt><dd>{_e(source)}</dd>",
        f"<dt>Engine</dt><dd>{_e(engine)}</dd>",
        f"<dt>Knowledge version</dt><dd>{_e(knowledge_version)}</dd>",
        f"<dt>spinecare</dt><dd>{_e(software_version)}</dd>",
        f"<dt>Made</dt><dd>{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}</dd>",
        "</dl>",
        "<nav aria-label=\"Worklists\"><ul>",
        *(f'<li><a href="#{w.id}">{_e(w.title)}</a> ({summary.counts[w.id]:,})</li>'
          for w in WORKLISTS),
        "</ul></nav>",
        '<section aria-labelledby="by-triage"><h2 id="by-triage">By triage level</h2>',
        f'<figure class="chart">{triage_chart(summary)}'
        "<figcaption>Patients by triage level (counts in the table).</figcaption></figure>",
        '<table id="triage-counts"><caption>Patients by triage level</caption>'
        '<thead><tr><th scope="col">Triage</th><th scope="col">Patients</th>'
        '<th scope="col">Share</th></tr></thead><tbody>',
        *(f'<tr data-level="{_e(level)}"><th scope="row">{_e(level.replace("_", " "))}</th>'
          f'<td class="n">{n:,}</td><td class="n">{_share(n, total)}</td></tr>'
          for level, n in summary.triage.items()),
        "</tbody></table></section>",
        '<section aria-labelledby="by-condition"><h2 id="by-condition">By condition</h2>',
        f'<figure class="chart">{condition_chart(summary)}'
        "<figcaption>Patients with each possible condition at a high or moderate likelihood "
        "(counts in the table).</figcaption></figure>",
        '<table id="condition-counts"><caption>Likelihood of each condition</caption>'
        '<thead><tr><th scope="col">Condition</th><th scope="col">High</th>'
        '<th scope="col">Moderate</th><th scope="col">Low</th>'
        '<th scope="col">Most likely</th></tr></thead><tbody>',
        *(f'<tr data-code="{_e(code)}"><th scope="row">{_e(summary.condition_label(code))}'
          f'</th><td class="n">{b["high"]:,}</td><td class="n">{b["moderate"]:,}</td>'
          f'<td class="n">{b["low"]:,}</td><td class="n">{summary.first.get(code, 0):,}</td>'
          "</tr>" for code, b in summary.bands.items()),
        "</tbody></table></section>",
    ]
    for w in WORKLISTS:
        parts.append(_worklist_html(summary, w))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _worklist_html(summary: Summary, w: Worklist) -> str:
    rows = summary.shown[w.id]
    count = summary.counts[w.id]
    care = "Referral" if w.care == CARE_REFERRAL else "Plan"
    out = [f'<section aria-labelledby="{w.id}-title" class="worklist" id="{w.id}">',
           f'<h2 id="{w.id}-title">{_e(w.title)} <span class="count">({count:,})</span></h2>',
           f"<p>{_e(w.explanation)}</p>"]
    if count > len(rows):
        out.append(f'<p class="more">Showing the first {len(rows):,} of {count:,}; the '
                   f"worklist file {_e(w.id)}.csv holds them all.</p>")
    if not rows:
        out.append('<p class="empty">No patient is on this list.</p></section>')
        return "".join(out)
    out.append(f'<table><caption>{_e(w.title)}</caption><thead><tr>'
               '<th scope="col">Case</th><th scope="col">Triage</th>'
               '<th scope="col">Red flags</th><th scope="col">Most likely</th>'
               f'<th scope="col">{care}</th>'
               '<th scope="col">Findings behind it</th></tr></thead><tbody>')
    for r in rows:
        flags = ", ".join(f.replace("_", " ") for f in r["red_flags"] or []) or "none"
        findings = "; ".join(summary.finding_labels(r["findings"])) or "none recorded"
        out.append(f'<tr data-case="{_e(r["case_id"])}"><td>{_e(r["case_id"])}</td>'
                   f'<td class="triage {_e(r["triage"])}">{_e(r["triage"].replace("_", " "))}'
                   f"</td><td>{_e(flags)}</td>"
                   f'<td>{_e(summary.condition_label(r["first_condition"]))}</td>'
                   f'<td>{_e(r["care"])}</td><td>{_e(findings)}</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def write_html(path: str | Path, text: str) -> None:
    with atomic_file(path) as fh:
        fh.write(text.encode())


_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; background: #fff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
.note { background: #fff4e5; border-left: 4px solid #b35900; padding: .75rem 1rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
.facts dt { font-weight: 600; } .facts dd { margin: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
#triage-counts, #condition-counts { width: auto; min-width: 28rem; }
.triage.emergency { color: #8b0000; font-weight: 700; }
.triage.urgent { color: #8a3b00; font-weight: 600; }
.chart svg { max-width: 100%; height: auto; }
.more, .empty { font-style: italic; }
"""
