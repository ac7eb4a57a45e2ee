"""Exact scoring of the instruments in a case, by the rules in each instrument's data file.

Scores are computed with exact fractions and rounded half-up only at the end, so 16/45 gives
35.6 (sources that print 35.5 truncate). A score that cannot be computed has ``value: None`` and
a ``reason``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from spinecare.case import Instruments
from spinecare.instruments.registry import Instrument, instruments


def round_half_up(value: Fraction, decimals: int) -> float | int:
    """Round an exact fraction half-up to ``decimals`` places."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(rounded) if decimals == 0 else float(rounded)


def _banded(inst: Instrument, value: float | int, on: float | None = None) -> dict[str, Any]:
    band = inst.band_for(value if on is None else on)
    return {"value": value, "band": band.code if band else None,
            "band_label": band.label if band else None}


def score_percent_of_answered(inst: Instrument, answers: list[int | None]) -> dict[str, Any]:
    """ODI-style index: ``100 x sum / (item_max x answered)`` (Fairbank & Pynsent 2000)."""
    s = inst.scoring
    assert s.item_max is not None and s.items is not None and s.max_missing is not None
    given = [a for a in answers if a is not None]
    missing = s.items - len(given)
    meta = {"version": inst.version, "answered": len(given), "missing": missing}
    if missing > s.max_missing or not given:
        return {"value": None, "band": None, **meta,
                "reason": f"{missing} of {s.items} items unanswered; at most {s.max_missing} "
                          f"may be missing to score"}
    exact = Fraction(100 * sum(given), s.item_max * len(given))
    value = round_half_up(exact, s.decimals)
    on = None
    if s.band_on == "raw_equivalent":
        assert s.raw_equivalent_divisor is not None
        on = float(exact / Fraction(s.raw_equivalent_divisor))
    out = {**_banded(inst, value, on), **meta}
    if missing:
        out["flag"] = f"{missing} item(s) unanswered: scored on the answered items"
    return out


def score_sum_of_domains(inst: Instrument, domains: BaseModel) -> dict[str, Any]:
    """mJOA: the sum of its domain scores (Benzel 1991; maxima per Kato 2015)."""
    assert inst.scoring.domains is not None
    total = sum(getattr(domains, d) for d in inst.scoring.domains)
    return {**_banded(inst, total), "version": inst.version}


def score_subscale_means(inst: Instrument, answers: BaseModel) -> dict[str, Any]:
    """ZCQ: the mean of the answered items of each subscale (Stucki 1996)."""
    assert inst.scoring.subscales is not None
    out: dict[str, Any] = {"version": inst.version}
    reasons = []
    for name, sub in inst.scoring.subscales.items():
        items = getattr(answers, name)
        if items is None:
            continue
        given = [a for a in items if a is not None]
        if len(given) < sub.min_answered:
            out[name] = None
            reasons.append(f"{name}: {len(given)} of {sub.items} items answered; "
                           f"{sub.min_answered} needed")
        else:
            out[name] = round_half_up(Fraction(sum(given), len(given)), inst.scoring.decimals)
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out


def score_ratings(inst: Instrument, ratings: BaseModel) -> dict[str, Any]:
    """Numeric pain ratings, each banded."""
    assert inst.scoring.ratings is not None
    out: dict[str, Any] = {}
    for name in inst.scoring.ratings:
        value = getattr(ratings, name)
        if value is not None:
            out[name] = _banded(inst, value)
    return out


def score_instruments(given: Instruments) -> dict[str, Any]:
    """Score every instrument present in a case's ``instruments`` section."""
    registry = instruments()
    scores: dict[str, Any] = {}
    if given.odi is not None:
        scores["odi"] = score_percent_of_answered(registry["odi"], given.odi)
    if given.ndi is not None:
        scores["ndi"] = score_percent_of_answered(registry["ndi"], given.ndi)
    if given.mjoa is not None:
        scores["mjoa"] = score_sum_of_domains(registry["mjoa"], given.mjoa)
    if given.zcq is not None:
        scores["zcq"] = score_subscale_means(registry["zcq"], given.zcq)
    if given.pain_nrs is not None:
        rated = score_ratings(registry["pain_nrs"], given.pain_nrs)
        if rated:
            scores["pain_nrs"] = rated
    return scores
