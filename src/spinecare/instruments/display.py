"""What display code shows about an instrument, read from the registry rather than copied.

Reports, plans, charts and forms name instruments and draw their scales; the names, score
ranges and thresholds are the instrument files' (``knowledge/instruments``), so a change there
reaches every page and report.
"""

from __future__ import annotations

from spinecare.errors import KnowledgeError
from spinecare.instruments.registry import Instrument, instrument, instruments

__all__ = ["measure_range", "report_name", "score_range", "score_suffix"]

Range = tuple[float, float]


def report_name(inst: Instrument) -> str:
    """What the assessment report calls the instrument's score."""
    return inst.report_name or inst.short_name


def score_range(inst: Instrument, part: str | None = None) -> Range:
    """The lowest and highest score of ``inst``, or of one of its subscales or ratings (``part``),
    as its scoring rule defines them.

    A percentage runs from 0 to 100; a sum of domains from 0 to the sum of their maxima (a domain
    to its own); a subscale mean or a rating over its items' range; a count from 0 to the
    number of items. A rule of criteria has no single score, and so no range: a
    :class:`KnowledgeError`, as for a part the instrument does not have.
    """
    s = inst.scoring
    if part is None:
        if s.kind == "percent_of_answered":
            return (0, 100)
        if s.kind == "sum_of_domains" and s.domains is not None:
            return (0, sum(s.domains.values()))
        if s.kind == "count_positive":
            return (0, len(inst.item))
    elif s.kind == "sum_of_domains" and part in (s.domains or {}):
        assert s.domains is not None
        return (0, s.domains[part])
    elif s.kind == "subscale_means" and part in (s.subscales or {}):
        assert s.subscales is not None
        sub = s.subscales[part]
        return (sub.item_min, sub.item_max)
    if (s.kind == "ratings" and s.item_min is not None and s.item_max is not None
            and (part is None or part in (s.ratings or ()))):
        return (s.item_min, s.item_max)
    where = f"{inst.id}.{part}" if part else inst.id
    raise KnowledgeError(f"instrument {where} has no score range")


def score_suffix(inst: Instrument) -> str:
    """What follows a score's value when it is written: ``%`` for a percentage, otherwise the
    top of the scale (``/18``, ``/10``)."""
    if inst.scoring.kind == "percent_of_answered":
        return "%"
    return f"/{score_range(inst)[1]:g}"


def measure_range(key: str) -> Range | None:
    """The scale of a measure named by its key (``odi``, ``zcq.physical_function``,
    ``pain_nrs.leg``), or ``None`` for a key that is no instrument's."""
    inst_id, _, part = key.partition(".")
    if inst_id not in instruments():
        return None
    try:
        return score_range(instrument(inst_id), part or None)
    except KnowledgeError:
        return None
