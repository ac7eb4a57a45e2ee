"""The web app in a real browser: Debian's chromium driven by Playwright for Python, against
uvicorn on loopback with a temporary SQLite database.

Each main page is saved as a screenshot (to a temporary directory, and also to the directory
named by ``SPINECARE_SCREENSHOTS`` when set) and checked with axe-core, which must find no
violation of impact "serious" or "critical". ``make test`` installs chromium (Debian's package)
and axe-core (from the npm registry, into ``.cache/npm``) when they are missing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinecare.store.db import Database
from tests.web.helpers import (
    PASSWORD,
    Server,
    add_clinician,
    add_patient,
    add_three_visits,
    make_app,
)

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Every browser test module skips, saying why, without chromium or axe-core.
NEEDS_BROWSER = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium (make test installs it)"),
    pytest.mark.skipif(not AXE.exists(),
                       reason="needs axe-core in .cache/npm (make test installs it)"),
]
pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app, db = make_app(tmp_path_factory.mktemp("browser"))
    ids = {name: add_clinician(db, name) for name in ("dr.ada", "dr.ben")}
    three = add_patient(db, ids["dr.ada"], "Margaret Hughes", 1951)
    add_three_visits(db, ids["dr.ada"], three)
    with Server(app) as server:
        yield {"url": server.url, "db": db, "ids": ids, "three": three}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def new_page(browser: Any, viewport: dict[str, int]) -> Any:
    # The app's CSP forbids inline scripts; axe is injected by the test, so bypass it here.
    context = browser.new_context(viewport=viewport, bypass_csp=True, locale="en-GB")
    context.set_default_timeout(10_000)
    return context.new_page()


def save_screenshot(page: Any, name: str, shots: Path, *, full_page: bool = True) -> None:
    target = shots / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    extra = os.environ.get("SPINECARE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(extra) / target.name)


def check_page(page: Any, name: str, shots: Path) -> None:
    """Screenshot the page and run axe-core on it: no serious or critical violation."""
    save_screenshot(page, name, shots)
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact,
                         nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))""")
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def sign_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/patients$"))


def test_a_clinician_adds_a_patient_records_myelopathy_and_sees_the_urgent_banner(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, DESKTOP)
    page.goto(world["url"] + "/login")
    check_page(page, "sign-in", shots)
    sign_in(page, world["url"], "dr.ada")
    page.get_by_role("link", name="Add a patient").first.click()
    page.get_by_label("Name").fill("Walter Price")
    page.get_by_label("Year of birth").fill("1956")
    page.get_by_role("button", name="Add the patient").click()
    page.get_by_role("heading", name="Walter Price", level=1).wait_for()
    page.get_by_role("link", name="Record a visit").click()
    page.get_by_label("Gait", exact=True).select_option("spastic")
    page.get_by_label("Hoffmann sign").select_option("yes")
    page.get_by_label("Inverted supinator").select_option("yes")
    # The preview follows the form as it is filled in.
    preview = page.locator("#preview [data-triage]")
    preview.wait_for()
    page.wait_for_function(
        "document.querySelector('#preview [data-triage]').dataset.triage === 'urgent'")
    check_page(page, "clinician-new-visit", shots)
    page.get_by_role("button", name="Save the visit").click()
    banner = page.locator("#latest .triage")
    assert banner.get_attribute("data-triage") == "urgent"
    assert "Urgent: specialist assessment" in banner.inner_text()
    assert "Degenerative cervical myelopathy" in page.locator("#latest").inner_text()
    page.get_by_role("link", name="Printable visit report").click()
    page.get_by_role("heading", name="Visit report").wait_for()
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    page.emulate_media(media="screen")
    check_page(page, "clinician-visit-report", shots)
    page.goto(world["url"] + "/patients?q=walter")
    assert page.locator("table.patients tbody tr").count() == 1
    assert page.locator("table.patients .badge-urgent").count() == 1
    check_page(page, "clinician-patient-list", shots)
    page.context.close()


def test_a_patient_with_three_visits_shows_three_points_on_each_chart(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, DESKTOP)
    sign_in(page, world["url"], "dr.ada")
    page.goto(f"{world['url']}/patients/{world['three']}")
    charts = page.locator("svg.chart")
    assert charts.count() >= 3
    for n in range(charts.count()):
        assert charts.nth(n).locator("circle.point").count() == 3
        assert charts.nth(n).locator(".mcid-band").count() == 1
    assert page.locator("ol.timeline > li").count() == 3
    check_page(page, "clinician-patient", shots)
    # What a clinician sees first (the README's picture: docs/screenshots/clinician-patient.png).
    save_screenshot(page, "clinician-patient-first-screen", shots, full_page=False)
    page.context.close()


def test_another_clinician_cannot_open_the_patient(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, DESKTOP)
    sign_in(page, world["url"], "dr.ben")
    assert page.get_by_text("Margaret Hughes").count() == 0
    response = page.goto(f"{world['url']}/patients/{world['three']}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Patient not found").is_visible()
    assert page.get_by_text("Margaret Hughes").count() == 0
    page.context.close()


def invitation_link(db: Database, url: str, clinician_id: int, patient_id: str) -> str:
    from spinecare.store.accounts import create_invitation
    from tests.web.helpers import SECRET

    with db.session() as session:
        token, _ = create_invitation(session, SECRET, patient_id, clinician_id,
                                     __import__("datetime").timedelta(days=7))
    return f"{url}/invite#{token}"


def test_a_patient_answers_saddle_numbness_and_reaches_the_emergency_page(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    db, ids = world["db"], world["ids"]
    pid = add_patient(db, ids["dr.ada"], "Joan Bell", 1949)
    page = new_page(browser, PHONE)
    page.goto(invitation_link(db, world["url"], ids["dr.ada"], pid))
    page.wait_for_url(re.compile(r".*/my$"))
    assert "#" not in page.url
    check_page(page, "patient-home", shots)
    page.get_by_role("link", name="Answer questions about your symptoms").click()
    page.get_by_role("button", name="Start the questions").click()
    page.get_by_label("None of these: my bladder works as it always has").check()
    check_page(page, "patient-intake-step", shots)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("radio", name="No").check()
    page.get_by_role("button", name="Next").click()
    assert "numbness" in page.get_by_role("heading", level=1).inner_text()
    # Keyboard only: the answer and the Next button are reached with the keyboard.
    page.get_by_role("radio", name="Yes").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Next").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Go to the emergency department now", level=1).wait_for()
    assert "Do not drive yourself" in page.locator("ol.steps").inner_text()
    check_page(page, "patient-emergency", shots)
    page.context.close()


def test_a_patient_logs_an_exercise_session_and_sees_progress(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    db, ids = world["db"], world["ids"]
    pid = add_patient(db, ids["dr.ada"], "Frank Owen", 1950)
    add_three_visits(db, ids["dr.ada"], pid)
    page = new_page(browser, PHONE)
    page.goto(invitation_link(db, world["url"], ids["dr.ada"], pid))
    page.wait_for_url(re.compile(r".*/my$"))
    page.get_by_role("link", name="Your home exercises and daily log").click()
    page.get_by_role("radio", name="Yes").check()
    page.get_by_label("Your pain before the exercises").select_option("6")
    page.get_by_label("Your pain after the exercises").select_option("4")
    page.get_by_role("button", name="Save today's log").click()
    page.get_by_text("Your log is saved").wait_for()
    assert page.locator("svg.chart .point").count() == 2
    check_page(page, "patient-exercises", shots)
    page.context.close()


def test_the_api_docs_render_under_their_policy_from_the_package_alone(
        browser: Any, world: dict[str, Any]) -> None:
    """Swagger UI from the package's own files, its policy enforced (not bypassed): every
    operation listed, no policy violation, and no request leaves the server."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, world["url"], "dr.ada")
    page.goto(world["url"] + "/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 17
    assert page.get_by_text("/api/v1/patients/{patient_id}/visits").first.is_visible()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], \
        problems
    assert all(url.startswith(world["url"]) for url in requested), requested
    context.close()
