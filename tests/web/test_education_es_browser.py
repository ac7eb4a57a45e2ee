"""A Spanish-speaking patient reads about their condition on a phone (375 x 812, the phone's
language Spanish: no ``?lang=`` anywhere), in Debian's chromium: from the home page's reading
list they open the article about a condition their assessment lists, and see it in Spanish,
with every treatment's grade, advice and words equal to ``spinecare explain --lang es``;
"why we suggest" names the treatment in Spanish and leads to its grade. axe-core finds no
violation.

``make screenshots`` runs this file with ``SPINECARE_SCREENSHOTS=docs/screenshots`` to refresh
the README's picture of a Spanish article on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from spinecare.cli import main as spinecare_cli
from spinecare.education import load_library
from tests.web.helpers import Server, add_clinician, add_patient, add_three_visits, make_app
from tests.web.test_alerts_browser import no_violations
from tests.web.test_browser import (
    NEEDS_BROWSER,
    invitation_link,
    save_screenshot,
)
from tests.web.test_education_browser import latest_conditions

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER

PHONE = {"width": 375, "height": 812}
CONDITION = "lumbar_spinal_stenosis"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app, db = make_app(tmp_path_factory.mktemp("education-es-browser"))
    doc = add_clinician(db, "dra.ruiz")
    pid = add_patient(db, doc, "Carmen López", 1950)
    add_three_visits(db, doc, pid)  # lumbar spinal stenosis, moderate, in every visit
    with Server(app) as server:
        yield {"url": server.url, "db": db, "doc": doc, "pid": pid}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("education-es-screenshots")


def spanish_phone(browser: Any) -> Any:
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="es-ES",
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def explained_in_spanish(topic: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What ``spinecare explain TOPIC --lang es --json`` prints."""
    capsys.readouterr()
    assert spinecare_cli(["explain", topic, "--lang", "es", "--json"]) == 0
    doc: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return doc


def test_a_spanish_patient_opens_their_conditions_article_and_sees_explains_grades(
        browser: Any, world: dict[str, Any], shots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db, url = world["db"], world["url"]
    assert CONDITION in latest_conditions(db, world["pid"])
    explained = explained_in_spanish(CONDITION, capsys)
    assert explained["language"] == "es"

    phone = spanish_phone(browser)
    phone.goto(invitation_link(db, url, world["doc"], world["pid"]))
    phone.wait_for_url(re.compile(r".*/my$"))
    reading = phone.locator("#reading")
    reading.get_by_role("heading", name="Lea sobre su atención").wait_for()
    assert reading.locator(".reading-urgent").get_by_role(
        "heading", name="Cuándo pedir ayuda enseguida").is_visible()
    reading.locator('[data-list="conditions"]').get_by_role(
        "link", name=explained["title"], exact=True).click()
    phone.wait_for_url(re.compile(rf".*/articles/{CONDITION}$"))

    assert phone.locator("html").get_attribute("lang") == "es"
    article = phone.locator(f'article[data-article="{CONDITION}"]')
    assert article.get_by_role("heading", level=1).inner_text() == explained["title"]
    headings = [article.locator(f'[data-section="{s["name"]}"] > h2').inner_text()
                for s in explained["sections"]]
    assert headings == [s["heading"] for s in explained["sections"]]
    assert headings[0] == "Cuándo pedir ayuda enseguida"
    # The page's own words are Spanish too, and it still says when to get urgent care.
    assert article.locator(".verdict strong").first.inner_text() == \
        "Qué tan sólidos son los estudios:"
    assert "Última revisión el" in article.locator(".reviewed").inner_text()
    assert "No es un diagnóstico" in phone.locator("main").inner_text()

    expected = {t["id"]: (t["name"], t["evidence_grade"], t["recommendation"],
                          t["evidence_words"], t["recommendation_words"])
                for s in explained["sections"] for t in s.get("treatments", ())}
    shown = {t.get_attribute("data-treatment"): (
        t.locator("h3").inner_text(),
        t.locator("[data-grade]").get_attribute("data-grade"),
        t.locator("[data-recommendation]").get_attribute("data-recommendation"),
        t.locator("[data-grade]").inner_text(),
        t.locator("[data-recommendation]").inner_text())
        for t in article.locator("li.treatment").all()}
    assert len(shown) >= 5
    assert shown == expected
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    no_violations(phone, "article-phone-es")
    save_screenshot(phone, "article-phone-es", shots, full_page=False)
    phone.context.close()


def test_why_we_suggest_names_the_treatment_in_spanish_and_leads_to_its_grade(
        browser: Any, world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    walking = load_library(language="es").treatment_words["walking_programme"].name
    phone = spanish_phone(browser)
    phone.goto(invitation_link(world["db"], world["url"], world["doc"], world["pid"]))
    phone.wait_for_url(re.compile(r".*/my$"))
    phone.get_by_role("link", name=f"Por qué le sugerimos: {walking}").click()
    phone.wait_for_url(re.compile(r".*#treatment-walking_programme$"))
    entry = phone.locator("#treatment-walking_programme")
    assert entry.locator("h3").inner_text() == walking
    explained = explained_in_spanish(CONDITION, capsys)
    verdict = next(t for s in explained["sections"] for t in s.get("treatments", ())
                   if t["id"] == "walking_programme")
    assert entry.locator("[data-grade]").get_attribute("data-grade") == \
        verdict["evidence_grade"]
    assert entry.locator("[data-recommendation]").get_attribute("data-recommendation") == \
        verdict["recommendation"]
    phone.context.close()
