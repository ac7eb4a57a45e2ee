"""The alert's whole path in a real browser (Debian's chromium through Playwright): a patient
reports saddle numbness in the intake -> an alert is first on the clinician's worklist -> the
clinician acknowledges it with a note -> it leaves the open list and shows as acknowledged in
the patient's history. axe-core finds no violation of any impact on the worklist, the alert
pages and the patient's home after the emergency, on a phone and on a desktop.

``make screenshots`` runs this file with ``SPINECARE_SCREENSHOTS=docs/screenshots`` to refresh
the README's pictures; a plain test run writes only to a temporary directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinecare.app import create_app
from spinecare.http.contacts import ClinicContacts
from spinecare.http.settings import Settings
from spinecare.store.db import Database
from tests.web.helpers import SECRET, Server, add_clinician, add_patient, add_three_visits
from tests.web.test_browser import (
    AXE,
    DESKTOP,
    NEEDS_BROWSER,
    PHONE,
    invitation_link,
    new_page,
    save_screenshot,
    sign_in,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER

CLINIC = ClinicContacts(name="Riverside Spine Clinic", phone="01632 960000",
                        emergency_number="999")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("alerts-browser")
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp,
                              testing=True, clinic=CLINIC), db)
    doc = add_clinician(db, "dr.ada")
    # A worklist with company: the alert must come first all the same.
    for name, year in (("Albert Adams", 1948), ("Beatrice Cole", 1955)):
        add_three_visits(db, doc, add_patient(db, doc, name, year))
    add_patient(db, doc, "Carl Dunn", 1960)
    with Server(app) as server:
        yield {"url": server.url, "db": db, "doc": doc}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alert-screenshots")


def no_violations(page: Any, name: str) -> None:
    """axe-core on the page: no violation of any impact."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact,
                         nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))""")
    assert not violations, f"{name}: {violations}"


def test_saddle_numbness_reaches_the_worklist_and_is_acknowledged(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    db, url = world["db"], world["url"]
    pid = add_patient(db, world["doc"], "Joan Bell", 1949)

    # The patient, on a phone: the intake stops at saddle numbness.
    phone = new_page(browser, PHONE)
    phone.goto(invitation_link(db, url, world["doc"], pid))
    phone.wait_for_url(re.compile(r".*/my$"))
    phone.get_by_role("link", name="Answer questions about your symptoms").click()
    phone.get_by_role("button", name="Start the questions").click()
    phone.get_by_label("None of these: my bladder works as it always has").check()
    phone.get_by_role("button", name="Next").click()
    phone.get_by_role("radio", name="No").check()
    phone.get_by_role("button", name="Next").click()
    phone.get_by_role("radio", name="Yes").check()
    phone.get_by_role("button", name="Next").click()
    phone.get_by_role("heading", name="Go to the emergency department now", level=1).wait_for()
    assert phone.get_by_role("link", name="Call 999 (emergency)").get_attribute(
        "href") == "tel:999"
    no_violations(phone, "patient-emergency")

    # Home again: the open emergency advice comes first, with tap-to-call numbers.
    phone.goto(url + "/my")
    advice = phone.locator("section.advice").first
    assert advice.get_attribute("data-advice") == "emergency"
    assert phone.locator("main h2").first.inner_text() == "Your answers may need emergency care"
    assert advice.get_by_role("link", name="Call 999 (emergency)").get_attribute(
        "href") == "tel:999"
    assert advice.get_by_role("link", name=re.compile("Riverside Spine Clinic")).get_attribute(
        "href") == "tel:01632960000"
    save_screenshot(phone, "patient-home-emergency", shots, full_page=False)
    no_violations(phone, "patient-home-emergency")

    # The clinician: the alert is first on the worklist.
    desk = new_page(browser, DESKTOP)
    sign_in(desk, url, "dr.ada")
    first = desk.locator("table.patients tbody tr").first
    assert first.locator("th").inner_text() == "Joan Bell"
    assert "1 open" in first.locator("td").first.inner_text().lower()
    save_screenshot(desk, "worklist-alert", shots, full_page=False)
    no_violations(desk, "worklist")
    desk.get_by_role("link", name="Alerts", exact=True).click()
    desk.get_by_role("link", name=re.compile("Joan Bell")).click()
    desk.get_by_role("heading", name=re.compile("Emergency alert: Joan Bell")).wait_for()
    assert "Open: not yet acknowledged" in desk.locator("#alert-status").inner_text()
    save_screenshot(desk, "alert", shots, full_page=False)
    no_violations(desk, "alert")

    # Phone-sized clinician pages pass axe too.
    small = new_page(browser, PHONE)
    sign_in(small, url, "dr.ada")
    no_violations(small, "worklist (phone)")
    small.goto(desk.url)
    no_violations(small, "alert (phone)")
    small.goto(url + "/alerts")
    no_violations(small, "alerts (phone)")
    small.context.close()

    # An empty note is refused by the form itself; a note acknowledges.
    desk.get_by_role("button", name="Acknowledge the alert").click()
    assert desk.get_by_label("What was done").evaluate("e => !e.validity.valid")
    desk.get_by_label("What was done").fill("Phoned Joan: on her way to A&E with her son.")
    desk.get_by_role("button", name="Acknowledge the alert").click()
    desk.wait_for_url(re.compile(r".*acknowledged=1$"))
    assert "Acknowledged" in desk.locator("#alert-status").inner_text()
    assert "dr.ada" in desk.locator("#alert-status").inner_text()
    no_violations(desk, "alert (acknowledged)")

    # Gone from the open list and from the top of the worklist...
    desk.goto(url + "/alerts")
    assert desk.get_by_text("No open alerts.").is_visible()
    no_violations(desk, "alerts")
    desk.goto(url + "/patients?alerts=1")
    assert desk.locator("table.patients tbody tr").count() == 0
    # ... and acknowledged in the patient's history, with the note.
    desk.goto(f"{url}/patients/{pid}")
    history = desk.locator("#alert-history").inner_text()
    assert "acknowledged by dr.ada" in history and "on her way to A&E" in history
    assert desk.locator("#alerts").count() == 0
    no_violations(desk, "patient (acknowledged alert)")

    # The patient's home no longer leads with the emergency once a clinician has acted.
    phone.goto(url + "/my")
    assert phone.locator("section.advice").count() == 0
    desk.context.close()
    phone.context.close()
