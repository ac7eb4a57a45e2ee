"""The visit form's rows for treatments tried before: filled rows become
``history.prior_treatments``, empty rows leave it unknown, and a stored case fills the rows back."""

from __future__ import annotations

import orjson

from spinecare.case import parse_case
from spinecare.plan.knowledge import load_treatments
from spinecare.web.forms import PRIOR_TREATMENT_ROWS, VISIT_SECTIONS, case_from_form, form_values


def test_the_form_offers_rows_with_treatments_from_the_knowledge() -> None:
    section = next(s for s in VISIT_SECTIONS if s.key == "prior_treatments")
    treatment_fields = [f for f in section.fields if f.name.endswith(".treatment")]
    assert len(treatment_fields) == PRIOR_TREATMENT_ROWS
    assert set(treatment_fields[0].choices) == set(load_treatments().treatments)
    history = next(s for s in VISIT_SECTIONS if s.key == "history")
    assert "history.prior_treatments" not in {f.name for f in history.fields}


def test_filled_rows_become_the_case_list_and_fill_the_form_back() -> None:
    form = {"history.prior_treatments.0.treatment": "exercise_therapy",
            "history.prior_treatments.0.weeks": "12",
            "history.prior_treatments.0.response": "no_change",
            "history.prior_treatments.1.treatment": "nsaids"}
    doc = case_from_form(form, age=70, case_id="v1")
    assert doc["history"]["prior_treatments"] == [
        {"treatment": "exercise_therapy", "weeks": 12, "response": "no_change"},
        {"treatment": "nsaids"}]
    parse_case(orjson.dumps(doc))  # a valid case
    assert form_values(doc) == form


def test_empty_rows_leave_what_was_tried_unknown() -> None:
    doc = case_from_form({"history.prior_treatments.2.weeks": ""}, age=70, case_id="v2")
    assert "prior_treatments" not in doc.get("history", {})
