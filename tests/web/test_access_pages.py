"""Taking access away from the web pages, over HTTP: a clinician takes a colleague off a care
team, cancels an invitation link and ends a patient's access; an admin disables, enables and
signs out accounts and makes reset links. Each change needs its confirmation page's form (with
the session's CSRF token), is audited, and is refused to whoever may not make it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.service import invitations
from spinecare.store import accounts, records
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent
from tests.web.helpers import (
    PASSWORD,
    SECRET,
    add_clinician,
    add_patient,
    csrf_of,
    form_fields,
    make_app,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Database]]:
    app, db = make_app(tmp_path_factory.mktemp("access-pages"))
    yield app, db
    db.dispose()


def signed_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return client


def confirm(client: TestClient, address: str) -> tuple[str, dict[str, str]]:
    """The confirmation page's form: where it posts and its fields (CSRF token included)."""
    page = client.get(address)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)" class="stack" id="confirm-form">',
                       page.text)
    assert action, "the confirmation page has no form"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             page.text.split(action.group(0), 1)[1].split("</form>")[0]))
    return action.group(1), fields


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_clinician_takes_a_colleague_off_the_care_team_after_confirming(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    ada, ben = add_clinician(db, "dr.ada"), add_clinician(db, "dr.ben")
    pid = add_patient(db, ada, "Ruth Ellis", 1950)
    with db.session() as session:
        assert records.add_to_care_team(session, pid, "dr.ben")
    with signed_in(app, "dr.ada") as client, signed_in(app, "dr.ben") as colleague:
        assert colleague.get(f"/patients/{pid}").status_code == 200
        patient_page = client.get(f"/patients/{pid}").text
        assert "Care team and access" in patient_page
        assert f'action="/patients/{pid}/care-team/remove"' in patient_page
        action, fields = confirm(client, f"/patients/{pid}/care-team/remove?username=dr.ben")
        assert fields["username"] == "dr.ben"
        # Without the session's CSRF token nothing changes.
        forged = client.post(action, data={"username": "dr.ben", "csrf_token": "x" * 64})
        assert forged.status_code == 403
        assert colleague.get(f"/patients/{pid}").status_code == 200
        done = client.post(action, data=fields)
        assert (done.status_code, done.headers["location"]) == \
            (303, f"/patients/{pid}/care-team?done=removed")
        page = client.get(done.headers["location"]).text
        assert "They no longer see this patient" in page and "dr.ben" not in page
        assert colleague.get(f"/patients/{pid}").status_code == 404
        assert any(e.patient_id == pid and e.target_id == str(ben) and e.outcome == "ok"
                   for e in events(db, "care_team.remove"))
        # The last clinician stays, with a plain reason.
        again = client.post(action, data={**fields, "username": "dr.ada"})
        assert again.status_code == 409 and "keeps at least one clinician" in again.text
        # Added back from the same page.
        added = client.post(f"/patients/{pid}/care-team",
                            data={"username": "DR.BEN", "csrf_token": fields["csrf_token"]})
        assert added.headers["location"] == f"/patients/{pid}/care-team?done=added"
        assert colleague.get(f"/patients/{pid}").status_code == 200
        unknown = client.post(f"/patients/{pid}/care-team",
                              data={"username": "nobody", "csrf_token": fields["csrf_token"]})
        assert unknown.status_code == 422 and "no active clinician" in unknown.text


def test_a_clinician_outside_the_team_cannot_reach_the_buttons(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    cara = add_clinician(db, "dr.cara")
    add_clinician(db, "dr.dan")
    pid = add_patient(db, cara, "Sam Ward", 1947)
    with signed_in(app, "dr.dan") as outsider, signed_in(app, "dr.cara") as owner:
        token = csrf_of(outsider.get("/patients").text)
        for address in (f"/patients/{pid}/care-team",
                        f"/patients/{pid}/care-team/remove?username=dr.cara",
                        f"/patients/{pid}/end-access"):
            r = outsider.get(address)
            assert r.status_code == 404 and "Patient not found" in r.text, address
        for address, data in ((f"/patients/{pid}/care-team/remove", {"username": "dr.cara"}),
                              (f"/patients/{pid}/end-access", {}),
                              (f"/patients/{pid}/invitations/cancel", {"id": "0" * 32})):
            r = outsider.post(address, data={**data, "csrf_token": token})
            assert r.status_code == 404, address
        assert owner.get(f"/patients/{pid}").status_code == 200
        # A name not on the team has no confirmation page.
        assert owner.get(f"/patients/{pid}/care-team/remove?username=dr.dan").status_code \
            == 404


def test_a_cancelled_invitation_link_no_longer_signs_the_patient_in(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    eve = add_clinician(db, "dr.eve")
    pid = add_patient(db, eve, "Iris Long", 1944)
    with signed_in(app, "dr.eve") as client:
        first = client.post(f"/patients/{pid}/invitations", data=form_fields(
            client.get(f"/patients/{pid}").text, f"/patients/{pid}/invitations"))
        assert first.status_code == 303  # to the new link's page
        from spinecare.store.accounts import principal_of
        from spinecare.store.lifecycle import get_user

        with db.session(read_only=True) as session:
            who = principal_of(get_user(session, eve))  # type: ignore[arg-type]
        invitation = invitations.create(db, who, pid, secret_key=SECRET,
                                        ttl=timedelta(days=7))
        page = client.get(f"/patients/{pid}/care-team").text
        # Making a new link cancelled the older one: only the newest is listed.
        assert page.count('name="id" value=') == 1 and invitation.id in page
        action, fields = confirm(client, f"/patients/{pid}/invitations/cancel?id="
                                         + invitation.id)
        assert client.post(action, data=fields).headers["location"] == \
            f"/patients/{pid}/care-team?done=cancelled"
        assert 'id="no-invitations"' in client.get(f"/patients/{pid}/care-team").text
        assert client.post(action, data=fields).status_code == 404  # already cancelled
        assert client.get(f"/patients/{pid}/invitations/cancel?id="
                          + invitation.id).status_code == 404
    with TestClient(app, follow_redirects=False) as patient:
        form = patient.get("/invite")
        r = patient.post("/invite", data={"code": invitation.token,
                                          "csrf_token": csrf_of(form.text)})
        assert r.status_code == 401


def test_ending_a_patients_access_signs_them_out_at_once(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    fay = add_clinician(db, "dr.fay")
    pid = add_patient(db, fay, "Olive Pike", 1949)
    with db.session() as session:
        token, _ = accounts.create_invitation(session, SECRET, pid, fay, timedelta(days=7))
    with TestClient(app, follow_redirects=False) as patient, \
            signed_in(app, "dr.fay") as client:
        form = patient.get("/invite")
        r = patient.post("/invite", data={"code": token, "csrf_token": csrf_of(form.text)})
        assert r.headers["location"] == "/my"
        assert patient.get("/my").status_code == 200
        action, fields = confirm(client, f"/patients/{pid}/end-access")
        assert "signed out everywhere" in client.get(f"/patients/{pid}/end-access").text
        assert client.post(action, data=fields).headers["location"] == \
            f"/patients/{pid}/care-team?done=ended"
        # Signed out: the patient's pages lead to the e-mail sign-in.
        gone = patient.get("/my")
        assert gone.status_code == 303 and gone.headers["location"] == "/signin"
        assert any(e.patient_id == pid for e in events(db, "patient.end_access"))


def test_an_admin_disables_enables_and_signs_out_an_account(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    with db.session() as session:
        root = accounts.create_user(session, "root", "admin", PASSWORD).id
    gus = add_clinician(db, "dr.gus")
    with signed_in(app, "root") as admin, signed_in(app, "dr.gus") as clinician:
        # An admin's start page is the accounts, not the clinicians' worklist.
        assert admin.get("/patients").headers["location"] == "/admin/users"
        page = admin.get("/admin/users")
        assert page.status_code == 200 and 'data-username="dr.gus"' in page.text
        # No button disables one's own account, and the form is refused too.
        assert f'href="/admin/users/{root}/disable"' not in page.text
        action, fields = confirm(admin, f"/admin/users/{root}/disable")
        refused = admin.post(action, data=fields)
        assert refused.status_code == 409 and "your own account" in refused.text

        action, fields = confirm(admin, f"/admin/users/{gus}/disable")
        assert admin.post(action, data={"csrf_token": "forged"}).status_code == 403
        assert clinician.get("/patients").status_code == 200
        r = admin.post(action, data=fields)
        assert r.headers["location"] == f"/admin/users?done=disabled#user-{gus}"
        assert "cannot sign in" in admin.get(r.headers["location"]).text
        assert clinician.get("/patients").headers["location"] == "/login"
        with pytest.raises(AssertionError):
            signed_in(app, "dr.gus")

        action, fields = confirm(admin, f"/admin/users/{gus}/enable")
        assert admin.post(action, data=fields).headers["location"].startswith(
            "/admin/users?done=enabled")
        with signed_in(app, "dr.gus") as again:
            assert again.get("/patients").status_code == 200
            action, fields = confirm(admin, f"/admin/users/{gus}/revoke-tokens")
            assert admin.post(action, data=fields).status_code == 303
            assert again.get("/patients").headers["location"] == "/login"
        done = {e.action for e in events(db, "user.disable") + events(db, "user.enable")
                + events(db, "user.revoke_tokens") if e.target_id == str(gus)}
        assert done == {"user.disable", "user.enable", "user.revoke_tokens"}


def test_an_admins_reset_link_is_shown_once_and_sets_a_new_password(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    with db.session() as session:
        accounts.create_user(session, "root2", "admin", PASSWORD)
    hal = add_clinician(db, "dr.hal")
    with signed_in(app, "root2") as admin:
        action, fields = confirm(admin, f"/admin/users/{hal}/password-reset")
        page = admin.post(action, data=fields)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        link = re.search(r'id="reset-link" class="wide" readonly value="([^"]+)"', page.text)
        assert link and "/reset-password#" in link.group(1)
    token = link.group(1).partition("#")[2]
    with TestClient(app) as client:
        form = client.get("/reset-password")
        new = "another long passphrase here"
        r = client.post("/reset-password", data={
            **form_fields(form.text, "/reset-password"), "token": token, "password": new,
            "again": new})
        assert r.status_code == 200 and "Password changed" in r.text


def test_the_accounts_pages_are_for_admins_only(built: tuple[FastAPI, Database]) -> None:
    app, db = built
    ivy = add_clinician(db, "dr.ivy")
    with signed_in(app, "dr.ivy") as clinician:
        assert clinician.get("/admin/users").status_code == 403
        assert clinician.get(f"/admin/users/{ivy}/disable").status_code == 403
        token = csrf_of(clinician.get("/patients").text)
        assert clinician.post(f"/admin/users/{ivy}/revoke-tokens",
                              data={"csrf_token": token}).status_code == 403
        assert clinician.get("/patients").status_code == 200  # still signed in
    with TestClient(app, follow_redirects=False) as anonymous:
        assert anonymous.get("/admin/users").headers["location"] == "/login"
    with db.session() as session:
        accounts.create_user(session, "root3", "admin", PASSWORD)
    with signed_in(app, "root3") as admin:
        for address in ("/admin/users/999999/disable", "/admin/users/x/disable",
                        f"/admin/users/{ivy}/delete", "/admin/users/99999999999999/enable",
                        "/admin/users/\uff11/enable"):
            assert admin.get(address).status_code == 404, address
