"""The treatment summaries an article shows are patient-facing too, so they meet the same limits.

They belong to the treatment knowledge (``treatments.toml``, ``patient_summary``), which this
branch does not edit. The ones that do not yet meet the limits are kept as strict xfails with
the reason, not deleted: when one is rewritten, its xfail turns into a failure that asks for the
mark to be removed.
"""

from __future__ import annotations

import pytest

from spinecare.education import reading_problems
from spinecare.plan.knowledge import load_treatments

TREATMENTS = load_treatments()

#: Measured 2026-12-01 with textstat 0.7.8: above grade 8, a sentence over 25 words, or an
#: average over 20 words a sentence.
NOT_YET_READABLE = frozenset(
    {
        "nsaids",
        "paracetamol",
        "weak_opioids",
        "gabapentinoids",
        "exercise_therapy",
        "walking_programme",
        "tens_electrotherapy",
        "lumbar_brace_corset",
        "decompression_surgery",
        "fusion_with_decompression",
        "interspinous_spacer",
        "laser_spine_surgery",
        "stem_cell_injection",
        "structured_rehabilitation_dcm",
        "cervical_collar",
    }
)


def _params() -> list[object]:
    return [
        pytest.param(
            tid,
            marks=pytest.mark.xfail(
                strict=True,
                reason="treatments.toml patient_summary above the reading limits; the "
                "treatment knowledge owner rewrites it",
            ),
        )
        if tid in NOT_YET_READABLE
        else tid
        for tid in sorted(TREATMENTS.treatments)
    ]


@pytest.mark.parametrize("treatment_id", _params())
def test_every_treatment_summary_meets_the_reading_limits(treatment_id: str) -> None:
    summary = TREATMENTS.treatments[treatment_id].patient_summary
    assert reading_problems(summary) == []


def test_the_known_gaps_name_real_treatments() -> None:
    assert set(TREATMENTS.treatments) >= NOT_YET_READABLE
