"""The output table of a screen: one row per case, the same columns whichever engine made it.

Every column is taken from one ``spinecare assess`` result by :func:`assessment_to_row`, so the
reference engine (per-case assessment) defines what each column means and the compiled engines
are tested against it, column by column:

- ``case_id``; ``triage`` (the level); ``red_flags`` (the codes, in the assessment's order);
- ``first_condition`` (the differential's first, the most likely);
- for every condition code C: ``p.C`` (its probability, as the assessment rounds it) and
  ``band.C`` (``high``, ``moderate`` or ``low``);
- ``low_back_pain_source``;
- ``rules``: the sorted ids of every rule that fired, as the assessment lists them: the triage
  rules that set the level, the red-flag rules, each condition's rules (its prior or exclusion,
  the likelihood ratios applied, the floors and caps that changed it) and the low back pain rule;
- ``findings``: the sorted names of the findings that are true (what a worklist shows);
- ``consider``: the ids of the diagnoses to consider, in the assessment's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from spinecare.vocabulary import CONDITION_CODES

PROBABILITY_PREFIX = "p."
BAND_PREFIX = "band."


def _schema(conditions: Iterable[str]) -> pa.Schema:
    codes = tuple(conditions)
    return pa.schema([
        ("case_id", pa.string()),
        ("triage", pa.string()),
        ("red_flags", pa.list_(pa.string())),
        ("first_condition", pa.string()),
        *((f"{PROBABILITY_PREFIX}{c}", pa.float64()) for c in codes),
        *((f"{BAND_PREFIX}{c}", pa.string()) for c in codes),
        ("low_back_pain_source", pa.string()),
        ("rules", pa.list_(pa.string())),
        ("findings", pa.list_(pa.string())),
        ("consider", pa.list_(pa.string())),
    ])


OUTPUT_SCHEMA: pa.Schema = _schema(CONDITION_CODES)
"""The output columns for the packaged knowledge's conditions."""


def output_schema(conditions: Iterable[str] = CONDITION_CODES) -> pa.Schema:
    """The output columns for a knowledge defining ``conditions``, in the vocabulary's order
    (a condition the vocabulary does not know yet comes after, in the knowledge's order): for
    the packaged knowledge, :data:`OUTPUT_SCHEMA`."""
    listed = tuple(conditions)
    codes = (*(c for c in CONDITION_CODES if c in listed),
             *(c for c in listed if c not in CONDITION_CODES))
    return OUTPUT_SCHEMA if codes == CONDITION_CODES else _schema(codes)


def fired_rules(assessment: Mapping[str, Any]) -> list[str]:
    """The sorted ids of the rules an assessment lists as having fired."""
    ids: set[str] = set(assessment["triage"]["rules"])
    for flag in assessment["red_flags"]:
        ids.update(flag["rules"])
    for condition in assessment["conditions"]:
        ids.update(condition["rules"])
    lbp_rule = assessment["low_back_pain_source_detail"]["rule"]
    if lbp_rule is not None:
        ids.add(lbp_rule)
    return sorted(ids)


def assessment_to_row(case_id: str, assessment: Mapping[str, Any], *,
                      findings: Iterable[str] | None = None) -> dict[str, Any]:
    """One assessment (``spinecare.assessment/1``, as ``spinecare assess --json`` gives it) as
    an output row. The assessment does not list the findings by name: ``findings`` are the
    names of those that are true (from ``Engine.findings``); without them the column is NULL."""
    row: dict[str, Any] = {
        "case_id": case_id,
        "triage": assessment["triage"]["level"],
        "red_flags": [f["code"] for f in assessment["red_flags"]],
        "first_condition": assessment["conditions"][0]["code"],
    }
    conditions = assessment["conditions"]
    for c in conditions:
        row[f"{PROBABILITY_PREFIX}{c['code']}"] = float(c["probability"])
    for c in conditions:
        row[f"{BAND_PREFIX}{c['code']}"] = c["likelihood"]
    row["low_back_pain_source"] = assessment["low_back_pain_source"]
    row["rules"] = fired_rules(assessment)
    row["findings"] = None if findings is None else sorted(findings)
    row["consider"] = [x["id"] for x in assessment["consider"]]
    return row


def rows_to_table(rows: Iterable[Mapping[str, Any]],
                  schema: pa.Schema = OUTPUT_SCHEMA) -> pa.Table:
    """Output rows as a table of ``schema``."""
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema)
