"""The HTTP doors onto FHIR in and out: ``POST /api/v1/fhir/to-case`` and ``POST /api/v1/assess``
with ``?format=fhir`` or ``Accept: application/fhir+json`` (the JSON assessment is unchanged)."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from spinecare.case import parse_case
from tests.api.fixtures import World, bearer, case_bytes
from tests.fhir.bundles import bundle, case_bundle, observation, patient


def test_to_case_answers_the_case_its_sources_and_problems(client: TestClient,
                                                           world: World) -> None:
    unknown = observation("o2", "exam.hoffmann", True)
    unknown["code"]["coding"][0]["system"] = "http://example.org/local"
    r = client.post("/api/v1/fhir/to-case", headers=bearer(world.owner),
                    content=orjson.dumps(bundle(patient(61), observation("o1", "exam.babinski",
                                                                         True), unknown)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert parse_case(body["case"]).exam.babinski is True
    assert body["sources"]["exam.babinski"] == ["Observation/o1"]
    assert body["problems"] == [{"resource": "Observation/o2", "message":
                                 "unknown code http://example.org/local|exam.hoffmann: ignored"}]


def test_to_case_refuses_a_document_that_is_not_a_bundle(client: TestClient,
                                                         world: World) -> None:
    r = client.post("/api/v1/fhir/to-case", headers=bearer(world.owner),
                    content=orjson.dumps(patient(61)))
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "resourceType", "message": "must be Bundle (got "
                                     "'Patient'); give a Bundle, or a list of resources"}]
    r = client.post("/api/v1/fhir/to-case", headers=bearer(world.owner), content=b"{")
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "(document)"


def test_to_case_needs_a_token(client: TestClient) -> None:
    assert client.post("/api/v1/fhir/to-case", content=b"{}").status_code == 401


def test_assess_gives_a_fhir_bundle_when_asked(client: TestClient, world: World) -> None:
    for query, headers in (("?format=fhir", {}), ("", {"Accept": "application/fhir+json"})):
        r = client.post(f"/api/v1/assess{query}", content=case_bytes(),
                        headers={**bearer(world.owner), **headers})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/fhir+json"
        assert r.json()["resourceType"] == "Bundle"
    plain = client.post("/api/v1/assess", content=case_bytes(), headers=bearer(world.owner))
    assert plain.json()["schema"] == "spinecare.assessment/1"


def test_assess_takes_a_record_bundle_with_format_fhir(client: TestClient,
                                                       world: World) -> None:
    given = case_bundle(parse_case(case_bytes("dcm-moderate")))
    r = client.post("/api/v1/assess?format=fhir", content=orjson.dumps(given),
                    headers=bearer(world.owner))
    assert r.status_code == 200, r.text
    out = r.json()
    risk = next(e["resource"] for e in out["entry"]
                if e["resource"]["resourceType"] == "RiskAssessment")
    assert risk["subject"] == {"reference": "Patient/p1"}
    assert {"reference": "Patient/p1"} in risk["basis"]
    bad = client.post("/api/v1/assess?format=fhir", content=b'{"schema": "x"}',
                      headers=bearer(world.owner))
    assert bad.status_code == 422
