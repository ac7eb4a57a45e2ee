"""Taking access away (issue 13, part 3): every change holds from the very next request,
is audited, and refuses whoever may not make it. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from spinecare.store.db import Database
from tests.api.fixtures import PASSWORD, World, bearer, create_login, login, new_patient

API = "/api/v1"


def _user_id(client: TestClient, admin: str, username: str) -> int:
    r = client.get(f"{API}/admin/users", headers=bearer(admin), params={"limit": 500})
    assert r.status_code == 200, r.text
    (found,) = [u["id"] for u in r.json()["items"] if u["username"] == username]
    return int(found)


def _clinician(client: TestClient, db: Database) -> tuple[str, str]:
    name = f"c-{uuid.uuid4().hex[:8]}"
    create_login(db, name)
    return name, login(client, name)


def _audited(client: TestClient, admin: str, action: str) -> list[dict[str, object]]:
    r = client.get(f"{API}/audit", headers=bearer(admin), params={"limit": 500})
    total = r.json()["total"]
    r = client.get(f"{API}/audit", headers=bearer(admin),
                   params={"limit": 500, "offset": max(0, total - 500)})
    return [e for e in r.json()["items"] if e["action"] == action]


def test_a_disabled_clinician_is_refused_at_once_and_cannot_sign_in(
        client: TestClient, db: Database, world: World) -> None:
    name, token = _clinician(client, db)
    second = login(client, name)
    assert client.get(f"{API}/patients", headers=bearer(token)).status_code == 200
    user_id = _user_id(client, world.admin, name)

    r = client.post(f"{API}/admin/users/{user_id}/disable", headers=bearer(world.admin))
    assert r.status_code == 200, r.text
    assert r.json()["account"]["disabled"] is True
    assert r.json()["revoked_tokens"] == 2
    for t in (token, second):
        assert client.get(f"{API}/patients", headers=bearer(t)).status_code == 401
    r = client.post(f"{API}/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 401

    r = client.post(f"{API}/admin/users/{user_id}/enable", headers=bearer(world.admin))
    assert r.status_code == 200 and r.json()["account"]["disabled"] is False
    # Enabling does not bring back the sessions that were open.
    assert client.get(f"{API}/patients", headers=bearer(token)).status_code == 401
    fresh = login(client, name)
    assert client.get(f"{API}/patients", headers=bearer(fresh)).status_code == 200
    events = _audited(client, world.admin, "user.disable")
    assert any(e["target_id"] == str(user_id) and e["outcome"] == "ok" for e in events)
    assert any(e["target_id"] == str(user_id)
               for e in _audited(client, world.admin, "user.enable"))


def test_an_admin_cannot_disable_their_own_account(client: TestClient, db: Database,
                                                  world: World) -> None:
    name = f"a-{uuid.uuid4().hex[:8]}"
    create_login(db, name, "admin")
    token = login(client, name)
    user_id = _user_id(client, token, name)
    r = client.post(f"{API}/admin/users/{user_id}/disable", headers=bearer(token))
    assert r.status_code == 409
    assert r.json() == {"detail": "Admins cannot disable their own account"}
    assert client.get(f"{API}/admin/users", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path", ["disable", "enable", "revoke-tokens", "password-reset"])
def test_only_admins_change_accounts(client: TestClient, world: World, path: str) -> None:
    for token in (world.owner, world.patient):
        r = client.post(f"{API}/admin/users/1/{path}", headers=bearer(token))
        assert r.status_code == 403, r.text
        assert r.json() == {"detail": "Only admins can do this"}
    assert client.post(f"{API}/admin/users/1/{path}").status_code == 401
    r = client.post(f"{API}/admin/users/2147483647/{path}", headers=bearer(world.admin))
    assert r.status_code == 404 and r.json() == {"detail": "User not found"}
    r = client.post(f"{API}/admin/users/0/{path}", headers=bearer(world.admin))
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "user_id"


def test_revoking_a_users_tokens_ends_every_session_but_not_the_account(
        client: TestClient, db: Database, world: World) -> None:
    name, token = _clinician(client, db)
    user_id = _user_id(client, world.admin, name)
    r = client.post(f"{API}/admin/users/{user_id}/revoke-tokens", headers=bearer(world.admin))
    assert r.status_code == 200 and r.json() == {"revoked_tokens": 1}
    assert client.get(f"{API}/patients", headers=bearer(token)).status_code == 401
    assert client.get(f"{API}/patients", headers=bearer(login(client, name))).status_code == 200


def test_a_password_reset_link_works_once_and_ends_the_old_sessions(
        client: TestClient, db: Database, world: World) -> None:
    name, token = _clinician(client, db)
    user_id = _user_id(client, world.admin, name)
    r = client.post(f"{API}/admin/users/{user_id}/password-reset", headers=bearer(world.admin))
    assert r.status_code == 201, r.text
    reset = r.json()["token"]
    assert r.json()["link"].endswith(f"/reset-password#{reset}")

    r = client.post(f"{API}/auth/password-reset", json={"token": reset, "password": " " * 12})
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "password",
                                     "message": "the password must not be only spaces"}]
    assert "            " not in r.text
    new_password = "a new and long enough password"
    r = client.post(f"{API}/auth/password-reset", json={"token": reset, "password": new_password})
    assert r.status_code == 204, r.text
    assert client.get(f"{API}/patients", headers=bearer(token)).status_code == 401
    r = client.post(f"{API}/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 401
    r = client.post(f"{API}/auth/token", data={"username": name, "password": new_password})
    assert r.status_code == 200
    r = client.post(f"{API}/auth/password-reset",
                    json={"token": reset, "password": "another quite long passphrase 7"})
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid, expired or already used password reset link"}
    assert any(e["outcome"] == "denied"
               for e in _audited(client, world.admin, "auth.password_reset"))


# A password the policy accepts (long, and not a guessable pattern like "yyyy...").
STRONG = "purple otter juggles 41 lanterns"


def test_only_the_newest_password_reset_link_works(client: TestClient, db: Database,
                                                   world: World) -> None:
    name, _ = _clinician(client, db)
    user_id = _user_id(client, world.admin, name)
    links = [client.post(f"{API}/admin/users/{user_id}/password-reset",
                         headers=bearer(world.admin)).json()["token"] for _ in range(2)]
    r = client.post(f"{API}/auth/password-reset", json={"token": links[0], "password": STRONG})
    assert r.status_code == 401
    r = client.post(f"{API}/auth/password-reset", json={"token": links[1], "password": STRONG})
    assert r.status_code == 204


def test_a_patient_account_gets_no_password_reset(client: TestClient, world: World) -> None:
    r = client.get(f"{API}/admin/users", headers=bearer(world.admin), params={"limit": 500})
    (patient_user,) = [u["id"] for u in r.json()["items"]
                       if u["patient_id"] == world.patient_id]
    r = client.post(f"{API}/admin/users/{patient_user}/password-reset",
                    headers=bearer(world.admin))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "user_id"


def test_a_clinician_taken_off_the_care_team_loses_the_patient_at_once(
        client: TestClient, db: Database, world: World) -> None:
    owner_name, owner = _clinician(client, db)
    colleague_name, colleague = _clinician(client, db)
    pid = new_patient(client, owner)
    r = client.post(f"{API}/patients/{pid}/care-team", headers=bearer(owner),
                    json={"username": colleague_name})
    assert r.status_code == 200
    assert client.get(f"{API}/patients/{pid}", headers=bearer(colleague)).status_code == 200

    r = client.delete(f"{API}/patients/{pid}/care-team/{colleague_name}",
                      headers=bearer(world.admin))
    assert r.status_code == 200, r.text
    assert r.json()["care_team"] == [owner_name]
    assert client.get(f"{API}/patients/{pid}", headers=bearer(colleague)).status_code == 404
    # The last clinician stays; someone who is not on the team is named as such.
    r = client.delete(f"{API}/patients/{pid}/care-team/{owner_name}", headers=bearer(owner))
    assert r.status_code == 409
    r = client.delete(f"{API}/patients/{pid}/care-team/{colleague_name}", headers=bearer(owner))
    assert r.status_code == 422
    assert r.json()["problems"] == [{"path": "username",
                                     "message": "is not on this patient's care team"}]
    # Someone outside the team cannot learn the patient exists.
    r = client.delete(f"{API}/patients/{pid}/care-team/{owner_name}", headers=bearer(colleague))
    assert r.status_code == 404
    assert any(e["patient_id"] == pid and e["outcome"] == "ok"
               for e in _audited(client, world.admin, "care_team.remove"))


def _invite(client: TestClient, token: str, pid: str) -> dict[str, str]:
    r = client.post(f"{API}/patients/{pid}/invitations", headers=bearer(token))
    assert r.status_code == 201, r.text
    out: dict[str, str] = r.json()
    return out


def _redeem(client: TestClient, invitation: dict[str, str]) -> int:
    return client.post(f"{API}/auth/invitation",
                       json={"token": invitation["token"]}).status_code


def test_re_inviting_a_patient_cancels_the_earlier_link(client: TestClient, db: Database,
                                                        world: World) -> None:
    _, owner = _clinician(client, db)
    pid = new_patient(client, owner)
    first, second = _invite(client, owner, pid), _invite(client, owner, pid)
    r = client.get(f"{API}/patients/{pid}/invitations", headers=bearer(owner))
    assert [i["id"] for i in r.json()["items"]] == [second["id"]]
    assert _redeem(client, first) == 401
    assert _redeem(client, second) == 200


def test_a_cancelled_invitation_does_not_sign_in(client: TestClient, db: Database,
                                                 world: World) -> None:
    _, owner = _clinician(client, db)
    pid = new_patient(client, owner)
    invitation = _invite(client, owner, pid)
    r = client.delete(f"{API}/patients/{pid}/invitations/{invitation['id']}",
                      headers=bearer(owner))
    assert r.status_code == 200 and r.json() == {"cancelled": 1}
    assert _redeem(client, invitation) == 401
    r = client.delete(f"{API}/patients/{pid}/invitations/{invitation['id']}",
                      headers=bearer(owner))
    assert r.status_code == 404 and r.json() == {"detail": "Invitation not found"}
    invitation = _invite(client, owner, pid)
    r = client.delete(f"{API}/patients/{pid}/invitations", headers=bearer(world.admin))
    assert r.json() == {"cancelled": 1}
    assert _redeem(client, invitation) == 401


def test_ending_a_patients_access_signs_them_out_until_invited_again(
        client: TestClient, db: Database, world: World) -> None:
    _, owner = _clinician(client, db)
    pid = new_patient(client, owner)
    used = _invite(client, owner, pid)
    assert _redeem(client, used) == 200
    assert _redeem(client, used) == 401
    session = client.post(f"{API}/auth/invitation",
                          json={"token": _invite(client, owner, pid)["token"]}).json()
    pending = _invite(client, owner, pid)
    assert client.get(f"{API}/patients/{pid}",
                      headers=bearer(session["access_token"])).status_code == 200

    r = client.post(f"{API}/patients/{pid}/end-access", headers=bearer(owner))
    assert r.status_code == 200, r.text
    assert r.json() == {"patient_id": pid, "revoked_tokens": 2, "cancelled_invitations": 1}
    assert client.get(f"{API}/patients/{pid}",
                      headers=bearer(session["access_token"])).status_code == 401
    assert _redeem(client, pending) == 401
    assert _redeem(client, _invite(client, owner, pid)) == 200
    # The patient cannot end their own access or cancel links; other clinicians do not see it.
    r = client.post(f"{API}/patients/{world.patient_id}/end-access",
                    headers=bearer(world.patient))
    assert r.status_code == 403
    r = client.post(f"{API}/patients/{pid}/end-access", headers=bearer(world.other_clinician))
    assert r.status_code == 404
    assert any(e["patient_id"] == pid
               for e in _audited(client, world.admin, "patient.end_access"))
