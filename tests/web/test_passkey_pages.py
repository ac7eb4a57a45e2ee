"""The passkey pages over HTTP, answered by a software authenticator (no browser): a patient
adds a passkey and signs in with it with the same session cookie and lifetime as an e-mailed
link; at an IP address the pages offer only the e-mail link; refusals are pages in plain
words; the relying party comes from the setting when one is given."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.app import create_app
from spinecare.http.settings import Settings
from spinecare.store import accounts
from spinecare.store.db import Database
from spinecare.web import mount
from spinecare.web.pages import SESSION_COOKIE
from tests.store.authenticator import Authenticator
from tests.web.helpers import SECRET, add_clinician, add_patient, csrf_of, make_app

ORIGIN = "http://testserver"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Database]]:
    app, db = make_app(tmp_path_factory.mktemp("passkey-pages"))
    yield app, db
    db.dispose()


def invited_patient(app: FastAPI, db: Database, name: str,
                    base_url: str = ORIGIN) -> TestClient:
    doc = add_clinician(db, "dr." + name.split()[0].lower())
    pid = add_patient(db, doc, name, 1950)
    with db.session() as session:
        token, _ = accounts.create_invitation(session, SECRET, pid, doc, timedelta(days=7))
    client = TestClient(app, follow_redirects=False, base_url=base_url)
    form = client.get("/invite")
    assert client.post("/invite", data={"code": token, "csrf_token": csrf_of(form.text)}) \
        .headers["location"] == "/my"
    return client


def options_of(page: str, form_id: str) -> str:
    found = re.search(rf'id="{form_id}"[^>]*data-options="([^"]+)"', page)
    assert found, f"no passkey options on the page ({form_id})"
    return html.unescape(found.group(1))


def signin_page(client: TestClient) -> str:
    first = client.get("/signin")
    assert first.status_code == 303  # to the page with its one-time form token
    page = client.get(first.headers["location"])
    assert page.status_code == 200
    return page.text


def test_a_patient_adds_a_passkey_and_signs_in_with_it_for_thirty_days(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    device = Authenticator()
    with invited_patient(app, db, "Paula Pages") as client:
        home = client.get("/my").text
        assert 'href="/my/passkeys"' in home
        page = client.get("/my/passkeys").text
        assert "You have no passkey yet" in page
        options = json.loads(options_of(page, "passkey-add"))
        assert options["rp"]["id"] == "testserver"
        assert options["authenticatorSelection"]["residentKey"] == "preferred"
        assert options["authenticatorSelection"]["userVerification"] == "preferred"
        added = client.post("/my/passkeys", data={
            "csrf_token": csrf_of(page), "name": "Kitchen tablet",
            "credential": device.create(options_of(page, "passkey-add"), ORIGIN)})
        assert added.status_code == 303
        assert added.headers["location"] == "/my/passkeys?done=added"
        listed = client.get(added.headers["location"]).text
        assert "Kitchen tablet" in listed and "Your passkey was added" in listed
        client.post("/logout", data={"csrf_token": csrf_of(listed)})
        client.cookies.clear()

        page = signin_page(client)
        assert "Send me a sign-in link" in page  # the e-mail link stays
        answer = device.get(options_of(page, "passkey-signin"), ORIGIN)
        signed = client.post("/signin/passkey",
                             data={"csrf_token": csrf_of(page), "credential": answer})
        assert signed.status_code == 303 and signed.headers["location"] == "/my"
        cookie = signed.headers["set-cookie"]
        assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
        assert f"Max-Age={30 * 24 * 3600}" in cookie
        assert client.get("/my").status_code == 200


def test_a_passkey_page_at_an_ip_address_offers_the_email_link_only(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    with invited_patient(app, db, "Ivy Address", base_url="http://127.0.0.1:8000") as client:
        page = client.get("/my/passkeys").text
        assert "data-options" not in page
        assert "not by a number address" in page
        client.cookies.clear()
        page = signin_page(client)
        assert "Sign in with a passkey" not in page and "data-options" not in page
        assert "Send me a sign-in link" in page
        # An answer sent there anyway is refused in words, not silently.
        refused = client.post("/signin/passkey", data={"csrf_token": csrf_of(page),
                                                       "credential": "{}"})
        assert refused.status_code == 401 and "not by a number address" in refused.text


def test_a_garbled_or_missing_passkey_answer_gets_plain_words(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    with TestClient(app, follow_redirects=False, base_url=ORIGIN) as anonymous:
        page = signin_page(anonymous)
        refused = anonymous.post("/signin/passkey", data={"csrf_token": csrf_of(page),
                                                          "credential": '{"id": '})
        assert refused.status_code == 401
        assert "The passkey could not be checked" in refused.text
        assert "Traceback" not in refused.text and SESSION_COOKIE not in \
            refused.headers.get("set-cookie", "")
        # The page comes back with a new challenge, ready for another try.
        assert options_of(refused.text, "passkey-signin") != options_of(page, "passkey-signin")
    with invited_patient(app, db, "Mona Missing") as client:
        page = client.get("/my/passkeys").text
        empty = client.post("/my/passkeys", data={"csrf_token": csrf_of(page),
                                                  "credential": ""})
        assert empty.status_code == 422 and "cannot use passkeys" in empty.text
        bad = client.post("/my/passkeys", data={"csrf_token": csrf_of(page),
                                                "credential": "[]"})
        assert bad.status_code == 422 and "could not be checked" in bad.text


def test_the_pages_of_a_spanish_speaker_say_it_in_spanish(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    with invited_patient(app, db, "Sol Idioma") as client:
        page = client.get("/my/passkeys?lang=es").text
        assert "Sus llaves de acceso" in page
        assert "Añadir una llave de acceso en este aparato" in page


def test_the_relying_party_is_the_configured_one(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'web.db'}")
    settings = Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp_path,
                        testing=True, passkey_rp_id="clinic.example")
    app = create_app(settings, db)
    mount(app)
    with TestClient(app, follow_redirects=False, base_url="https://app.clinic.example") as c:
        options = json.loads(options_of(signin_page(c), "passkey-signin"))
    assert options["rpId"] == "clinic.example"
    db.dispose()
