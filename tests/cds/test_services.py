"""The two services over HTTP, as an EHR calls them: the specification's own examples, the
example cases as charts, every card checked against the specification's rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.cds.config import CdsSettings
from spinecare.cds.imaging import CPT, LOINC, imaging_knowledge
from spinecare.cds.routes import CdsState
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, CdsCard
from tests.cds.chart import (
    CASES,
    draft_orders,
    hook_request,
    prefetch_for,
    searchset,
    service_request,
)
from tests.cds.conftest import LoopbackServer, spec_examples
from tests.cds.rules import card_problems, response_problems

Signed = Callable[..., dict[str, str]]
TRIAGE = "/cds-services/spinecare-triage"
IMAGING = "/cds-services/spinecare-imaging"
EXAMPLES = sorted(p.name.removesuffix(".case.json") for p in CASES.glob("*.case.json"))


def _post(client: TestClient, signed: Signed, path: str, body: dict[str, Any]) -> Any:
    r = client.post(path, json=body, headers=signed(path))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert response_problems(r.json()) == []
    return r.json()


def _triage(client: TestClient, signed: Signed, name: str) -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = _post(client, signed, TRIAGE, hook_request(
        "patient-view", prefetch_for(name)))["cards"]
    return cards


def _imaging(client: TestClient, signed: Signed, name: str, *orders: dict[str, Any],
             hook: str = "order-select") -> list[dict[str, Any]]:
    selections = [f"ServiceRequest/{o['id']}" for o in orders]
    cards: list[dict[str, Any]] = _post(client, signed, IMAGING, hook_request(
        hook, prefetch_for(name), draftOrders=draft_orders(*orders),
        selections=selections))["cards"]
    return cards


# --- the rules themselves ----------------------------------------------------------------------


def test_the_card_rules_catch_a_card_that_breaks_them() -> None:
    bad = {"summary": "x" * 140, "indicator": "hard-stop", "source": {}, "links": [],
           "suggestions": [{"label": "Do", "actions": [{"type": "delete"}]}],
           "overrideReasons": [{"code": "a"}]}
    problems = " | ".join(card_problems(bad))
    for expected in ("uuid", "140", "indicator", "source.label", "links is sent empty",
                     "selectionBehavior", "description", "resourceId", "display"):
        assert expected in problems


def test_the_specifications_example_response_passes_the_card_rules() -> None:
    cards = spec_examples()["response"]["cards"]
    # its second card has no uuid: allowed by the specification, but spinecare always sends one
    assert card_problems(cards[0]) == []
    assert card_problems(cards[1]) == ["uuid missing or not a UUID"]


# --- discovery -------------------------------------------------------------------------------


def test_discovery_lists_each_service_per_hook_with_prefetch(client: TestClient,
                                                            signed: Signed) -> None:
    r = client.get("/cds-services", headers=signed("/cds-services"))
    services = r.json()["services"]
    spec_keys = set(spec_examples()["discovery"]["services"][0])
    assert {(s["id"], s["hook"]) for s in services} == {
        ("spinecare-triage", "patient-view"), ("spinecare-imaging", "order-select"),
        ("spinecare-imaging", "order-sign")}
    for s in services:
        assert set(s) <= spec_keys | {"usageRequirements"}
        assert s["description"] and s["title"]
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"


# --- spinecare-triage ----------------------------------------------------------------------------


def test_a_chart_with_cauda_equina_signs_gives_a_critical_card(client: TestClient,
                                                               signed: Signed) -> None:
    cards = _triage(client, signed, "ces-retention")
    assert [c["indicator"] for c in cards] == ["critical"]
    card = cards[0]
    assert card["summary"].startswith("Possible cauda equina syndrome")
    assert "emergency" in card["summary"]
    assert "**Findings**" in card["detail"] and "**Sources**" in card["detail"]
    assert "Chart data used" in card["detail"]
    assert card["links"][0]["type"] == "absolute"
    assert card["links"][0]["url"].startswith("https://cds.spinecare.test/")


def test_a_myelopathy_picture_is_a_critical_red_flag_card(client: TestClient,
                                                          signed: Signed) -> None:
    cards = _triage(client, signed, "back-pain-from-the-neck")
    assert [(c["indicator"], c["summary"].split(":")[0]) for c in cards] == [
        ("critical", "Possible myelopathy")]


def test_a_routine_chart_gives_one_info_card_with_the_leading_conditions(
        client: TestClient, signed: Signed) -> None:
    cards = _triage(client, signed, "lss-classic")
    assert len(cards) == 1 and cards[0]["indicator"] == "info"
    assert "lumbar spinal stenosis" in cards[0]["summary"].lower()


def test_a_chart_with_nothing_to_say_gives_no_cards(client: TestClient,
                                                    signed: Signed) -> None:
    body = hook_request("patient-view", {"patient": {"resourceType": "Patient", "id": "p1"},
                                         "observations": searchset([]),
                                         "conditions": None,
                                         "questionnaireResponses": searchset([])})
    assert _post(client, signed, TRIAGE, body) == {"cards": []}


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_chart_gets_cards_that_follow_the_specification(
        client: TestClient, signed: Signed, name: str) -> None:
    cards = _triage(client, signed, name)
    assert cards, name


def test_the_cards_given_are_recorded_with_their_type(client: TestClient, signed: Signed,
                                                      db: Database) -> None:
    cards = _triage(client, signed, "ces-retention")
    with db.session(read_only=True) as session:
        row = session.get(CdsCard, cards[0]["uuid"])
    assert row is not None and row.card_type == "triage.red_flag"
    assert row.service == "spinecare-triage"


def test_the_wrong_hook_is_refused_naming_the_field(client: TestClient,
                                                    signed: Signed) -> None:
    r = client.post(TRIAGE, json=hook_request("order-sign", None), headers=signed(TRIAGE))
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "hook",
                                     "message": "this service answers patient-view"}]


def test_a_request_missing_its_required_fields_names_them(client: TestClient,
                                                          signed: Signed) -> None:
    r = client.post(TRIAGE, json={"hook": "patient-view"}, headers=signed(TRIAGE))
    assert r.status_code == 422
    assert {p["path"] for p in r.json()["problems"]} == {"hookInstance", "context"}


def test_an_unknown_service_is_404(client: TestClient, signed: Signed) -> None:
    r = client.post("/cds-services/nope", json={}, headers=signed("/cds-services/nope"))
    assert r.status_code == 404 and r.json() == {"detail": "No such CDS service"}


# --- the specification's own request, and fhirServer -------------------------------------------


def test_the_specifications_patient_view_example_is_412_without_the_data(
        client: TestClient, signed: Signed, db: Database,
        caplog: pytest.LogCaptureFixture) -> None:
    """Its prefetch holds none of spinecare's keys and its fhirServer is plain http: the data
    can be neither prefetched nor fetched, which the specification answers with 412."""
    body = spec_examples()["patient_view_request"]
    token = body["fhirAuthorization"]["access_token"]
    with caplog.at_level(logging.DEBUG):
        r = client.post(TRIAGE, json=body, headers=signed(TRIAGE))
    assert r.status_code == 412
    assert "fhirServer must be an https URL" in r.json()["detail"]
    assert token not in r.text and token not in caplog.text
    _assert_token_not_audited(db, token)


def _assert_token_not_audited(db: Database, token: str) -> None:
    with db.session(read_only=True) as session:
        for e in session.scalars(select(AuditEvent)):
            assert token not in " ".join(str(getattr(e, c)) for c in (
                "action", "reason", "username", "target_id", "patient_id"))


@pytest.fixture()
def http_fhir(app: FastAPI) -> Iterator[None]:
    """The app allowed to read a plain-http FHIR server (the loopback test server)."""
    saved = app.state.cds
    app.state.cds = CdsState(CdsSettings(allow_http_fhir=True, fhir_read_timeout=0.5,
                                         fhir_deadline=1.0))
    yield
    app.state.cds.close()
    app.state.cds = saved


def test_missing_prefetch_is_read_from_the_fhir_server_with_the_token(
        client: TestClient, signed: Signed, db: Database, loopback: LoopbackServer,
        http_fhir: None, caplog: pytest.LogCaptureFixture) -> None:
    chart = prefetch_for("ces-retention")
    loopback.routes.update({"/fhir/Patient/p1": (200, chart["patient"]),
                            "/fhir/Observation": (200, chart["observations"]),
                            "/fhir/Condition": (200, chart["conditions"]),
                            "/fhir/QuestionnaireResponse": (200,
                                                            chart["questionnaireResponses"])})
    token = "secret-ehr-access-token-0123456789"
    body = hook_request("patient-view", None)
    body["fhirServer"] = f"{loopback.url}/fhir"
    body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer",
                                 "expires_in": 300, "scope": "user/Patient.read",
                                 "subject": "spinecare"}
    with caplog.at_level(logging.DEBUG):
        cards = _post(client, signed, TRIAGE, body)["cards"]
    assert [c["indicator"] for c in cards] == ["critical"]
    assert sorted(s.path.split("?")[0] for s in loopback.seen) == [
        "/fhir/Condition", "/fhir/Observation", "/fhir/Patient/p1",
        "/fhir/QuestionnaireResponse"]
    assert all(s.headers["authorization"] == f"Bearer {token}" for s in loopback.seen)
    assert "patient=p1" in next(s.path for s in loopback.seen if "Observation" in s.path)
    assert token not in caplog.text
    _assert_token_not_audited(db, token)


def test_a_slow_fhir_server_gives_412_once_without_retries(
        client: TestClient, signed: Signed, loopback: LoopbackServer, http_fhir: None) -> None:
    loopback.delay = 2.0
    body = hook_request("patient-view", {"patient": {"resourceType": "Patient", "id": "p1"}})
    body["fhirServer"] = f"{loopback.url}/fhir"
    r = client.post(TRIAGE, json=body, headers=signed(TRIAGE))
    assert r.status_code == 412
    assert "could not be read" in r.json()["detail"] or "in time" in r.json()["detail"]
    assert len(loopback.seen) == 1


# --- spinecare-imaging ---------------------------------------------------------------------------


def test_the_specifications_order_select_example_has_nothing_to_rate(
        client: TestClient, signed: Signed) -> None:
    body = {"hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            **spec_examples()["order_select_r4"]}
    assert _post(client, signed, IMAGING, body) == {"cards": []}


def test_early_lumbar_mri_without_red_flags_is_a_warning_with_a_delete_suggestion(
        client: TestClient, signed: Signed) -> None:
    cards = _imaging(client, signed, "simple-back-pain", service_request("mri1", CPT, "72148"))
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "warning"
    assert "usually not appropriate" in card["summary"]
    assert "Low Back Pain (2021), variant 1" in card["detail"]
    action = card["suggestions"][0]["actions"][0]
    assert action == {"type": "delete", "description": "Remove the draft order "
                      "ServiceRequest/mri1", "resourceId": "ServiceRequest/mri1"}
    assert card["selectionBehavior"] == "at-most-one"
    assert {r["code"] for r in card["overrideReasons"]} == {
        r.code for r in imaging_knowledge().override_reason}


def test_lumbar_mri_for_suspected_cauda_equina_fits(client: TestClient,
                                                    signed: Signed) -> None:
    cards = _imaging(client, signed, "ces-retention", service_request("m", LOINC, "30679-5"))
    assert [c["indicator"] for c in cards] == ["info"]
    assert "fits" in cards[0]["summary"] and "variant 4" in cards[0]["detail"]
    assert "suggestions" not in cards[0]


def test_radiographs_for_suspected_cauda_equina_are_critical(client: TestClient,
                                                             signed: Signed) -> None:
    cards = _imaging(client, signed, "ces-retention", service_request("x", CPT, "72100"))
    assert [c["indicator"] for c in cards] == ["critical"]
    assert "emergency MRI" in cards[0]["summary"]


def test_cervical_mri_for_a_myelopathy_picture_fits(client: TestClient,
                                                    signed: Signed) -> None:
    cards = _imaging(client, signed, "back-pain-from-the-neck",
                     service_request("c", CPT, "72141"))
    assert [c["indicator"] for c in cards] == ["info"]
    assert "Myelopathy (2021), variant 2" in cards[0]["detail"]


def test_order_select_rates_only_the_selected_order_and_order_sign_every_draft(
        client: TestClient, signed: Signed) -> None:
    mri, xr = service_request("a", CPT, "72148"), service_request("b", CPT, "72100")
    body = hook_request("order-select", prefetch_for("simple-back-pain"),
                        draftOrders=draft_orders(mri, xr), selections=["ServiceRequest/b"])
    cards = _post(client, signed, IMAGING, body)["cards"]
    assert [c["suggestions"][0]["actions"][0]["resourceId"] for c in cards] == [
        "ServiceRequest/b"]
    cards = _imaging(client, signed, "simple-back-pain", mri, xr, hook="order-sign")
    assert len(cards) == 2


def test_an_order_code_spinecare_does_not_know_gives_no_card(client: TestClient,
                                                             signed: Signed) -> None:
    # 24531-6 passes the LOINC check digit but is US Retroperitoneum (imaging.md 5.3)
    assert _imaging(client, signed, "simple-back-pain",
                    service_request("u", LOINC, "24531-6")) == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_order_for_every_example_chart_follows_the_specification(
        client: TestClient, signed: Signed, name: str) -> None:
    orders = [service_request(oid, CPT if o.cpt else LOINC, (o.cpt or o.loinc)[0])
              for oid, o in imaging_knowledge().order.items()]
    _imaging(client, signed, name, *orders, hook="order-sign")


def test_browser_clients_on_the_allowlist_get_cors_headers(app: FastAPI, client: TestClient,
                                                           signed: Signed) -> None:
    saved = app.state.cds
    app.state.cds = CdsState(CdsSettings(cors_origins=("https://sandbox.cds-hooks.org",)))
    try:
        origin = {"Origin": "https://sandbox.cds-hooks.org"}
        r = client.options("/cds-services", headers={
            **origin, "Access-Control-Request-Method": "GET"})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == origin["Origin"]
        assert "Authorization" in r.headers["access-control-allow-headers"]
        r = client.get("/cds-services", headers={**origin, **signed("/cds-services")})
        assert r.headers["access-control-allow-origin"] == origin["Origin"]
        r = client.get("/cds-services", headers={"Origin": "https://elsewhere.example",
                                                 **signed("/cds-services")})
        assert "access-control-allow-origin" not in r.headers
    finally:
        app.state.cds.close()
        app.state.cds = saved


def test_a_replayed_hook_call_is_refused_and_records_nothing(
        client: TestClient, signed: Signed, db: Database) -> None:
    headers = signed(TRIAGE)
    body = hook_request("patient-view", prefetch_for("ces-retention"))
    first = client.post(TRIAGE, json=body, headers=headers)
    assert first.status_code == 200
    with db.session(read_only=True) as session:
        before = len(session.scalars(select(CdsCard)).all())
    again = client.post(TRIAGE, json=body, headers=headers)
    assert again.status_code == 401
    assert again.json() == {"detail": "The JWT was already used (jti replayed)"}
    with db.session(read_only=True) as session:
        assert len(session.scalars(select(CdsCard)).all()) == before


def test_a_replayed_call_that_needs_the_fhir_server_never_reaches_it(
        client: TestClient, signed: Signed, loopback: LoopbackServer, http_fhir: None) -> None:
    chart = prefetch_for("lss-classic")
    loopback.routes["/fhir/Condition"] = (200, chart["conditions"])
    body = hook_request("patient-view", {k: v for k, v in chart.items() if k != "conditions"})
    body["fhirServer"] = f"{loopback.url}/fhir"
    headers = signed(TRIAGE)
    assert client.post(TRIAGE, json=body, headers=headers).status_code == 200
    assert client.post(TRIAGE, json=body, headers=headers).status_code == 401
    assert len(loopback.seen) == 1


OUTCOME = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "timeout", "diagnostics": "search timed out"}]}


def test_a_prefetch_error_from_the_ehr_is_noted_on_the_card(client: TestClient,
                                                            signed: Signed) -> None:
    chart = {**prefetch_for("ces-retention"), "conditions": OUTCOME}
    cards = _post(client, signed, TRIAGE, hook_request("patient-view", chart))["cards"]
    assert cards[0]["indicator"] == "critical"
    assert "prefetch conditions: the EHR reported an error; not used" in cards[0]["detail"]


def test_a_prefetch_error_is_read_again_from_the_fhir_server(
        client: TestClient, signed: Signed, loopback: LoopbackServer, http_fhir: None) -> None:
    chart = prefetch_for("ces-retention")
    loopback.routes["/fhir/Condition"] = (200, chart["conditions"])
    body = hook_request("patient-view", {**chart, "conditions": OUTCOME})
    body["fhirServer"] = f"{loopback.url}/fhir"
    cards = _post(client, signed, TRIAGE, body)["cards"]
    assert [s.path.split("?")[0] for s in loopback.seen] == ["/fhir/Condition"]
    assert "reported an error" not in cards[0]["detail"]


def test_a_hook_call_over_its_body_limit_is_a_json_413(client: TestClient,
                                                      signed: Signed) -> None:
    r = client.post(TRIAGE, content=b"{" + b" " * (4 * 1024 * 1024) + b"}",
                    headers={**signed(TRIAGE), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": "The request body is too large (at most 4 MiB here)"}
