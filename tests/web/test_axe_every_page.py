"""axe-core on every page of the web app, the clinician's and the patient's, in English and in
Spanish, on a phone and on a desktop: no violation of any impact (minor and moderate too).

Pages are reached as a user reaches them (signed in, with a patient who has visits, an open
alert, a loaded licensed questionnaire and an exercise log), and the pages only a form leads
to (the emergency page, a questionnaire's thanks, the invitation link) are reached by filling
in the form. Every page's violations are collected before the test fails, so one run lists
them all. The one page left out is ``/docs``: Swagger UI, a third party's page for staff.

``make screenshots`` also runs this file: it writes the first page of the visit report's PDF
as a PNG (docs/screenshots/report-pdf.png), drawn by pypdfium2 from the PDF the app serves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinecare.app import create_app
from spinecare.http.contacts import ClinicContacts
from spinecare.http.settings import Settings
from spinecare.service import instrument_texts, visits
from spinecare.store import accounts
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from tests.web.helpers import (
    CASES,
    PASSWORD,
    SECRET,
    Server,
    add_clinician,
    add_patient,
    add_three_visits,
    licensed_text,
)
from tests.web.test_browser import (
    AXE,
    DESKTOP,
    NEEDS_BROWSER,
    PHONE,
    invitation_link,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER

CLINIC = ClinicContacts(name="Riverside Spine Clinic", phone="01632 960000",
                        emergency_number="999")
SIZES = {"phone": PHONE, "desktop": DESKTOP}
LOCALES = {"en": "en-GB", "es": "es-ES"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("axe-every-page")
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp,
                              testing=True, clinic=CLINIC), db)
    doc = add_clinician(db, "dr.axe")
    pid = add_patient(db, doc, "Rosa Marín", 1950)
    add_three_visits(db, doc, pid)
    # An urgent visit through the use case raises an open alert on the care team.
    visit, _ = visits.create(db, Principal(doc, "clinician"), pid,
                             (CASES / "dcm-moderate.case.json").read_bytes())
    instrument_texts.load(db, None, licensed_text("odi"), "the axe test")
    with db.session() as session:
        accounts.create_user(session, "root.axe", "admin", PASSWORD)
    with Server(app) as server:
        yield {"url": server.url, "db": db, "doc": doc, "pid": pid, "visit": visit.id}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))""")
    return found


class Audit:
    """Every page's violations, gathered, so that one failure lists them all."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Any, name: str) -> None:
        self.pages.append(name)
        for v in axe_violations(page):
            self.failures.append(f"{name} [{page.url}]: {v['id']} ({v['impact']}) {v['help']}: "
                                 f"{v['nodes']}")


def sign_in(page: Any, url: str, username: str, lands: str = "/patients") -> None:
    """Sign in by the fields' ids: their labels are in the page's language."""
    page.goto(f"{url}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(f".*{lands}$"))


def context(browser: Any, size: str, language: str) -> Any:
    # The app's CSP forbids inline scripts; axe is injected by the test, so bypass it here.
    ctx = browser.new_context(viewport=SIZES[size], bypass_csp=True, locale=LOCALES[language],
                              is_mobile=size == "phone", has_touch=size == "phone")
    ctx.set_default_timeout(15_000)
    return ctx


def clinician_pages(browser: Any, world: dict[str, Any], size: str, language: str,
                    audit: Audit) -> None:
    url, pid, vid = world["url"], world["pid"], world["visit"]
    ctx = context(browser, size, language)
    page = ctx.new_page()
    tag = f"{language}/{size}"
    for path in ("/login", "/reset-password", "/invite", "/signin", "/signin/sent",
                 "/no/such/page"):
        page.goto(url + path)
        audit.check(page, f"{tag} signed out {path}")
    sign_in(page, url, "dr.axe")
    alert = re.search(r'href="(/alerts/[0-9a-f]+)"', page.goto(url + "/alerts").text())
    assert alert is not None
    for path in ("/patients", "/patients?alerts=1&sort=name", "/patients/new",
                 f"/patients/{pid}", f"/patients/{pid}/visits/new",
                 f"/patients/{pid}/visits/{vid}", f"/patients/{pid}/visits/{vid}/plan",
                 "/alerts", alert.group(1), "/articles", "/articles/lumbar_spinal_stenosis",
                 f"/patients/{pid}/care-team", f"/patients/{pid}/care-team/remove?username=dr.axe",
                 f"/patients/{pid}/end-access", "/no/such/page"):
        page.goto(url + path)
        audit.check(page, f"{tag} clinician {path}")
    # The preview after the script has drawn it: "not enough information yet".
    page.goto(f"{url}/patients/{pid}/visits/new")
    page.locator("#preview [data-triage]").wait_for()
    audit.check(page, f"{tag} clinician visit form with its preview")
    # Pages a form leads to: a refused identity edit, the invitation link.
    page.goto(f"{url}/patients/{pid}")
    page.locator("#details summary").click()
    page.locator("#id-phone").fill("12")  # the browser lets it through; the server does not
    page.locator("#details").get_by_role("button").click()
    page.locator(".identity-form [aria-invalid=true]").wait_for()
    audit.check(page, f"{tag} clinician identity refused")
    page.goto(f"{url}/patients/{pid}")
    page.locator("form[action$='/invitations'] button").click()
    page.wait_for_load_state()
    audit.check(page, f"{tag} clinician invitation link")
    ctx.close()
    # The administrator's accounts page and one of its confirmation pages.
    ctx = context(browser, size, language)
    page = ctx.new_page()
    sign_in(page, url, "root.axe", "/admin/users")
    for path in ("/admin/users", f"/admin/users/{world['doc']}/disable"):
        page.goto(url + path)
        audit.check(page, f"{tag} admin {path}")
    ctx.close()


def patient_pages(browser: Any, world: dict[str, Any], size: str, language: str,
                  audit: Audit) -> None:
    db, url = world["db"], world["url"]
    ctx = context(browser, size, language)
    page = ctx.new_page()
    tag = f"{language}/{size}"
    page.goto(invitation_link(db, url, world["doc"], world["pid"]))
    page.wait_for_url(re.compile(r".*/my$"))
    audit.check(page, f"{tag} patient /my")
    for path in ("/my/exercises", "/my/questionnaires/pain_nrs", "/my/questionnaires/odi",
                 "/my/intake", "/my/passkeys", "/articles", "/no/such/page"):
        page.goto(url + path)
        audit.check(page, f"{tag} patient {path}")
    # A blank questionnaire refused, then answered.
    page.goto(url + "/my/questionnaires/pain_nrs")
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_load_state()
    audit.check(page, f"{tag} patient questionnaire refused")
    page.locator("fieldset.question input[type=radio]").first.check()
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_load_state()
    audit.check(page, f"{tag} patient questionnaire thanks")
    # The intake: its first question, then the emergency page and the home after it.
    page.goto(url + "/my/intake")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    audit.check(page, f"{tag} patient intake question")
    for value in ("normal", "no", "yes"):  # bladder as usual, bowels as usual, saddle numbness
        page.locator(f"input[name=answer][value={value}]").check()
        page.locator("button[name=action][value=answer]").click()
        page.wait_for_load_state()
    page.locator("a[href='tel:999']").first.wait_for()
    audit.check(page, f"{tag} patient emergency page")
    page.goto(url + "/my")
    page.locator("section.advice").first.wait_for()
    audit.check(page, f"{tag} patient home after the emergency")
    page.goto(url + "/my/exercises")
    audit.check(page, f"{tag} patient exercises while the emergency is open")
    ctx.close()


@pytest.mark.parametrize("language", list(LOCALES))
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_has_no_axe_violation_of_any_impact(browser: Any, world: dict[str, Any],
                                                       size: str, language: str) -> None:
    audit = Audit()
    clinician_pages(browser, world, size, language, audit)
    patient_pages(browser, world, size, language, audit)
    assert len(audit.pages) >= 25
    assert not audit.failures, "\n".join(audit.failures)


def test_the_report_pdf_first_page_is_drawn(world: dict[str, Any], browser: Any,
                                            tmp_path: Path) -> None:
    """The PDF as a user downloads it, its first page drawn to PNG: the README's picture."""
    pdfium = pytest.importorskip("pypdfium2")
    ctx = context(browser, "desktop", "en")
    page = ctx.new_page()
    sign_in(page, world["url"], "dr.axe")
    response = page.request.get(
        f"{world['url']}/patients/{world['pid']}/visits/{world['visit']}/report.pdf")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    body = response.body()
    ctx.close()
    pdf = pdfium.PdfDocument(body)
    try:
        assert "Riverside Spine Clinic" in pdf[0].get_textpage().get_text_range()
        image = pdf[0].render(scale=1.5).to_pil()
    finally:
        pdf.close()
    target = tmp_path / "report-pdf.png"
    image.save(target)
    extra = os.environ.get("SPINECARE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        image.save(Path(extra) / "report-pdf.png", optimize=True)
    darkest, lightest = image.convert("L").getextrema()
    assert image.width > image.height * 0.6 and lightest - darkest > 150
