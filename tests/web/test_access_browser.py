"""Taking access away in a real browser (Debian's chromium through Playwright): a clinician
takes a colleague off a care team from the patient's page, through the confirmation page; an
admin signs in, lands on the accounts and disables one. axe-core finds no serious or critical
violation on the care team, confirmation and accounts pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinecare.store import accounts, records
from tests.web.helpers import PASSWORD, Server, add_clinician, add_patient, make_app
from tests.web.test_browser import DESKTOP, NEEDS_BROWSER, PHONE, check_page, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app, db = make_app(tmp_path_factory.mktemp("access-browser"))
    ada = add_clinician(db, "dr.ada")
    add_clinician(db, "dr.ben")
    pid = add_patient(db, ada, "Ruth Ellis", 1950)
    with db.session() as session:
        records.add_to_care_team(session, pid, "dr.ben")
        accounts.create_user(session, "root", "admin", PASSWORD)
    with Server(app) as server:
        yield {"url": server.url, "pid": pid}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access-screenshots")


def _sign_in(page: Any, url: str, username: str, lands: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(f".*{lands}$"))


def test_a_clinician_takes_a_colleague_off_the_team_from_the_patients_page(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, PHONE)
    _sign_in(page, world["url"], "dr.ada", "/patients")
    page.goto(f"{world['url']}/patients/{world['pid']}")
    card = page.locator("#care-team-card")
    card.get_by_role("button", name="Take dr.ben off the team").click()
    page.get_by_role("heading", name="Take dr.ben off the care team of Ruth Ellis?").wait_for()
    check_page(page, "care-team-confirm", shots)
    page.get_by_role("button", name="Yes, take dr.ben off the care team").click()
    page.wait_for_url(re.compile(r".*/care-team\?done=removed$"))
    assert "They no longer see this patient" in page.locator("#access-done").inner_text()
    assert page.locator("#care-team tbody tr").count() == 1
    check_page(page, "care-team", shots)
    page.context.close()


def test_an_admin_lands_on_the_accounts_and_disables_one(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = new_page(browser, DESKTOP)
    _sign_in(page, world["url"], "root", "/admin/users")
    check_page(page, "accounts", shots)
    page.get_by_role("link", name="Disable dr.ben").click()
    page.get_by_role("button", name="Yes, disable dr.ben").click()
    page.wait_for_url(re.compile(r".*/admin/users\?done=disabled#user-\d+$"))
    row = page.locator('tr[data-username="dr.ben"]')
    assert "disabled" in row.inner_text()
    assert row.get_by_role("link", name="Enable dr.ben").is_visible()
    check_page(page, "accounts-after-disable", shots)
    page.context.close()
