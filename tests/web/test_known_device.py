"""A known device: a browser that signed in to an account gets a signed cookie which lets it
through that account's lock from everywhere (the one lock an attacker can put on the real
user), while the lock of the account from that browser's address still holds. A cookie of
another account, a forged one and none at all give no way through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinecare.app import create_app
from spinecare.http.devices import DEVICE_COOKIE, device_cookie, known_device
from spinecare.http.settings import Settings
from spinecare.service import auth
from spinecare.service.errors import NotAuthenticated, Throttled
from spinecare.store.db import Database
from spinecare.store.throttle import ThrottlePolicy
from tests.web.helpers import PASSWORD, SECRET, add_clinician, csrf_of

# Small numbers and long locks, so that a lock cannot run out while the test looks at it.
POLICY = ThrottlePolicy(pair_free=2, address_free=1000, account_free=3,
                        first_delay=timedelta(minutes=5), account_max=timedelta(minutes=10))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Database]]:
    tmp = tmp_path_factory.mktemp("known-device")
    db = Database(f"sqlite:///{tmp / 'web.db'}")
    app = create_app(Settings(database_url=db.url, secret_key=SECRET, data_dir=tmp,
                              testing=True, login_throttle=POLICY), db)
    yield app, db
    db.dispose()


def browser(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    page = client.get("/login")
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": csrf_of(page.text)})
    return r.status_code


def lock_from_everywhere(db: Database, username: str) -> None:
    """Wrong passwords from many addresses (one each), until the account is locked."""
    for n in range(POLICY.account_free + 1):
        with suppress(NotAuthenticated):
            asyncio.run(auth.login(db, username, "wrong password", timedelta(hours=1),
                                   address=f"203.0.113.{n + 1}", policy=POLICY))
    with pytest.raises(Throttled):
        asyncio.run(auth.login(db, username, PASSWORD, timedelta(hours=1),
                               address="203.0.113.200", policy=POLICY))


def test_a_known_browser_signs_in_while_the_account_is_locked_from_everywhere(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    add_clinician(db, "dr.kim")
    with browser(app, "198.51.100.7") as known, browser(app, "198.51.100.8") as unknown:
        assert sign_in(known, "dr.kim") == 303
        cookie = known.cookies.get(DEVICE_COOKIE)
        assert cookie and known_device(SECRET, cookie, "DR.KIM") is not None
        lock_from_everywhere(db, "dr.kim")
        # Without the cookie, the real password waits like anyone's.
        assert sign_in(unknown, "dr.kim") == 429
        # The browser that signed in before gets through.
        assert sign_in(known, "dr.kim") == 303
        assert known.get("/patients").status_code == 200
        # Its success did not lift the lock for everyone else.
        assert sign_in(unknown, "dr.kim") == 429


def test_a_known_browser_is_still_locked_for_its_own_wrong_passwords(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    add_clinician(db, "dr.lou")
    with browser(app, "198.51.100.9") as known:
        assert sign_in(known, "dr.lou") == 303
        for _ in range(POLICY.pair_free + 1):
            assert sign_in(known, "dr.lou", "not the password") == 401
        assert sign_in(known, "dr.lou") == 429


def test_a_cookie_of_another_account_or_a_forged_one_gives_no_way_through(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    add_clinician(db, "dr.max")
    add_clinician(db, "dr.ned")
    lock_from_everywhere(db, "dr.max")
    forged = device_cookie("another-secret-" + "z" * 40, "dr.max")
    tampered = device_cookie(SECRET, "dr.max")[:-2] + "xx"
    for n, cookie in enumerate((device_cookie(SECRET, "dr.ned"), forged, tampered)):
        with browser(app, f"198.51.100.{20 + n}") as other:
            other.cookies.set(DEVICE_COOKIE, cookie)
            assert sign_in(other, "dr.max") == 429, n
    assert known_device(SECRET, device_cookie(SECRET, "dr.ned"), "dr.max") is None
    assert known_device(SECRET, "x" * 600, "dr.max") is None
