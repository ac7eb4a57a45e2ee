"""Feedback (CDS Hooks 2.0 "Feedback"): the specification's three examples are stored with
their outcomes and reasons, audited, and counted per card type by ``spinecare cds stats``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.cli import main
from spinecare.service import cds as use_case
from spinecare.store.cds import IssuedCard
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, CdsFeedback
from tests.cds.conftest import ISS, spec_examples

Signed = Callable[..., dict[str, str]]
FEEDBACK = "/cds-services/spinecare-imaging/feedback"
SPEC_CARDS = {"4e0a3a1e-3283-4575-ab82-028d55fe2719": "imaging.acr_lbp_2021_v1.UNA",
              "f6b95768-b1c8-40dc-8385-bf3504b82ffb": "imaging.acr_lbp_2021_v1.UNA",
              "9368d37b-283f-44a0-93ea-547cebab93ed": "imaging.acr_lbp_2021_v4.UA"}


@pytest.fixture(scope="module")
def spec_cards(client: TestClient, db: Database) -> None:
    """The cards the specification's feedback examples name, as if spinecare had given them."""
    use_case.record_cards(db, ISS, "spinecare-imaging", "spec-hook-instance",
                          [IssuedCard(u, t) for u, t in SPEC_CARDS.items()])


def _send(client: TestClient, signed: Signed, body: dict[str, Any]) -> Any:
    return client.post(FEEDBACK, json=body, headers=signed(FEEDBACK))


@pytest.mark.parametrize("example", ["feedback_accepted", "feedback_overridden",
                                     "feedback_override_reason"])
def test_the_specifications_feedback_examples_are_stored(
        client: TestClient, signed: Signed, db: Database, spec_cards: None,
        example: str) -> None:
    body = spec_examples()[example]
    r = _send(client, signed, body)
    assert r.status_code == 200, r.text
    item = body["feedback"][0]
    with db.session(read_only=True) as session:
        row = session.scalars(select(CdsFeedback).where(CdsFeedback.card_uuid == item["card"])
                              .order_by(CdsFeedback.id.desc())).first()
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "cds.feedback",
            AuditEvent.target_id == item["card"].replace("-", ""))).all()
    assert row is not None and row.outcome == item["outcome"] and row.iss == ISS
    reason = item.get("overrideReason", {})
    assert row.override_code == reason.get("reason", {}).get("code")
    assert row.user_comment == reason.get("userComment")
    if item["outcome"] == "accepted":
        assert json.loads(row.accepted_json or "[]") == [
            s["id"] for s in item["acceptedSuggestions"]]
    assert events and item["outcome"] in (events[-1].reason or "")


def test_feedback_on_a_card_never_given_is_refused_and_nothing_is_stored(
        client: TestClient, signed: Signed, db: Database, spec_cards: None) -> None:
    known = spec_examples()["feedback_overridden"]["feedback"][0]
    unknown = {**known, "card": "00000000-0000-4000-8000-000000000000"}
    with db.session(read_only=True) as session:
        before = len(session.scalars(select(CdsFeedback)).all())
    r = _send(client, signed, {"feedback": [known, unknown]})
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "feedback[1].card", "message":
                                     "is not a card this service gave this client"}]
    with db.session(read_only=True) as session:
        assert len(session.scalars(select(CdsFeedback)).all()) == before


@pytest.mark.parametrize(("item", "path"), [
    ({"card": "x", "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
     "feedback[0]"),
    ({"card": "x", "outcome": "ignored", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
     "feedback[0].outcome"),
    ({"card": "x", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
     "feedback[0].outcomeTimestamp"),
])
def test_malformed_feedback_names_the_field(client: TestClient, signed: Signed,
                                            item: dict[str, Any], path: str) -> None:
    r = _send(client, signed, {"feedback": [item]})
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == [path]


def test_feedback_needs_a_signed_jwt_for_its_own_url(client: TestClient,
                                                     signed: Signed) -> None:
    body = spec_examples()["feedback_overridden"]
    r = client.post(FEEDBACK, json=body, headers=signed("/cds-services/spinecare-imaging"))
    assert r.status_code == 401


def test_stats_report_the_acceptance_rate_per_card_type(
        client: TestClient, signed: Signed, db: Database, spec_cards: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    for example in ("feedback_accepted", "feedback_overridden", "feedback_override_reason"):
        assert _send(client, signed, spec_examples()[example]).status_code == 200
    assert main(["cds", "stats", "--json", "--database", db.url]) == 0
    rows = {r["card_type"]: r for r in json.loads(capsys.readouterr().out)["card_types"]}
    v1 = rows["imaging.acr_lbp_2021_v1.UNA"]
    assert (v1["issued"], v1["accepted"], v1["overridden"]) == (2, 1, 1)
    assert v1["acceptance_rate"] == 0.5
    v4 = rows["imaging.acr_lbp_2021_v4.UA"]
    assert (v4["accepted"], v4["overridden"], v4["acceptance_rate"]) == (0, 1, 0.0)
    assert main(["cds", "stats", "--database", db.url]) == 0
    text = capsys.readouterr().out
    assert "imaging.acr_lbp_2021_v1.UNA" in text and "50%" in text
