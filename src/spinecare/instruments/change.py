"""Change over time: from two or more scored administrations, each measure's change from
baseline, its percent change, and whether it passes the instrument's minimal clinically
important difference (MCID), as improved, unchanged or worse.

The thresholds and which of them decides come from each instrument's data file (``[change]``):

- ``improved_by = "percent"``: the relative rule decides improvement when a baseline is
  available, else the absolute one (clinical reference 1.6, implementation note; ODI and pain
  use Ostelo 2008's 30%); ``"absolute"``: the absolute MCID decides; ``"either"``: either does.
- ``worse_by``: which threshold a deterioration must reach (absolute by default: relative
  thresholds were set for improvement and are unstable near a zero baseline).

Both thresholds are always reported, so a reader can apply the other rule. Changes are computed
exactly on the reported (rounded) scores; a change exactly at the threshold passes it.

A measure is one number: the ODI or NDI percentage, the mJOA total, each ZCQ subscale
(``zcq.symptom_severity``), each pain rating (``pain_nrs.leg``). The baseline is the first
administration in which the measure has a value; administrations must be in time order.
Instruments whose versions differ from the baseline's are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal

from spinecare.errors import Problem
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import Instrument, instruments

Status = Literal["improved", "unchanged", "worse"]


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    instrument: str
    label: str
    path: tuple[str, ...]
    higher_is_worse: bool
    decimals: int
    mcid_absolute: float | None
    mcid_percent: float | None
    improved_by: str
    worse_by: str
    cite: tuple[str, ...]
    basis: str


def _measures_of(inst: Instrument) -> list[Measure]:
    c = inst.change
    if not c.tracked:
        return []
    assert c.higher_is_worse is not None
    s = inst.scoring

    def make(key: str, label: str, path: tuple[str, ...], decimals: int,
             absolute: float | None, percent: float | None, cite: list[str],
             basis: str) -> Measure:
        return Measure(key, inst.id, label, path, c.higher_is_worse is True, decimals,
                       absolute, percent, c.improved_by if percent is not None else "absolute",
                       c.worse_by if percent is not None else "absolute", tuple(cite), basis)

    if s.kind in ("percent_of_answered", "sum_of_domains"):
        return [make(inst.id, inst.short_name, (inst.id, "value"), s.decimals,
                     c.mcid_absolute, c.mcid_percent, c.cite, c.basis)]
    if s.kind == "subscale_means":
        return [make(f"{inst.id}.{name}", f"{inst.short_name} {name.replace('_', ' ')}",
                     (inst.id, name), s.decimals, sub.mcid_absolute, sub.mcid_percent,
                     sub.cite, sub.basis)
                for name, sub in c.subscales.items()]
    if s.kind == "ratings":
        return [make(f"{inst.id}.{name}", f"{name} pain", (inst.id, name, "value"), 0,
                     c.mcid_absolute, c.mcid_percent, c.cite, c.basis)
                for name in s.ratings or []]
    return []


def measures() -> list[Measure]:
    """Every measure whose change over time is tracked, in registry order."""
    return [m for inst in instruments().values() for m in _measures_of(inst)]


def _get(scores: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = scores
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _exact(value: float | int) -> Fraction:
    return Fraction(str(value))


def _rounded(value: Fraction, decimals: int) -> float | int:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    q = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(q) if decimals == 0 else float(q)


def compare(measure: Measure, baseline: float | int, follow_up: float | int) -> dict[str, Any]:
    """One follow-up against the baseline: the change, percent change and MCID verdicts."""
    base, now = _exact(baseline), _exact(follow_up)
    change = now - base
    improvement = -change if measure.higher_is_worse else change
    percent = change * 100 / base if base != 0 else None
    improvement_pct = improvement * 100 / base if base != 0 else None
    passes_abs = (improvement >= _exact(measure.mcid_absolute)
                  if measure.mcid_absolute is not None else None)
    passes_pct = (improvement_pct >= _exact(measure.mcid_percent)
                  if measure.mcid_percent is not None and improvement_pct is not None else None)
    worse_abs = (-improvement >= _exact(measure.mcid_absolute)
                 if measure.mcid_absolute is not None else None)
    worse_pct = (-improvement_pct >= _exact(measure.mcid_percent)
                 if measure.mcid_percent is not None and improvement_pct is not None else None)
    out: dict[str, Any] = {
        "value": follow_up,
        "change": _rounded(change, measure.decimals),
        "percent_change": _rounded(percent, 1) if percent is not None else None,
        "improvement": _rounded(improvement, measure.decimals),
        "passes_mcid_absolute": passes_abs,
        "passes_mcid_percent": passes_pct,
    }
    improved = _decide(measure.improved_by, passes_abs, passes_pct)
    worse = _decide(measure.worse_by, worse_abs, worse_pct)
    if improved is None and worse is None:
        out["status"] = None
        out["reason"] = f"{measure.instrument} has no minimal clinically important difference"
    else:
        out["status"] = "improved" if improved else "worse" if worse else "unchanged"
    out["decided_by"] = measure.improved_by if improved or not worse else measure.worse_by
    return out


def _decide(rule: str, absolute: bool | None, percent: bool | None) -> bool | None:
    if rule == "either":
        known = [v for v in (absolute, percent) if v is not None]
        return any(known) if known else None
    if rule == "percent":
        return percent if percent is not None else absolute
    return absolute if absolute is not None else percent


def _when(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise AnswerError([Problem(where, f"is not an ISO 8601 date ({value!r})")]) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def change_over_time(administrations: Sequence[Mapping[str, Any]],
                     dates: Sequence[str | None] | None = None) -> dict[str, Any]:
    """Change from baseline of every measure scored in two or more administrations.

    ``administrations`` are score dictionaries in time order (as returned by
    :func:`spinecare.instruments.scoring.score_instruments`, ``assessment["scores"]``, or
    ``{instrument_id: score_answers(...)}``); ``dates``, when given, are their ISO dates, which
    must not go backwards. The result maps each measure key (``odi``, ``zcq.symptom_severity``,
    ``pain_nrs.leg``) to its series, baseline, changes and latest status.
    """
    if dates is not None:
        if len(dates) != len(administrations):
            raise AnswerError([Problem("dates", f"{len(dates)} dates for "
                                                f"{len(administrations)} administrations")])
        known = [(n, _when(d, f"dates[{n}]")) for n, d in enumerate(dates) if d is not None]
        for (_, earlier), (n, later) in pairwise(known):
            if later < earlier:
                raise AnswerError([Problem(f"dates[{n}]", "administrations must be in time "
                                                          "order; this one is earlier than the "
                                                          "one before it")])
    out: dict[str, Any] = {}
    for m in measures():
        series = []
        for n, scores in enumerate(administrations):
            value = _get(scores, m.path)
            if value is None:
                continue
            series.append({"index": n, "date": dates[n] if dates else None, "value": value,
                           "version": _get(scores, (m.instrument, "version"))})
        if not series:
            continue
        baseline = series[0]
        changes = []
        for point in series[1:]:
            entry = {"index": point["index"], "date": point["date"]}
            if point["version"] != baseline["version"]:
                entry.update({"value": point["value"], "status": None,
                              "reason": f"version {point['version']} differs from the "
                                        f"baseline's {baseline['version']}"})
            else:
                entry.update(compare(m, baseline["value"], point["value"]))
            changes.append(entry)
        out[m.key] = {
            "instrument": m.instrument, "measure": m.key, "label": m.label,
            "higher_is_worse": m.higher_is_worse,
            "mcid": {"absolute": m.mcid_absolute, "percent": m.mcid_percent,
                     "improved_by": m.improved_by, "worse_by": m.worse_by,
                     "basis": m.basis, "citations": list(m.cite)},
            "series": [{k: v for k, v in p.items() if k != "version"} for p in series],
            "baseline": {k: v for k, v in baseline.items() if k != "version"},
            "changes": changes,
            "status": changes[-1]["status"] if changes else None,
        }
    return out
