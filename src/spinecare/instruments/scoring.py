"""Exact scoring of instruments, by the rules in each instrument's data file.

Scores are computed with exact fractions and rounded half-up only at the end, so 16/45 gives
35.6 (sources that print 35.5 truncate). A score that cannot be computed has ``value: None`` and
a ``reason``.

There is one small pure function per scoring ``kind`` (the data says which kind an instrument
is). Each takes the answers in the shape of the case's ``instruments`` section: a list in item
order (ODI, NDI, the Cook clusters), or a mapping by domain, subscale or rating. Answers keyed by
questionnaire linkId are put into that shape by :func:`score_answers`; a case's own section is
already in it (:func:`score_instruments`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from spinecare import criteria
from spinecare.case import Case, Instruments
from spinecare.criteria.logic import count_rule
from spinecare.errors import Problem
from spinecare.instruments.display import score_suffix
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import Instrument, instrument, instruments


def round_half_up(value: Fraction, decimals: int) -> float | int:
    """Round an exact, non-negative fraction half-up to ``decimals`` places, in integers:
    ``floor(value * 10**decimals + 1/2)``. (The scores are never negative.)"""
    return round_ratio_half_up(value.numerator, value.denominator, decimals)


def round_ratio_half_up(num: int, den: int, decimals: int) -> float | int:
    """:func:`round_half_up` of ``num/den`` (``den > 0``), reduced or not: the formula does not
    change when both are multiplied by the same factor. Scoring calls it with plain integers,
    as building a Fraction for every case's score costs more than the score."""
    scale = 10**decimals
    rounded: int = (2 * num * scale + den) // (2 * den)
    return rounded if decimals == 0 else rounded / scale


def _banded(inst: Instrument, value: float | int, on: float | None = None) -> dict[str, Any]:
    band = inst.band_for(value if on is None else on)
    return {"value": value, "band": band.code if band else None,
            "band_label": band.label if band else None}


# --- one function per scoring kind -----------------------------------------------------------


def score_percent_of_answered(inst: Instrument, answers: Sequence[int | None]) -> dict[str, Any]:
    """ODI-style index: ``100 x sum / (item_max x answered)``.

    Fairbank & Pynsent 2000 (ODI); Vernon's rule for a missing NDI item (its mean of the answered
    items) gives the same percentage. At most ``max_missing`` items may be unanswered; a result
    with any missing is flagged.
    """
    s = inst.scoring
    assert s.item_max is not None and s.items is not None and s.max_missing is not None
    given = [a for a in answers if a is not None]
    missing = s.items - len(given)
    meta = {"version": inst.version, "answered": len(given), "missing": missing}
    if missing > s.max_missing or not given:
        return {"value": None, "band": None, "band_label": None, **meta,
                "reason": f"{missing} of {s.items} items unanswered; at most {s.max_missing} "
                          f"may be missing to score"}
    # The exact score is num/den, kept as integers (see round_ratio_half_up); int true
    # division is correctly rounded, as float(Fraction) is.
    num, den = 100 * sum(given), s.item_max * len(given)
    value = round_ratio_half_up(num, den, s.decimals)
    on = None
    if s.band_on == "raw_equivalent":
        divisor = s.raw_equivalent_divisor
        assert divisor is not None
        on = (num / (den * int(divisor)) if float(divisor).is_integer()
              else float(Fraction(num, den) / Fraction(divisor)))
    out = {**_banded(inst, value, on), **meta}
    if missing:
        out["flag"] = f"{missing} item(s) unanswered: scored on the answered items"
    return out


def score_sum_of_domains(inst: Instrument, domains: Mapping[str, int | None]) -> dict[str, Any]:
    """mJOA: the sum of its domain scores (Benzel 1991; maxima per Kato 2015). Every domain is
    needed: a partial sum would read as a worse myelopathy than the patient has."""
    assert inst.scoring.domains is not None
    missing = [d for d in inst.scoring.domains if domains.get(d) is None]
    if missing:
        return {"value": None, "band": None, "band_label": None, "version": inst.version,
                "missing": missing,
                "reason": f"every domain is needed; not scored: {', '.join(missing)}"}
    total = sum(int(domains[d] or 0) for d in inst.scoring.domains)
    return {**_banded(inst, total), "version": inst.version}


def score_subscale_means(inst: Instrument,
                         subscales: Mapping[str, Sequence[int | None] | None]) -> dict[str, Any]:
    """ZCQ: the mean of the answered items of each subscale (Stucki 1996). A subscale with no
    answers at all is left out; one with too few answered is ``None`` with a reason."""
    assert inst.scoring.subscales is not None
    out: dict[str, Any] = {"version": inst.version}
    reasons = []
    for name, sub in inst.scoring.subscales.items():
        items = subscales.get(name)
        if items is None:
            continue
        given = [a for a in items if a is not None]
        if len(given) < sub.min_answered:
            out[name] = None
            reasons.append(f"{name}: {len(given)} of {sub.items} items answered; "
                           f"{sub.min_answered} needed")
            continue
        value = round_ratio_half_up(sum(given), len(given), inst.scoring.decimals)
        out[name] = value
        for band in sub.band:
            if value <= band.upto:
                out[f"{name}_band"] = band.code
                out[f"{name}_band_label"] = band.label
                break
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out


def score_ratings(inst: Instrument, ratings: Mapping[str, int | None]) -> dict[str, Any]:
    """Numeric pain ratings, each reported and banded on its own."""
    assert inst.scoring.ratings is not None
    out: dict[str, Any] = {}
    for name in inst.scoring.ratings:
        value = ratings.get(name)
        if value is not None:
            out[name] = _banded(inst, value)
    return out


def score_count_positive(inst: Instrument, items: Sequence[bool | None]) -> dict[str, Any]:
    """A cluster rule (Cook 2010, Cook 2011): the number of positive items against the rule-in
    and rule-out thresholds. With unknown items the count is a range; a result is given only
    when the known items decide it, as the engine does with its findings."""
    s = inst.scoring
    assert s.rule_in_at_least is not None and s.rule_out_at_most is not None
    positive, unknown, result = count_rule(items, s.rule_in_at_least, s.rule_out_at_most)
    low, high = positive, positive + unknown
    meaning = {"rule_in": s.rule_in, "rule_out": s.rule_out,
               "neither": "neither rules in nor rules out",
               "incomplete": "depends on the items not yet known"}[result]
    return {
        "value": positive if unknown == 0 else None,
        "positive": positive, "unknown": unknown, "of": len(items), "range": [low, high],
        "result": result, "meaning": meaning,
        "positive_items": [i.text for i, v in zip(inst.item, items, strict=True) if v is True],
        "version": inst.version, "citations": list(inst.cite),
    }


def score_count_criteria(inst: Instrument,
                         groups: Mapping[str, Sequence[bool | None]]) -> dict[str, Any]:
    """Konno SSHQ: one point per yes; positive when any criterion's group counts are all reached
    (Miyakoshi 2011, Table 1). Unknown answers make the result ``undetermined`` unless the known
    answers already decide it."""
    s = inst.scoring
    assert s.criteria is not None
    yes = {g: sum(1 for v in groups.get(g, ()) if v is True) for g in inst.groups()}
    unknown = {g: sum(1 for v in groups.get(g, ()) if v is None) for g in inst.groups()}
    met = any(all(yes[g] >= n for g, n in c.items()) for c in s.criteria)
    possible = any(all(yes[g] + unknown[g] >= n for g, n in c.items()) for c in s.criteria)
    if met:
        result, meaning = "positive", s.positive
    elif not possible:
        result, meaning = "negative", s.negative
    else:
        result, meaning = "undetermined", "depends on the questions not yet answered"
    total_unknown = sum(unknown.values())
    out: dict[str, Any] = {
        "value": sum(yes.values()) if total_unknown == 0 else None,
        "counts": yes, "unknown": total_unknown, "of": len(inst.item),
        "result": result, "meaning": meaning, "version": inst.version,
        "citations": list(inst.cite),
    }
    if s.caution:
        out["caution"] = s.caution
    return out


_KINDS: dict[str, Callable[[Instrument, Any], dict[str, Any]]] = {
    "percent_of_answered": score_percent_of_answered,
    "sum_of_domains": score_sum_of_domains,
    "subscale_means": score_subscale_means,
    "ratings": score_ratings,
    "count_positive": score_count_positive,
    "count_criteria": score_count_criteria,
}


def score_shaped(inst: Instrument, shaped: Any) -> dict[str, Any]:
    """Score answers already in the shape of the case section (see the module docstring)."""
    return _KINDS[inst.scoring.kind](inst, shaped)


# --- answers by linkId -----------------------------------------------------------------------


def shape(inst: Instrument, answers: Mapping[str, Any]) -> Any:
    """Answers by linkId in the shape the instrument's scoring function takes.

    A group (subscale) none of whose items appears in ``answers`` is ``None``: not given, as
    opposed to given with unanswered items.
    """
    kind = inst.scoring.kind
    if kind in ("percent_of_answered", "count_positive"):
        return [answers.get(i.link_id) for i in inst.item]
    out: dict[str, Any] = {}
    for group in inst.groups():
        members = inst.items_in(group)
        if kind in ("sum_of_domains", "ratings"):
            out[group] = answers.get(members[0].link_id)
        elif kind == "subscale_means" and not any(m.link_id in answers for m in members):
            out[group] = None
        else:
            out[group] = [answers.get(m.link_id) for m in members]
    return out


def unshape(inst: Instrument, shaped: Any) -> dict[str, Any]:
    """The inverse of :func:`shape`: answers by linkId, unanswered items left out."""
    if isinstance(shaped, Sequence):
        return {i.link_id: v for i, v in zip(inst.item, shaped, strict=True) if v is not None}
    out: dict[str, Any] = {}
    for group in inst.groups():
        value = shaped.get(group)
        if value is None:
            continue
        members = inst.items_in(group)
        values = value if isinstance(value, Sequence) else [value]
        out.update({m.link_id: v for m, v in zip(members, values, strict=True) if v is not None})
    return out


def answers_from_case_section(inst: Instrument, value: Any) -> dict[str, Any]:
    """The answers by linkId that a case's ``instruments`` entry for ``inst`` records."""
    return unshape(inst, _from_case_section(inst, value))


def check_answers(inst: Instrument, answers: Mapping[str, Any]) -> None:
    """Raise :class:`AnswerError` for an unknown linkId or a value its scale does not allow."""
    problems = []
    known = {i.link_id: inst.scale_of(i) for i in inst.item}
    gates = set(inst.gate)
    for key, value in answers.items():
        if key in gates:
            if value is not None and type(value) is not bool:
                problems.append(Problem(key, "must be true, false or null"))
            continue
        scale = known.get(key)
        if scale is None:
            near = difflib.get_close_matches(key, [*known, *gates], n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(Problem(key, f"is not a question of {inst.id}{hint}"))
            continue
        if value is None:
            continue
        allowed = scale.values()
        if not any(value == a and type(value) is type(a) for a in allowed):
            problems.append(Problem(key, f"must be {_allowed_text(scale.type, allowed)} "
                                         f"(got {value!r})"))
    if problems:
        raise AnswerError(problems)


def _allowed_text(kind: str, allowed: list[Any]) -> str:
    if kind == "boolean":
        return "true or false"
    if kind == "integer":
        return f"an integer from {allowed[0]} to {allowed[-1]}"
    return "one of " + ", ".join(str(a) for a in allowed)


def score_answers(inst: Instrument | str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Score one administration given as answers by questionnaire linkId.

    A linkId that is absent or ``None`` is unanswered. Raises :class:`AnswerError` for unknown
    linkIds and out-of-range values.
    """
    if isinstance(inst, str):
        inst = instrument(inst)
    check_answers(inst, answers)
    return score_shaped(inst, shape(inst, answers))


# --- a case's instruments --------------------------------------------------------------------


def _from_case_section(inst: Instrument, value: Any) -> Any:
    if isinstance(value, BaseModel):
        # The model's fields by name, as pydantic keeps them: every scoring kind reads the
        # mapping by group name with .get (a group the model lacks is None, as getattr with a
        # default gave), and none changes it. Building a dict of the groups cost more than
        # scoring them (the engine scores every case's instruments).
        fields: dict[str, Any] = value.__dict__
        return fields
    return value


_CASE_FIELDS = tuple(Instruments.model_fields)


def score_instruments(given: Instruments) -> dict[str, Any]:
    """Score every instrument present in a case's ``instruments`` section (the engine calls
    this for every case, so it stays a plain loop)."""
    registry = instruments()
    scores: dict[str, Any] = {}
    # pydantic keeps the fields in __dict__; reading it skips the model's __getattr__ hook
    fields = given.__dict__
    for name in _CASE_FIELDS:
        value = fields[name]
        if value is None:
            continue
        inst = registry[name]
        result = _KINDS[inst.scoring.kind](inst, _from_case_section(inst, value))
        if result:
            scores[name] = result
    return scores


def answers_from_case(inst: Instrument, case: Case) -> dict[str, Any]:
    """The answers of a rule defined over case facts (``from_case``), unknown as ``None``."""
    out: dict[str, Any] = {}
    for item in inst.item:
        if item.from_case is None:
            continue
        node = _parsed(inst.id, item.link_id, item.from_case)
        out[item.link_id] = criteria.evaluate(node, case, {})
    return out


_PARSED: dict[tuple[str, str], criteria.Node] = {}


def _parsed(inst_id: str, link_id: str, text: str) -> criteria.Node:
    key = (inst_id, link_id)
    node = _PARSED.get(key)
    if node is None:
        node = _PARSED[key] = criteria.parse(text, f"instruments/{inst_id}.toml: {link_id}",
                                         frozenset())
    return node


def score_case_rules(case: Case) -> dict[str, Any]:
    """Every rule instrument defined over case facts (the Cook clusters), scored on ``case``."""
    out = {}
    for inst_id, inst in instruments().items():
        if inst.item and all(i.from_case is not None for i in inst.item):
            out[inst_id] = score_answers(inst, answers_from_case(inst, case))
    return out


# --- one line of plain text ------------------------------------------------------------------


def describe(inst: Instrument, score: Mapping[str, Any]) -> str:
    """A score as one line of text: ``32.0% - moderate disability (10 of 10 answered)``."""
    kind = inst.scoring.kind
    if kind in ("percent_of_answered", "sum_of_domains"):
        if score["value"] is None:
            return f"not scored: {score['reason']}"
        text = f"{score['value']}{score_suffix(inst)} - {score['band_label']}"
        if "answered" in score:
            text += f" ({score['answered']} of {score['answered'] + score['missing']} answered)"
        if score.get("flag"):
            text += f" [{score['flag']}]"
        return text
    if kind == "subscale_means":
        parts = []
        for name in inst.scoring.subscales or {}:
            if name not in score:
                continue
            value = score[name]
            shown = "not scored" if value is None else f"{value:.2f}"
            if score.get(f"{name}_band_label"):
                shown += f" ({score[f'{name}_band_label']})"
            parts.append(f"{name.replace('_', ' ')} {shown}")
        text = ", ".join(parts) or "no subscale answered"
        return text + (f" ({score['reason']})" if score.get("reason") else "")
    if kind == "ratings":
        unit = score_suffix(inst)
        return ", ".join(f"{k} {v['value']}{unit} ({v['band_label']})"
                         for k, v in score.items()) or "no rating given"
    if kind == "count_positive":
        count = f"{score['positive']} of {score['of']} positive"
        if score["unknown"]:
            count += f", {score['unknown']} unknown"
        return f"{count}: {score['meaning']}"
    counts = ", ".join(f"{g.replace('_', ' ')} {n}" for g, n in score["counts"].items())
    text = f"{score['meaning']} ({counts}"
    text += f", {score['unknown']} unanswered)" if score["unknown"] else ")"
    return text + (f" Caution: {score['caution']}" if score.get("caution") else "")
