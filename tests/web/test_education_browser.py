"""Patient education in a real browser (Debian's chromium through Playwright) on a phone
(375 x 812): a patient whose latest assessment lists lumbar spinal stenosis opens that article
from their home; every treatment grade the page shows equals what ``spinecare evidence`` prints
for the same treatment and condition; the page fits the phone's width; axe-core finds no
violation. The clinician prints the chosen articles (print media: one clean printout).

``make screenshots`` runs this file with ``SPINECARE_SCREENSHOTS=docs/screenshots`` to refresh
the README's pictures of an article on a phone; a plain run writes only to a temporary
directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from spinecare.cli import main as spinecare_cli
from spinecare.store.db import Database
from tests.web.helpers import Server, add_clinician, add_patient, add_three_visits, make_app
from tests.web.test_alerts_browser import no_violations
from tests.web.test_browser import (
    DESKTOP,
    NEEDS_BROWSER,
    invitation_link,
    new_page,
    save_screenshot,
    sign_in,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER

PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app, db = make_app(tmp_path_factory.mktemp("education-browser"))
    doc = add_clinician(db, "dr.ada")
    pid = add_patient(db, doc, "Margaret Hughes", 1951)
    add_three_visits(db, doc, pid)  # lumbar spinal stenosis, moderate, in every visit
    with Server(app) as server:
        yield {"url": server.url, "db": db, "doc": doc, "pid": pid}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("education-screenshots")


def evidence_verdict(treatment: str, condition: str,
                     capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """What ``spinecare evidence --json TREATMENT`` prints for one condition."""
    capsys.readouterr()
    assert spinecare_cli(["evidence", "--json", treatment]) == 0
    verdicts = {v["condition"]: v for v in orjson.loads(capsys.readouterr().out)["verdicts"]}
    v = verdicts[condition]
    return v["evidence_grade"], v["recommendation"]


def latest_conditions(db: Database, pid: str) -> list[str]:
    from spinecare.store import records

    with db.session() as session:
        visits, _ = records.list_visits(session, pid)
        assessment = orjson.loads(visits[-1].assessment_json)
    return [c["code"] for c in assessment["conditions"]
            if c["likelihood"] in ("moderate", "high")]


def test_a_patient_opens_their_conditions_article_from_home_and_its_grades_match_evidence(
        browser: Any, world: dict[str, Any], shots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db, url = world["db"], world["url"]
    assert "lumbar_spinal_stenosis" in latest_conditions(db, world["pid"])

    phone = new_page(browser, PHONE)
    phone.goto(invitation_link(db, url, world["doc"], world["pid"]))
    phone.wait_for_url(re.compile(r".*/my$"))
    reading = phone.locator("#reading")
    # The urgent-care advice for their assessment comes before the articles.
    assert reading.locator(".reading-urgent").get_by_role(
        "heading", name="When to get help at once").is_visible()
    save_screenshot(phone, "patient-home-reading", shots)
    conditions = reading.locator('[data-list="conditions"]')
    conditions.get_by_role("link", name="Lumbar spinal stenosis").click()
    phone.wait_for_url(re.compile(r".*/articles/lumbar_spinal_stenosis$"))

    article = phone.locator('article[data-article="lumbar_spinal_stenosis"]')
    assert article.get_by_role("heading", level=1).inner_text() == "Lumbar spinal stenosis"
    sections = [s.get_attribute("data-section")
                for s in article.locator("[data-section]").all()]
    assert sections[0] == "urgent"
    assert phone.get_by_role("heading", name="When to get help at once").first.is_visible()
    # Readable on the phone: nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    shown = {t.get_attribute("data-treatment"): (
        t.locator("[data-grade]").get_attribute("data-grade"),
        t.locator("[data-recommendation]").get_attribute("data-recommendation"))
        for t in article.locator("li.treatment").all()}
    assert len(shown) >= 5
    for treatment, verdict in shown.items():
        assert verdict == evidence_verdict(treatment, "lumbar_spinal_stenosis", capsys), \
            treatment
    assert article.locator(".article-sources li").count() >= 1
    assert "Last reviewed on" in article.locator(".reviewed").inner_text()

    no_violations(phone, "article-phone")
    save_screenshot(phone, "article-phone", shots, full_page=False)


def test_the_patient_follows_why_we_suggest_walking_to_its_grade(
        browser: Any, world: dict[str, Any], shots: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    phone = new_page(browser, PHONE)
    phone.goto(invitation_link(world["db"], world["url"], world["doc"], world["pid"]))
    phone.wait_for_url(re.compile(r".*/my$"))
    phone.get_by_role("link", name=re.compile("^Why we suggest: Structured walking")).click()
    phone.wait_for_url(re.compile(r".*#treatment-walking_programme$"))
    entry = phone.locator("#treatment-walking_programme")
    assert entry.is_visible()
    grade = entry.locator("[data-grade]").get_attribute("data-grade")
    advice = entry.locator("[data-recommendation]").get_attribute("data-recommendation")
    assert (grade, advice) == evidence_verdict("walking_programme", "lumbar_spinal_stenosis",
                                               capsys)
    save_screenshot(phone, "article-phone-treatment", shots, full_page=False)
    no_violations(phone, "article-treatment")


def test_the_clinician_prints_the_chosen_articles_as_one_clean_printout(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, DESKTOP)
    sign_in(page, world["url"], "dr.ada")
    page.goto(f"{world['url']}/patients/{world['pid']}")
    box = page.locator("#education")
    assert box.get_by_label("Lumbar spinal stenosis", exact=True).is_checked()
    box.get_by_role("button", name="Print the chosen articles").click()
    page.wait_for_url(re.compile(r".*/articles$"))
    printed = page.locator("article[data-article]")
    assert printed.count() >= 2
    page.emulate_media(media="print")
    # On paper: no navigation, no buttons, no back link; the urgent-care advice stays.
    assert not page.locator(".site-header").is_visible()
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.locator(".urgent-help").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    no_violations(page, "articles-print")
