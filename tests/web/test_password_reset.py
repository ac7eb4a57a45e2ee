"""The page of a one-time password reset link, over HTTP: the new password is set once, a
mismatch or a short password is explained, a used link is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.service import access
from spinecare.store.db import Database
from tests.web.helpers import add_clinician, csrf_of, form_fields, make_app


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database]:
    return make_app(tmp_path_factory.mktemp("reset"))


def _post(client: TestClient, **fields: str) -> tuple[int, str]:
    page = client.get("/reset-password")
    assert page.status_code == 200
    r = client.post("/reset-password",
                    data={**form_fields(page.text, "/reset-password"), **fields})
    return r.status_code, r.text


def test_a_reset_link_sets_the_password_once(built: tuple[FastAPI, Database]) -> None:
    app, db = built
    user_id = add_clinician(db, "forgetful")
    token = access.start_password_reset(db, None, user_id, timedelta(hours=1)).token
    new = "a brand new password"
    with TestClient(app) as client:
        page = client.get("/reset-password")
        assert 'src="/static/reset.js"' in page.text and 'id="token"' in page.text
        assert _post(client, token=token, password=new, again=new + "x")[0] == 422
        status, text = _post(client, token=token, password="short", again="short")
        assert status == 422 and "at least 12 characters" in text
        status, text = _post(client, token=token, password=new, again=new)
        assert status == 200 and "Password changed" in text
        status, text = _post(client, token=token, password=new, again=new)
        assert status == 401 and "This link does not work" in text
        login = client.get("/login")
        r = client.post("/login", data={"username": "forgetful", "password": new,
                                        "csrf_token": csrf_of(login.text)})
        assert r.url.path == "/patients"
