"""Charts as inline SVG, drawn on the server: no chart library and nothing fetched.

Each outcome chart shows the series of one measure, its baseline as a dashed line and the band
beyond the minimal clinically important difference (MCID) shaded, so a point inside the band is
a meaningful improvement at a glance. Every point has a text alternative (an SVG ``<title>``),
and the page shows the same numbers as a table for screen readers and for print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from markupsafe import Markup

from spinecare.instruments.display import measure_range, score_range
from spinecare.instruments.registry import instrument

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 44, 16, 44

STATUS_WORDS = {"improved": "improved (passes the MCID)", "unchanged": "no meaningful change",
                "worse": "worse (by at least the MCID)", None: "not compared"}


def _range(key: str, values: Sequence[float]) -> tuple[float, float]:
    """The measure's own scale from the instrument registry; the values' span otherwise."""
    bounds = measure_range(key)
    if bounds is not None:
        return bounds
    low, high = min(values), max(values)
    return (low - 1, high + 1) if low == high else (low, high)


def short_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%d %b %Y")
    except ValueError:
        return iso


def mcid_threshold(measure: Mapping[str, Any]) -> float | None:
    """The value a follow-up must reach to count as a meaningful improvement."""
    baseline = float(measure["baseline"]["value"])
    mcid = measure["mcid"]
    if mcid.get("improved_by") == "percent" and mcid.get("percent") is not None and baseline:
        delta = abs(baseline) * float(mcid["percent"]) / 100
    elif mcid.get("absolute") is not None:
        delta = float(mcid["absolute"])
    elif mcid.get("percent") is not None and baseline:
        delta = abs(baseline) * float(mcid["percent"]) / 100
    else:
        return None
    return baseline - delta if measure["higher_is_worse"] else baseline + delta


def _fmt(value: float) -> str:
    return f"{value:g}"


def outcome_chart(key: str, measure: Mapping[str, Any]) -> Markup:
    """One measure over time, as an accessible SVG."""
    series = measure["series"]
    values = [float(p["value"]) for p in series]
    low, high = _range(key, values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if len(series) == 1 else plot_w * i / (len(series) - 1))

    def y(v: float) -> float:
        v = min(max(v, low), high)
        return TOP + plot_h * (1 - (v - low) / (high - low))

    label = escape(measure["label"])
    better = "lower" if measure["higher_is_worse"] else "higher"
    threshold = mcid_threshold(measure)
    title_id, desc_id = f"chart-{escape(key)}-title", f"chart-{escape(key)}-desc"
    desc = (f"{len(series)} scores from {short_date(series[0]['date'])} to "
            f"{short_date(series[-1]['date'])}; {better} is better; baseline "
            f"{_fmt(values[0])}")
    if threshold is not None:
        desc += f"; a meaningful improvement reaches {_fmt(round(threshold, 1))}"
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{title_id} {desc_id}" data-measure="{escape(key)}">',
             f'<title id="{title_id}">{label} over time</title>',
             f'<desc id="{desc_id}">{escape(desc)}.</desc>']
    # Grid and axis labels.
    for n in range(5):
        v = low + (high - low) * n / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 8}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{_fmt(round(v, 1))}</text>')
    if threshold is not None:
        edge = low if measure["higher_is_worse"] else high
        top, bottom = sorted((y(threshold), y(edge)))
        parts.append(f'<rect class="mcid-band" x="{LEFT}" y="{top:.1f}" width="{plot_w}" '
                     f'height="{max(bottom - top, 0):.1f}"/>')
        parts.append(f'<text class="band-label" x="{WIDTH - RIGHT - 6}" '
                     f'y="{(top + 14) if not measure["higher_is_worse"] else (bottom - 6):.1f}" '
                     f'text-anchor="end">meaningful improvement</text>')
    parts.append(f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(values[0]):.1f}"'
                 f' y2="{y(values[0]):.1f}"/>')
    parts.append(f'<text class="baseline-label" x="{LEFT + 6}" y="{y(values[0]) - 6:.1f}">'
                 f'baseline {_fmt(values[0])}</text>')
    if len(series) > 1:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="line" points="{points}"/>')
    statuses = {c["index"]: c.get("status") for c in measure["changes"]}
    for i, point in enumerate(series):
        status = "baseline" if i == 0 else (statuses.get(point["index"]) or "none")
        words = "baseline" if i == 0 else STATUS_WORDS.get(statuses.get(point["index"]),
                                                            "not compared")
        when = short_date(point["date"])
        parts.append(f'<circle class="point point-{status}" cx="{x(i):.1f}" cy="{y(values[i]):.1f}"'
                     f' r="7"><title>{escape(when)}: {_fmt(values[i])}, {escape(words)}'
                     f'</title></circle>')
        parts.append(f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 20}" '
                     f'text-anchor="middle">{escape(when)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def pain_chart(entries: Sequence[Mapping[str, Any]]) -> Markup:
    """Pain before and after each logged exercise session, on the pain rating scale."""
    # Narrower than the clinician's charts: it is read on a phone, so its text stays large.
    width, height = 360, 240
    low, high = score_range(instrument("pain_nrs"))
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    n = len(entries)

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    parts = [f'<svg class="chart chart-phone" viewBox="0 0 {width} {height}" role="img" '
             'aria-labelledby="pain-title pain-desc">',
             '<title id="pain-title">Pain before and after exercise</title>',
             f'<desc id="pain-desc">{n} sessions; pain from {_fmt(low)} (none) to {_fmt(high)} '
             '(worst); lower is better. The table below gives every number.</desc>']
    for v in (low, (low + high) / 2, high):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 8}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{_fmt(v)}</text>')
    for key, css in (("pain_before", "before"), ("pain_after", "after")):
        known = [(i, e[key]) for i, e in enumerate(entries) if e.get(key) is not None]
        if len(known) > 1:
            pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in known)
            parts.append(f'<polyline class="line line-{css}" points="{pts}"/>')
        for i, v in known:
            shape = (f'<circle class="point point-{css}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="7">'
                     if css == "before" else
                     f'<rect class="point point-{css}" x="{x(i) - 6:.1f}" y="{y(v) - 6:.1f}" '
                     'width="12" height="12">')
            closing = "</circle>" if css == "before" else "</rect>"
            parts.append(f'{shape}<title>{escape(entries[i]["label"])}: pain {css} {v}</title>'
                         f'{closing}')
    for i, e in enumerate(entries):
        parts.append(f'<text class="axis" x="{x(i):.1f}" y="{height - BOTTOM + 22}" '
                     f'text-anchor="middle">{escape(e["label"])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
