"""Stored records as the templates show them, for the clinician's and the patient's pages."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from spinecare.store.models import Patient, Visit


def age(p: Patient) -> int | None:
    today = date.today()
    if p.birth_date is not None:
        # With a date of birth, the age in whole years (not the year's difference).
        born = p.birth_date
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return years if 0 <= years <= 120 else None
    years = today.year - p.birth_year
    return years if 0 <= years <= 120 else None


def visit_view(v: Visit) -> dict[str, Any]:
    return {"id": v.id, "created_at": v.created_at, "case": orjson.loads(v.case_json),
            "assessment": orjson.loads(v.assessment_json), "plan": orjson.loads(v.plan_json),
            "versions": {"engine": v.engine_version, "knowledge": v.knowledge_version}}


def form_dict(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}
