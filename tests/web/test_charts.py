"""The outcome charts: where the MCID band starts, and a text alternative for every point."""

from __future__ import annotations

import re
from typing import Any

from spinecare.web.charts import mcid_threshold, outcome_chart, pain_chart


def measure(higher_is_worse: bool, mcid: dict[str, Any], values: list[float]) -> dict[str, Any]:
    series = [{"index": n, "date": f"2026-0{n + 1}-01T00:00:00Z", "value": v}
              for n, v in enumerate(values)]
    return {"label": "ODI", "higher_is_worse": higher_is_worse, "mcid": mcid,
            "series": series, "baseline": series[0],
            "changes": [{"index": p["index"], "status": "improved"} for p in series[1:]]}


def test_a_percent_mcid_is_taken_from_the_baseline() -> None:
    m = measure(True, {"absolute": 10, "percent": 30, "improved_by": "percent"}, [40, 20])
    assert mcid_threshold(m) == 28


def test_an_absolute_mcid_above_the_baseline_when_higher_is_better() -> None:
    m = measure(False, {"absolute": 2, "percent": None, "improved_by": "absolute"}, [12, 15])
    assert mcid_threshold(m) == 14


def test_no_mcid_draws_no_band() -> None:
    m = measure(True, {"absolute": None, "percent": None, "improved_by": "absolute"}, [5, 4])
    assert mcid_threshold(m) is None and "mcid-band" not in outcome_chart("x", m)


def test_every_point_has_a_text_alternative() -> None:
    svg = str(outcome_chart("odi", measure(
        True, {"absolute": 10, "percent": 30, "improved_by": "percent"}, [40, 30, 20])))
    points = re.findall(r'<circle class="point [^"]*"[^>]*><title>([^<]+)</title>', svg)
    assert points == ["01 Jan 2026: 40, baseline",
                      "01 Feb 2026: 30, improved (passes the MCID)",
                      "01 Mar 2026: 20, improved (passes the MCID)"]
    assert 'role="img"' in svg and "<desc" in svg


def test_the_pain_chart_draws_the_rating_scale_of_the_registry() -> None:
    svg = str(pain_chart([{"label": "day 1", "pain_before": 6, "pain_after": 4}]))
    assert "pain from 0 (none) to 10 (worst)" in svg
    assert re.findall(r'text-anchor="end">([^<]*)<', svg) == ["0", "5", "10"]


def test_an_outcome_chart_is_drawn_on_the_instruments_own_scale() -> None:
    m = measure(False, {"absolute": 2, "percent": None, "improved_by": "absolute"}, [12, 15])
    svg = str(outcome_chart("mjoa", m))
    assert re.findall(r'class="axis"[^>]*text-anchor="end">([^<]*)<', svg) == [
        "0", "4.5", "9", "13.5", "18"]
