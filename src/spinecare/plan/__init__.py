"""Care plans and home exercise programmes.

The clinical content is versioned data in ``spinecare/knowledge/``: the treatment knowledge base
(``treatments.toml``), the exercise library (``exercises.toml``), the plan rules
(``plan_rules.toml``) and their sources (``citations/``). The code here applies it:

- :func:`make_plan` (``planner``): the ``spinecare.plan/1`` document for a case and its assessment;
- :func:`build_programme` and :func:`adjust_programme` (``programme``): the home exercise
  programme and the progress / hold / step back / stop decision from the patient's logs;
- :func:`evidence_for` (``evidence``): one treatment's evidence and the website claims it answers.

The names are imported on first use, so ``import spinecare.plan`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spinecare.plan.evidence import UnknownTreatmentError, evidence_for
    from spinecare.plan.planner import PLAN_SCHEMA_ID, make_plan
    from spinecare.plan.programme import (
        Decision,
        Programme,
        ProgrammeLog,
        adjust_programme,
        build_programme,
    )
    from spinecare.plan.rules import load_plan_rules

__all__ = [
    "PLAN_SCHEMA_ID",
    "Decision",
    "Programme",
    "ProgrammeLog",
    "UnknownTreatmentError",
    "adjust_programme",
    "build_programme",
    "evidence_for",
    "load_plan_rules",
    "make_plan",
]

_WHERE = {
    "PLAN_SCHEMA_ID": "planner",
    "make_plan": "planner",
    "Decision": "programme",
    "Programme": "programme",
    "ProgrammeLog": "programme",
    "adjust_programme": "programme",
    "build_programme": "programme",
    "UnknownTreatmentError": "evidence",
    "evidence_for": "evidence",
    "load_plan_rules": "rules",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spinecare.plan' has no attribute {name!r}")
    return getattr(importlib.import_module(f"spinecare.plan.{module}"), name)
