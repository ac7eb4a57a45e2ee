"""Patient education over the API: the library, an article as JSON and as a FHIR R4
DocumentReference (checked with fhir.resources' R4B model), the patient's own articles, who may
see and send them, and the e-mail that tells a patient, through a real SMTP server."""

from __future__ import annotations

import base64
import uuid

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference

from spinecare.education import load_library, render_article
from spinecare.education.fhir import fhir_id
from spinecare.education.render import render_text
from spinecare.plan.knowledge import load_treatments
from spinecare.service.education import deliver_due
from spinecare.service.notifications import SmtpSettings
from spinecare.store.db import Database
from spinecare.store.stamps import utcnow
from tests.alerts.smtp import smtp_server
from tests.api.fixtures import World, bearer

ARTICLES = "/api/v1/education/articles"


def test_the_library_lists_every_article_in_reading_order(client: TestClient,
                                                          world: World) -> None:
    r = client.get(ARTICLES, headers=bearer(world.patient))
    assert r.status_code == 200
    body = r.json()
    lib = load_library()
    assert [a["id"] for a in body["items"]] == list(lib.articles)
    assert body["total"] == len(lib.articles) and body["version"] == lib.version
    assert client.get(ARTICLES).status_code == 401


def test_an_article_as_json_is_the_rendered_article(client: TestClient, world: World) -> None:
    r = client.get(f"{ARTICLES}/lumbar_spinal_stenosis", headers=bearer(world.owner))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    lib = load_library()
    expected = render_article(lib.articles["lumbar_spinal_stenosis"], lib)
    assert r.json() == orjson.loads(orjson.dumps(expected))
    assert r.json()["sections"][0]["name"] == "urgent"


@pytest.mark.parametrize("how", ["query", "accept"])
def test_an_article_as_fhir_is_a_valid_document_reference_carrying_the_article(
        client: TestClient, world: World, how: str) -> None:
    url = f"{ARTICLES}/cauda_equina_syndrome"
    headers = bearer(world.patient)
    if how == "query":
        url += "?format=fhir"
    else:
        headers["Accept"] = "application/fhir+json"
    r = client.get(url, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    resource = r.json()
    DocumentReference.model_validate(resource)  # raises if not valid R4B
    assert resource["id"] == fhir_id("cauda_equina_syndrome") == "cauda-equina-syndrome"
    assert resource["identifier"][0]["value"] == "cauda_equina_syndrome"
    lib = load_library()
    doc = orjson.loads(orjson.dumps(render_article(lib.articles["cauda_equina_syndrome"], lib)))
    text, data = (base64.b64decode(c["attachment"]["data"]) for c in resource["content"])
    assert text.decode() == render_text(doc)
    assert orjson.loads(data) == doc
    assert resource["date"].startswith(doc["reviewed"])


def test_an_unknown_article_or_format_is_refused_by_name(client: TestClient,
                                                         world: World) -> None:
    r = client.get(f"{ARTICLES}/no_such_article", headers=bearer(world.owner))
    assert (r.status_code, r.json()) == (404, {"detail": "Article not found"})
    r = client.get(f"{ARTICLES}/lumbar_spinal_stenosis?format=xml",
                   headers=bearer(world.owner))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "format"


def test_the_patient_sees_the_articles_of_their_own_assessment_and_plan(
        client: TestClient, world: World) -> None:
    r = client.get(f"/api/v1/patients/{world.patient_id}/education",
                   headers=bearer(world.patient))
    assert r.status_code == 200
    body = r.json()
    assert body["urgent"]["article"] == body["conditions"][0]["article"]
    assert "lumbar_spinal_stenosis" in [c["article"] for c in body["conditions"]]
    assert all(c["likelihood"] in ("high", "moderate") for c in body["conditions"])
    stances = {t["treatment"]: t["stance"] for t in body["treatments"]}
    assert stances["walking_programme"] == "suggested"
    assert stances["traction_decompression_device"] == "not_suggested"
    assert body["items"][0]["id"] == body["conditions"][0]["article"]
    assert body["total"] == len(body["items"])


def test_another_patients_articles_are_not_found(client: TestClient, world: World) -> None:
    for token in (world.patient, world.other_clinician):
        r = client.get(f"/api/v1/patients/{world.other_patient_id}/education"
                       if token == world.patient else
                       f"/api/v1/patients/{world.patient_id}/education",
                       headers=bearer(token))
        assert (r.status_code, r.json()) == (404, {"detail": "Patient not found"})
    r = client.get(f"/api/v1/patients/{uuid.uuid4().hex}/education",
                   headers=bearer(world.owner))
    assert (r.status_code, r.json()) == (404, {"detail": "Patient not found"})


def test_the_clinician_sends_articles_that_the_patient_then_sees_as_sent(
        client: TestClient, world: World) -> None:
    r = client.post(f"/api/v1/patients/{world.patient_id}/education/send",
                    headers=bearer(world.owner),
                    json={"articles": ["living_with_stenosis", "living_with_stenosis"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"patient_id": world.patient_id, "articles": ["living_with_stenosis"],
                        "emailed": False}
    body = client.get(f"/api/v1/patients/{world.patient_id}/education",
                      headers=bearer(world.patient)).json()
    assert body["sent"][0]["article"] == "living_with_stenosis"
    assert "living_with_stenosis" in [i["id"] for i in body["items"]]


def test_sending_is_refused_to_the_patient_and_for_bad_input_with_the_field_named(
        client: TestClient, world: World) -> None:
    url = f"/api/v1/patients/{world.patient_id}/education/send"
    r = client.post(url, headers=bearer(world.patient),
                    json={"articles": ["living_with_stenosis"]})
    assert r.status_code == 403
    r = client.post(url, headers=bearer(world.owner),
                    json={"articles": ["living_with_stenosis", "masage"]})
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "articles[1]",
                                     "message": "unknown article 'masage'"}]
    r = client.post(url, headers=bearer(world.owner),
                    json={"articles": ["living_with_stenosis"], "email": "nobody"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "email"
    r = client.post(url, headers=bearer(world.owner), json={"articles": []})
    assert r.status_code == 422 and r.json()["problems"][0]["path"].startswith("articles")


def test_the_patient_is_told_by_email_without_any_clinical_detail(
        client: TestClient, world: World, db: Database) -> None:
    from spinecare.service import education
    from spinecare.store.accounts import principal_of
    from spinecare.store.models import User

    with db.session() as session:
        owner = session.query(User).filter(User.username.like("owner-%")).first()
        assert owner is not None
        who = principal_of(owner)
    with smtp_server() as (inbox, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, from_address="clinic@example.org",
                            starttls=False, timeout=5)
        deliver_due(db, smtp, "http://clinic.example", utcnow())  # earlier tests' e-mails
        inbox.messages.clear()
        sent = education.send(db, who, world.patient_id, ["cauda_equina_syndrome"],
                              "patient@example.org", email_on=True)
        assert sent.emailed
        done = deliver_due(db, smtp, "http://clinic.example", utcnow())
    assert done.sent == 1
    (message,) = inbox.messages
    assert message["To"] == "patient@example.org"
    body = message.get_content()
    assert "http://clinic.example/my" in body and "an article" in body
    assert "cauda" not in body.lower() and "stenosis" not in body.lower()
    assert "emergency" in body


def test_the_sent_articles_as_fhir_are_communications_to_the_patient(
        client: TestClient, world: World) -> None:
    client.post(f"/api/v1/patients/{world.patient_id}/education/send",
                headers=bearer(world.owner), json={"articles": ["how_stenosis_is_diagnosed"]})
    r = client.get(f"/api/v1/patients/{world.patient_id}/education?format=fhir",
                   headers=bearer(world.patient))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = r.json()
    Bundle.model_validate(bundle)
    sent = [e["resource"] for e in bundle["entry"]]
    assert all(c["resourceType"] == "Communication" and c["status"] == "completed"
               for c in sent)
    assert {c["recipient"][0]["reference"] for c in sent} == {f"Patient/{world.patient_id}"}
    assert "DocumentReference/how-stenosis-is-diagnosed" in [
        c["payload"][0]["contentReference"]["reference"] for c in sent]
    r = client.get(f"/api/v1/patients/{world.other_patient_id}/education?format=fhir",
                   headers=bearer(world.patient))
    assert r.status_code == 404


@pytest.mark.parametrize("how", ["query", "accept"])
def test_an_article_in_spanish_is_the_spanish_rendering_with_the_same_grades(
        client: TestClient, world: World, how: str) -> None:
    url = f"{ARTICLES}/lumbar_spinal_stenosis"
    headers = bearer(world.patient)
    if how == "query":
        url += "?lang=es"
    else:
        headers["Accept-Language"] = "es-ES,es;q=0.9,en;q=0.5"
    r = client.get(url, headers=headers)
    assert r.status_code == 200 and r.headers["content-language"] == "es"
    spanish, english = load_library(language="es"), load_library()
    expected = render_article(spanish.articles["lumbar_spinal_stenosis"], spanish)
    assert r.json() == orjson.loads(orjson.dumps(expected))
    assert r.json()["language"] == "es"
    assert r.json()["sections"][0]["heading"] == "Cuándo pedir ayuda enseguida"

    def grades(doc: dict[str, object]) -> list[tuple[str, str, str]]:
        return [(t["id"], t["evidence_grade"], t["recommendation"])
                for s in doc["sections"] for t in s.get("treatments", ())]  # type: ignore

    in_english = render_article(english.articles["lumbar_spinal_stenosis"], english)
    assert grades(r.json()) == grades(in_english) != []


def test_a_spanish_document_reference_says_its_language_and_carries_the_spanish_text(
        client: TestClient, world: World) -> None:
    r = client.get(f"{ARTICLES}/cauda_equina_syndrome?lang=es&format=fhir",
                   headers=bearer(world.patient))
    assert r.status_code == 200
    resource = r.json()
    DocumentReference.model_validate(resource)
    assert resource["language"] == "es"
    assert {c["attachment"]["language"] for c in resource["content"]} == {"es"}
    lib = load_library(language="es")
    doc = orjson.loads(orjson.dumps(render_article(lib.articles["cauda_equina_syndrome"], lib)))
    text = base64.b64decode(resource["content"][0]["attachment"]["data"]).decode()
    assert text == render_text(doc) and "FUENTES" in text
    english = client.get(f"{ARTICLES}/cauda_equina_syndrome?format=fhir",
                         headers=bearer(world.patient)).json()
    assert english["language"] == "en"


def test_the_library_and_the_patients_reading_in_spanish_name_treatments_in_spanish(
        client: TestClient, world: World) -> None:
    lib = load_library(language="es")
    body = client.get(f"{ARTICLES}?lang=es", headers=bearer(world.patient)).json()
    assert body["language"] == "es"
    assert [a["title"] for a in body["items"]] == [a.title for a in lib.articles.values()]
    body = client.get(f"/api/v1/patients/{world.patient_id}/education?lang=es",
                      headers=bearer(world.patient)).json()
    names = {t["treatment"]: t["name"] for t in body["treatments"]}
    assert names["walking_programme"] == lib.treatment_words["walking_programme"].name
    assert names["walking_programme"] != load_treatments().treatments["walking_programme"].name


def test_an_unknown_language_is_refused_naming_lang_and_an_unknown_accept_falls_to_english(
        client: TestClient, world: World) -> None:
    r = client.get(f"{ARTICLES}/lumbar_spinal_stenosis?lang=fr", headers=bearer(world.owner))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "lang"
    r = client.get(f"{ARTICLES}/lumbar_spinal_stenosis",
                   headers={**bearer(world.owner), "Accept-Language": "fr, de;q=0.5"})
    assert r.status_code == 200 and r.json()["language"] == "en"


def test_a_patient_whose_account_reads_spanish_is_told_by_email_in_spanish(
        client: TestClient, world: World, db: Database) -> None:
    from spinecare.service import education
    from spinecare.store import accounts
    from spinecare.store.accounts import principal_of
    from spinecare.store.models import User

    with db.session() as session:
        owner = session.query(User).filter(User.username.like("owner-%")).first()
        patient = session.query(User).filter(User.patient_id == world.patient_id).first()
        assert owner is not None and patient is not None
        who = principal_of(owner)
        accounts.set_language(session, patient.id, "es")
    try:
        with smtp_server() as (inbox, port):
            smtp = SmtpSettings(host="127.0.0.1", port=port, from_address="clinic@example.org",
                                starttls=False, timeout=5)
            deliver_due(db, smtp, "http://clinic.example", utcnow())
            inbox.messages.clear()
            education.send(db, who, world.patient_id,
                           ["cauda_equina_syndrome", "living_with_stenosis"],
                           "paciente@example.org", email_on=True)
            assert deliver_due(db, smtp, "http://clinic.example", utcnow()).sent == 1
    finally:
        with db.session() as session:
            accounts.set_language(session, patient.id, None)
    (message,) = inbox.messages
    assert message["Subject"] == "spinecare: su equipo de atención le ha enviado algo para leer"
    assert message["Content-Language"] == "es"
    body = message.get_content()
    assert "2 artículos" in body and "http://clinic.example/my" in body
    assert "urgencias" in body and "cauda" not in body.lower()
