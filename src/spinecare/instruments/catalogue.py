"""Every form by its id: each instrument's questionnaire, and the patient intake (``"intake"``)."""

from __future__ import annotations

from functools import cache

from spinecare.instruments.forms import Form, instrument_form
from spinecare.instruments.intake import intake_form
from spinecare.instruments.registry import instrument, instruments


@cache
def form(form_id: str) -> Form:
    """The form of an instrument, or the intake (``"intake"``)."""
    if form_id == "intake":
        return intake_form()
    return instrument_form(instrument(form_id))


def form_ids() -> list[str]:
    """Every form: the instruments in registry order, then the intake."""
    return [*instruments(), "intake"]

