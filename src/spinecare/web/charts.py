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


def _moment(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def time_positions(dates: Sequence[str | None], width: float) -> list[float]:
    """Each point's distance from the left of a plot ``width`` wide, in proportion to the time
    between the dates (two weeks apart and then six months apart look it); evenly spaced when
    a date is missing or all are the same moment."""
    n = len(dates)
    if n == 1:
        return [width / 2]
    moments = [_moment(d) for d in dates]
    known = [m for m in moments if m is not None]
    if len(known) != n or max(known) == min(known):
        return [width * i / (n - 1) for i in range(n)]
    first, span = min(known), max(known) - min(known)
    return [width * (m - first) / span for m in known]


def _label_shown(xs: Sequence[float], gap: float) -> list[bool]:
    """Which date labels fit without overlapping: the first and the last always, the others
    when at least ``gap`` from the previous label shown and from the last."""
    shown = [False] * len(xs)
    if not xs:
        return shown
    shown[0] = shown[-1] = True
    last = xs[0]
    for i in range(1, len(xs) - 1):
        if xs[i] - last >= gap and xs[-1] - xs[i] >= gap:
            shown[i], last = True, xs[i]
    if len(xs) > 1 and xs[-1] - xs[0] < gap:
        shown[-1] = False
    return shown


def outcome_chart(key: str, measure: Mapping[str, Any]) -> Markup:
    """One measure over time, as an accessible SVG: points placed by date, date labels that
    do not overlap (every date is in the point's own title and in the table beside it)."""
    series = measure["series"]
    values = [float(p["value"]) for p in series]
    low, high = _range(key, values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = time_positions([p.get("date") for p in series], plot_w)
    labelled = _label_shown(xs, 84)

    def x(i: int) -> float:
        return LEFT + xs[i]

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
        where = " (answered at home)" if point.get("source") == "home" else ""
        tip = f"<title>{escape(when)}{where}: {_fmt(values[i])}, {escape(words)}</title>"
        if point.get("source") == "home":
            # A square for an answer given at home, a circle for a visit: not colour alone.
            parts.append(f'<rect class="point point-{status} point-home" x="{x(i) - 6:.1f}" '
                         f'y="{y(values[i]) - 6:.1f}" width="12" height="12">{tip}</rect>')
        else:
            parts.append(f'<circle class="point point-{status}" cx="{x(i):.1f}" '
                         f'cy="{y(values[i]):.1f}" r="7">{tip}</circle>')
        if labelled[i]:
            anchor = "start" if i == 0 and len(series) > 1 else \
                "end" if i == len(series) - 1 and len(series) > 1 else "middle"
            parts.append(f'<text class="axis date" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 20}" '
                         f'text-anchor="{anchor}">{escape(when)}</text>')
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
    # Phone-sized: only the labels that fit; the table below the chart has every date.
    labelled = _label_shown([x(i) for i in range(n)], 96)
    for i, e in enumerate(entries):
        if labelled[i]:
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{height - BOTTOM + 22}" '
                         f'text-anchor="middle">{escape(e["label"])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
