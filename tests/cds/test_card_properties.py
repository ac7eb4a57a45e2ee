"""Properties of the cards on schema-valid cases generated from the case schema: every triage
card and every imaging card for every known order follows the CDS Hooks 2.0 rules; a red flag
always gives a critical card first; a red flag never meets a low-value imaging warning."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinecare.case import parse_case
from spinecare.cds.cards import SUMMARY_MAX, imaging_card, summary, triage_cards
from spinecare.cds.imaging import imaging_knowledge, rate
from spinecare.reasoning.engine import default_engine
from tests.cds.rules import card_problems
from tests.strategies import valid_case_documents

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@given(st.text(max_size=400))
def test_a_summary_is_always_one_line_under_140_characters(text: str) -> None:
    out = summary(text)
    assert len(out) <= SUMMARY_MAX and "\n" not in out


@SETTINGS
@given(valid_case_documents)
def test_every_card_for_every_valid_case_follows_the_specification(doc: dict[str, Any]) -> None:
    case = parse_case(doc)
    assessment = default_engine().assess(case)
    cards = triage_cards(assessment, "https://spinecare.example.org")
    for card in cards:
        assert card_problems(card.body) == [], card.body
    if assessment["red_flags"]:
        assert cards and cards[0].body["indicator"] == "critical"
    plain = case.model_dump(mode="json", exclude_none=True)
    for order_id in imaging_knowledge().order:
        rated = rate(order_id, assessment, plain)
        if rated is None:
            continue
        card = imaging_card(rated, f"ServiceRequest/{order_id}")
        assert card_problems(card.body) == [], card.body
        if assessment["red_flags"]:
            assert "suggestions" not in card.body  # a red flag suppresses the delete advice
