"""Education pages over HTTP (no browser): the article page, the patient's reading on their
home, the clinician's printout and sending, who may see what, and the audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.education import load_library, render_article
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, EducationShare
from tests.web.helpers import (
    add_clinician,
    add_patient,
    add_three_visits,
    csrf_of,
    form_fields,
    make_app,
)
from tests.web.test_pages import invited, signed_in


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database]:
    return make_app(tmp_path_factory.mktemp("education-web"))


@pytest.fixture(scope="module")
def world(built: tuple[FastAPI, Database]) -> dict[str, str | int]:
    _, db = built
    doc, other = add_clinician(db, "doc"), add_clinician(db, "other")
    lss = add_patient(db, doc, "Margaret Hughes", 1951)
    add_three_visits(db, doc, lss)
    new = add_patient(db, doc, "Nora New", 1960)
    return {"doc": doc, "other": other, "lss": lss, "new": new}


@pytest.fixture
def doc(built: tuple[FastAPI, Database], world: dict[str, str | int]) -> Iterator[TestClient]:
    with signed_in(built[0], "doc") as client:
        yield client


def test_an_article_page_shows_every_section_in_order_with_the_grades_and_sources(
        doc: TestClient) -> None:
    r = doc.get("/articles/lumbar_spinal_stenosis")
    assert r.status_code == 200
    rendered = render_article(load_library().articles["lumbar_spinal_stenosis"], load_library())
    shown = re.findall(r'data-section="([a-z_]+)"', r.text)
    assert shown == [s["name"] for s in rendered["sections"]]
    assert shown[0] == "urgent"
    grades = dict(re.findall(
        r'data-treatment="([a-z_]+)">.*?data-grade="([a-z_]+)"', r.text, re.S))
    treatments = next(s for s in rendered["sections"] if s["name"] == "treatments")
    assert grades == {t["id"]: t["evidence_grade"] for t in treatments["treatments"]}
    assert r.text.count('data-source="') == len(rendered["sources"])
    assert "Last reviewed on" in r.text
    # the page-wide urgent-care advice of every patient page
    assert 'id="urgent-help-title"' in r.text


def test_an_unknown_article_is_not_found_and_the_library_needs_a_sign_in(
        built: tuple[FastAPI, Database], doc: TestClient) -> None:
    r = doc.get("/articles/no_such_article")
    assert r.status_code == 404 and "Article not found" in r.text
    with TestClient(built[0]) as anonymous:
        assert anonymous.get("/articles/lumbar_spinal_stenosis").status_code == 401
        assert anonymous.get("/articles").status_code == 401


def test_the_patient_home_lists_their_conditions_and_plan_with_urgent_advice_first(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    with invited(built[0], doc, str(world["lss"])) as patient:
        home = patient.get("/my").text
    reading = home[home.index('id="reading"'):]
    assert reading.index("reading-urgent") < reading.index('data-list="conditions"')
    assert 'href="/articles/lumbar_spinal_stenosis"' in reading
    assert ('href="/articles/lumbar_spinal_stenosis#treatment-walking_programme">'
            "Why we suggest: Structured walking programme") in reading
    assert ('href="/articles/lumbar_spinal_stenosis#treatment-traction_decompression_device">'
            "Why we do not suggest: Traction") in reading


def test_the_exercises_page_lists_the_plans_treatments_too(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    with invited(built[0], doc, str(world["lss"])) as patient:
        page = patient.get("/my/exercises").text
    assert "Why we suggest: Structured walking programme" in page


def test_a_patient_without_a_visit_sees_no_condition_but_the_library_link(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    with invited(built[0], doc, str(world["new"])) as patient:
        home = patient.get("/my").text
    assert 'data-list="conditions"' not in home
    assert 'href="/articles"' in home


def test_the_clinician_prints_the_chosen_articles_on_one_page(
        doc: TestClient, world: dict[str, str | int]) -> None:
    page = doc.get(f"/patients/{world['lss']}")
    assert 'id="education"' in page.text
    r = doc.post(f"/patients/{world['lss']}/articles",
                 data={"csrf_token": csrf_of(page.text), "action": "print",
                       "article": ["lumbar_spinal_stenosis", "living_with_stenosis"]})
    assert r.status_code == 200
    assert re.findall(r'data-article="([a-z_]+)"', r.text) == [
        "lumbar_spinal_stenosis", "living_with_stenosis"]
    assert "/static/education.css" in r.text and "Margaret Hughes" in r.text


def test_printing_nothing_or_an_unknown_article_is_refused_with_a_page(
        doc: TestClient, world: dict[str, str | int]) -> None:
    page = doc.get(f"/patients/{world['lss']}")
    for chosen in ([], ["masage"]):
        r = doc.post(f"/patients/{world['lss']}/articles",
                     data={"csrf_token": csrf_of(page.text), "action": "print",
                           "article": chosen})
        assert r.status_code == 422 and "Traceback" not in r.text


def test_sent_articles_reach_the_patient_home_from_the_care_team(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    _, db = built
    page = doc.get(f"/patients/{world['new']}")
    r = doc.post(f"/patients/{world['new']}/articles",
                 data={**form_fields(page.text, f"/patients/{world['new']}/articles"),
                       "action": "send", "email": "",
                       "article": ["how_stenosis_is_diagnosed"]}, follow_redirects=False)
    assert r.status_code == 303 and "sent=1" in r.headers["location"]
    assert "Sent 1 article" in doc.get(r.headers["location"]).text
    with invited(built[0], doc, str(world["new"])) as patient:
        home = patient.get("/my").text
    sent = home[home.index("From your care team"):]
    assert 'href="/articles/how_stenosis_is_diagnosed"' in sent
    with db.session() as session:
        events = session.scalars(select(AuditEvent.action).where(
            AuditEvent.patient_id == world["new"])).all()
    assert "education.send" in events and "education.list" in events


def test_a_bad_address_names_the_field_and_sends_nothing(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    _, db = built
    with db.session() as session:
        before = len(session.scalars(select(EducationShare)).all())
    page = doc.get(f"/patients/{world['lss']}")
    r = doc.post(f"/patients/{world['lss']}/articles",
                 data={**form_fields(page.text, f"/patients/{world['lss']}/articles"),
                       "action": "send", "email": "not an address",
                       "article": ["lumbar_spinal_stenosis"]})
    assert r.status_code == 422 and "email: is not an e-mail address" in r.text
    with db.session() as session:
        assert len(session.scalars(select(EducationShare)).all()) == before


def test_another_clinician_cannot_print_or_send_for_the_patient(
        built: tuple[FastAPI, Database], world: dict[str, str | int]) -> None:
    with signed_in(built[0], "other") as other:
        page = other.get("/patients")
        for action in ("print", "send"):
            r = other.post(f"/patients/{world['lss']}/articles",
                           data={"csrf_token": csrf_of(page.text), "action": action,
                                 "article": ["lumbar_spinal_stenosis"]})
            assert r.status_code == 404


def test_the_library_and_a_missing_article_read_in_spanish(doc: TestClient) -> None:
    spanish = load_library(language="es")
    page = doc.get("/articles?lang=es").text
    assert "<h1>Lea sobre su espalda y su cuello</h1>" in page
    titles = re.findall(r'<a href="/articles/[a-z_]+">([^<]+)</a>', page)
    assert titles == [a.title for a in spanish.articles.values()]
    r = doc.get("/articles/no_such_article?lang=es")
    assert r.status_code == 404 and "No se encontró el artículo" in r.text
    doc.get("/articles?lang=en")  # the cookie back to English for the other tests


def test_the_spanish_reading_list_names_the_plans_treatments_in_spanish(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    spanish = load_library(language="es")
    walking = spanish.treatment_words["walking_programme"].name
    with invited(built[0], doc, str(world["lss"])) as patient:
        home = patient.get("/my?lang=es").text
        exercises = patient.get("/my/exercises").text
    reading = home[home.index('id="reading"'):]
    assert "Lea sobre su atención" in reading and "Su plan de tratamiento" in reading
    assert ('href="/articles/lumbar_spinal_stenosis#treatment-walking_programme">'
            f"Por qué le sugerimos: {walking}") in reading
    assert spanish.articles["lumbar_spinal_stenosis"].title in reading
    assert "Why we suggest" not in reading
    assert f"Por qué le sugerimos: {walking}" in exercises


def test_the_clinician_prints_in_the_language_chosen_for_the_patient(
        doc: TestClient, world: dict[str, str | int]) -> None:
    page = doc.get(f"/patients/{world['lss']}").text
    # On an English page the box offers every language, English chosen.
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<option value="es" lang="es">Español</option>' in page
    r = doc.post(f"/patients/{world['lss']}/articles",
                 data={"csrf_token": csrf_of(page), "action": "print", "language": "es",
                       "article": ["lumbar_spinal_stenosis"]})
    assert r.status_code == 200
    assert '<html lang="es"' in r.text
    assert "Lectura para Margaret Hughes" in r.text
    assert load_library(language="es").articles["lumbar_spinal_stenosis"].title in r.text
    assert "Cuándo pedir ayuda enseguida" in r.text and "No son un diagnóstico" in r.text
    # An unknown language is the page's own.
    r = doc.post(f"/patients/{world['lss']}/articles",
                 data={"csrf_token": csrf_of(page), "action": "print", "language": "xx",
                       "article": ["lumbar_spinal_stenosis"]})
    assert r.status_code == 200 and "Reading for Margaret Hughes" in r.text


def test_the_print_box_chooses_the_language_the_patients_account_reads(
        built: tuple[FastAPI, Database], world: dict[str, str | int], doc: TestClient) -> None:
    from spinecare.store import accounts
    from spinecare.store.models import User

    _, db = built
    with invited(built[0], doc, str(world["new"])):
        pass
    with db.session() as session:
        user = session.scalars(select(User).where(User.patient_id == world["new"])).one()
        accounts.set_language(session, user.id, "es")
    page = doc.get(f"/patients/{world['new']}").text
    assert '<option value="es" lang="es" selected>Español</option>' in page
    assert '<option value="en" lang="en">English</option>' in page


def test_signing_in_to_read_is_asked_in_the_readers_language(
        built: tuple[FastAPI, Database]) -> None:
    with TestClient(built[0]) as anonymous:
        r = anonymous.get("/articles/lumbar_spinal_stenosis",
                          headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert r.status_code == 401 and "Entre en su cuenta para leer los artículos." in r.text
    assert "Traceback" not in r.text
