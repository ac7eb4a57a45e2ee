"""Passkeys in a real browser (Debian's chromium through Playwright) with Chromium's virtual
authenticator (over the DevTools protocol: a platform authenticator that keeps discoverable
credentials and verifies its user), against a live server reached at http://localhost:PORT
(a host name: browsers refuse an IP address as a passkey's relying party):

- an invited patient adds a passkey, signs out, and signs in again with the passkey only;
- a removed passkey, or one of a patient whose access the clinician ended, no longer signs in,
  and the clinician's care team page counts the patient's passkeys;
- an assertion sent twice (the same challenge) signs in once, and the second is refused;
- axe-core finds no violation on the passkey pages, on a phone and on a desktop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, Passkey
from tests.web.helpers import SECRET, Server, add_clinician, add_patient
from tests.web.test_alerts_browser import no_violations
from tests.web.test_browser import DESKTOP, NEEDS_BROWSER, PHONE, invitation_link, new_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("passkeys-browser")
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    settings = Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp, testing=True)
    app = create_app(settings, db)
    doc = add_clinician(db, "dr.ada")
    with Server(app) as server:
        # The server listens on 127.0.0.1; the browser reaches it by name.
        url = server.url.replace("127.0.0.1", "localhost")
        yield {"url": url, "db": db, "doc": doc}


def device_page(browser: Any, viewport: dict[str, int]) -> Any:
    """A page whose browser has a phone's own authenticator (a virtual one)."""
    page = new_page(browser, viewport)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    page.passkey_device = (cdp, found["authenticatorId"])
    return page


def stored_credentials(page: Any) -> list[dict[str, Any]]:
    cdp, authenticator = page.passkey_device
    listed: list[dict[str, Any]] = cdp.send("WebAuthn.getCredentials",
                                            {"authenticatorId": authenticator})["credentials"]
    return listed


def invited(page: Any, world: dict[str, Any], name: str) -> str:
    pid = add_patient(world["db"], world["doc"], name, 1948)
    page.goto(invitation_link(world["db"], world["url"], world["doc"], pid))
    page.wait_for_url(re.compile(r".*/my$"))
    return pid


def add_a_passkey(page: Any, name: str) -> None:
    page.get_by_role("link", name="Use a passkey on this phone next time").click()
    page.wait_for_url(re.compile(r".*/my/passkeys$"))
    page.get_by_label("A name for this passkey").fill(name)
    page.get_by_role("button", name="Add a passkey on this device").click()
    page.wait_for_url(re.compile(r".*/my/passkeys\?done=added$"))


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="You are signed out").wait_for()


def sign_in_with_passkey(page: Any) -> None:
    page.get_by_role("link", name="Sign in again").click()
    page.wait_for_url(re.compile(r".*/signin\?form=.*"))
    page.get_by_role("button", name="Sign in with a passkey").click()


def audits(db: Database, action: str, outcome: str) -> int:
    with db.session(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == outcome)) or 0)


def test_an_invited_patient_adds_a_passkey_and_signs_in_with_it_alone(
        browser: Any, world: dict[str, Any]) -> None:
    db = world["db"]
    page = device_page(browser, PHONE)
    invited(page, world, "Pia Passkey")
    add_a_passkey(page, "Pia's phone")
    assert page.locator("#passkey-done").is_visible()
    assert page.locator("#passkey-list tbody tr").count() == 1
    assert "Pia's phone" in page.locator("#passkey-list").inner_text()
    no_violations(page, "passkeys-phone")
    # The passkey is discoverable: the device keeps it, under a random user handle.
    (kept,) = stored_credentials(page)
    assert kept["isResidentCredential"] and kept["rpId"] == "localhost"
    with db.session(read_only=True) as session:
        row = session.scalar(select(Passkey).order_by(Passkey.id.desc()).limit(1))
    assert row is not None and "internal" in (row.transports or "")
    assert row.user_handle.rstrip("=") == \
        kept["userHandle"].replace("+", "-").replace("/", "_").rstrip("=")

    signed_in_before = audits(db, "auth.passkey", "ok")
    sign_out(page)
    sign_in_with_passkey(page)
    page.wait_for_url(re.compile(r".*/my$"))
    assert page.get_by_role("heading", name="Hello, Pia Passkey").is_visible()
    assert audits(db, "auth.passkey", "ok") == signed_in_before + 1
    page.goto(world["url"] + "/my/passkeys")
    assert "Not yet" not in page.locator("#passkey-list").inner_text()
    page.context.close()


def test_the_sign_in_page_offers_a_passkey_beside_the_email_link_and_is_axe_clean(
        browser: Any, world: dict[str, Any]) -> None:
    page = device_page(browser, DESKTOP)
    page.goto(world["url"] + "/signin")
    assert page.get_by_role("button", name="Sign in with a passkey").is_visible()
    assert page.get_by_role("button", name="Send me a sign-in link").is_visible()
    # the note for browsers without JavaScript is hidden once the script runs
    assert not page.locator("[data-passkey-note]").is_visible()
    no_violations(page, "signin-with-passkey-desktop")
    page.context.close()


def test_a_removed_passkey_no_longer_signs_in(browser: Any, world: dict[str, Any]) -> None:
    page = device_page(browser, PHONE)
    invited(page, world, "Remy Removed")
    add_a_passkey(page, "Old phone")
    page.get_by_role("button", name="Remove Old phone").click()
    page.wait_for_url(re.compile(r".*/my/passkeys\?done=removed$"))
    assert page.locator("#no-passkeys").is_visible()
    sign_out(page)
    # The device still offers its passkey; the site no longer knows it.
    sign_in_with_passkey(page)
    error = page.locator("#passkey-error")
    error.wait_for()
    assert "not known here" in error.inner_text()
    assert "/my" not in page.url
    no_violations(page, "signin-passkey-refused-phone")
    page.context.close()


def test_ending_access_removes_the_patients_passkeys_and_they_no_longer_sign_in(
        browser: Any, world: dict[str, Any]) -> None:
    from tests.web.test_browser import sign_in

    patient = device_page(browser, PHONE)
    pid = invited(patient, world, "Enzo Ended")
    add_a_passkey(patient, "Enzo's phone")

    clinician = new_page(browser, DESKTOP)
    sign_in(clinician, world["url"], "dr.ada")
    clinician.goto(f"{world['url']}/patients/{pid}/care-team")
    assert clinician.locator("#passkey-count").inner_text() == \
        "The patient has 1 passkey to sign in with."
    clinician.goto(f"{world['url']}/patients/{pid}/end-access")
    clinician.get_by_role("button", name="Yes, end the patient's access").click()
    clinician.wait_for_url(re.compile(r".*/care-team\?done=ended$"))
    assert "passkeys are removed" in clinician.locator("#access-done").inner_text()
    assert "no passkey" in clinician.locator("#passkey-count").inner_text()
    clinician.context.close()

    # The patient's session ended with their access; their device still holds the passkey.
    patient.goto(world["url"] + "/my")
    patient.wait_for_url(re.compile(r".*/signin\?form=.*"))
    patient.get_by_role("button", name="Sign in with a passkey").click()
    patient.locator("#passkey-error").wait_for()
    assert "/my" not in patient.url
    patient.context.close()


def test_an_assertion_sent_twice_signs_in_once(browser: Any, world: dict[str, Any]) -> None:
    page = device_page(browser, PHONE)
    invited(page, world, "Rex Replay")
    add_a_passkey(page, "Rex's phone")
    sign_out(page)
    answers: list[Any] = []

    def twice(route: Any) -> None:
        # The browser's one answer, sent to the server twice: the first signs in, the copy
        # (the same challenge, the same signature) is refused; the page shows the copy's.
        first = route.fetch(max_redirects=0)
        second = route.fetch(max_redirects=0)
        answers.extend([first, second])
        route.fulfill(response=second)

    page.route("**/signin/passkey", twice)
    sign_in_with_passkey(page)
    page.locator("#passkey-error").wait_for()
    first, second = answers
    assert first.status == 303 and first.headers["location"] == "/my"
    assert second.status == 401
    assert "took too long, or the page was sent twice" in page.locator(
        "#passkey-error").inner_text()
    page.context.close()
