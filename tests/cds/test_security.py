"""The EHR signs every call (CDS Hooks 2.0, "Trusting CDS Clients"): good tokens pass; unsigned,
wrongly signed, expired, replayed, foreign or misaddressed ones get 401 with a clear JSON error,
audited, and never quoted back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.cds.config import CdsSettings
from spinecare.cds.security import ClientKeys, KeySets, Refused, parse_jwks, verify
from spinecare.service import cds as use_case
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent
from tests.cds.conftest import ISS, PUBLIC_URL, Keys, LoopbackServer, auth, sign, spec_examples

DISCOVERY = "/cds-services"
Signed = Callable[..., dict[str, str]]


def _refusal(client: TestClient, headers: dict[str, str]) -> str:
    r = client.get(DISCOVERY, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["www-authenticate"].startswith("Bearer")
    detail: str = r.json()["detail"]
    return detail


def test_a_good_es384_token_opens_discovery(client: TestClient, signed: Signed) -> None:
    r = client.get(DISCOVERY, headers=signed(DISCOVERY))
    assert r.status_code == 200, r.text
    ids = {s["id"] for s in r.json()["services"]}
    assert ids == {"spinecare-triage", "spinecare-imaging"}


def test_a_good_rs384_token_is_accepted(client: TestClient, signed: Signed) -> None:
    assert client.get(DISCOVERY, headers=signed(DISCOVERY, alg="RS384")).status_code == 200


def test_a_request_without_a_token_is_refused(client: TestClient) -> None:
    assert "signed JWT is required" in _refusal(client, {})


def test_an_unsigned_token_is_refused(client: TestClient, keys: Keys) -> None:
    token = jwt.encode({"iss": ISS, "aud": PUBLIC_URL + DISCOVERY, "exp": time.time() + 60,
                        "iat": time.time(), "jti": "unsigned-1"}, None, algorithm="none")
    assert "'none' is not accepted" in _refusal(client, auth(token))


def test_an_hmac_token_is_refused(client: TestClient, keys: Keys) -> None:
    secret = "a shared secret long enough for HS384, 48 bytes or more!"
    token = sign(keys, DISCOVERY, alg="HS384", key=secret)
    assert "'HS384' is not accepted" in _refusal(client, auth(token))


def test_a_token_signed_with_another_key_is_refused(client: TestClient, keys: Keys) -> None:
    token = sign(keys, DISCOVERY, key=keys.other_ec)
    assert "signature does not verify" in _refusal(client, auth(token))


def test_an_expired_token_is_refused(client: TestClient, signed: Signed) -> None:
    past = int(time.time()) - 600
    assert "expired" in _refusal(client, signed(DISCOVERY, exp=past, iat=past - 60))


def test_a_replayed_token_is_refused(client: TestClient, keys: Keys) -> None:
    headers = auth(sign(keys, DISCOVERY))
    assert client.get(DISCOVERY, headers=headers).status_code == 200
    assert "already used" in _refusal(client, headers)


def test_a_token_from_an_unregistered_issuer_is_refused(client: TestClient,
                                                        signed: Signed) -> None:
    assert "not a registered client" in _refusal(
        client, signed(DISCOVERY, iss="https://stranger.example/"))


def test_a_token_for_another_endpoint_is_refused(client: TestClient, signed: Signed) -> None:
    detail = _refusal(client, signed("/cds-services/spinecare-triage"))
    assert detail == f"The JWT's aud must be {PUBLIC_URL}{DISCOVERY}"


@pytest.mark.parametrize("claim", ["jti", "exp", "iat"])
def test_a_token_missing_a_required_claim_is_refused(client: TestClient, signed: Signed,
                                                     claim: str) -> None:
    assert f"has no {claim}" in _refusal(client, signed(DISCOVERY, drop=(claim,)))


def test_a_token_living_for_days_is_refused(client: TestClient, signed: Signed) -> None:
    assert "expires more than" in _refusal(
        client, signed(DISCOVERY, exp=int(time.time()) + 3 * 86400))


def test_an_unknown_kid_is_refused(client: TestClient, signed: Signed) -> None:
    assert "kid" in _refusal(client, signed(DISCOVERY, kid="nobody"))


def test_refusals_are_audited_without_the_token(client: TestClient, db: Database,
                                                keys: Keys) -> None:
    token = sign(keys, DISCOVERY, key=keys.other_ec)
    _refusal(client, auth(token))
    with db.session(read_only=True) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())
                                 .limit(20)).all()
    refused = [e for e in events if e.action == "request.refused"]
    assert refused and "signature does not verify" in (refused[0].reason or "")
    for e in events:
        assert token not in " ".join(str(v) for v in (e.reason, e.username, e.target_id))


def test_the_specifications_own_example_token_is_signed_by_its_key_and_expired() -> None:
    spec = spec_examples()
    settings = CdsSettings(algorithms=("ES384",))
    keysets = KeySets(settings)
    client = ClientKeys(spec["jwt_payload"]["iss"], None, json.dumps(spec["jwks_public"]), "1")
    key = keysets.key(client, "example-kid", "ES384")
    # the signature holds: only the clock refuses it
    claims = jwt.decode(spec["jwt"], key, algorithms=["ES384"],
                        audience=spec["jwt_payload"]["aud"], options={"verify_exp": False})
    assert claims == spec["jwt_payload"]
    with pytest.raises(Refused, match="expired"):
        verify(spec["jwt"], spec["jwt_header"], key, iss=claims["iss"], audience=claims["aud"],
               settings=settings)


def test_a_private_key_set_is_not_accepted_for_registration() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(private, as_dict=True)
    with pytest.raises(ValueError, match="private key"):
        parse_jwks(json.dumps({"keys": [jwk]}))


def test_keys_from_a_jwks_url_are_fetched_once_and_cached(
        client: TestClient, db: Database, keys: Keys, loopback: LoopbackServer) -> None:
    loopback.routes["/jwks.json"] = (200, keys.jwks())
    iss = "https://url-client.example/"
    use_case.register_client(db, iss, jwks_url=f"{loopback.url}/jwks.json")
    for _ in range(3):
        r = client.get(DISCOVERY, headers=auth(sign(keys, DISCOVERY, iss=iss)))
        assert r.status_code == 200, r.text
    assert len(loopback.seen) == 1


def test_an_unknown_kid_refetches_the_url_at_most_once_in_a_while(
        client: TestClient, db: Database, keys: Keys, loopback: LoopbackServer) -> None:
    loopback.routes["/keys"] = (200, keys.jwks())
    iss = "https://rotating-client.example/"
    use_case.register_client(db, iss, jwks_url=f"{loopback.url}/keys")
    assert client.get(DISCOVERY, headers=auth(sign(keys, DISCOVERY, iss=iss))).status_code \
        == 200
    for _ in range(5):
        r = client.get(DISCOVERY, headers=auth(sign(keys, DISCOVERY, iss=iss, kid="new-kid")))
        assert r.status_code == 401
    assert len(loopback.seen) == 1  # within jwks_refetch_seconds: no refetch storm


def test_an_unreachable_jwks_url_is_a_clear_401(client: TestClient, db: Database,
                                                keys: Keys, loopback: LoopbackServer) -> None:
    iss = "https://broken-client.example/"
    use_case.register_client(db, iss, jwks_url=f"{loopback.url}/missing")
    assert _refusal(client, auth(sign(keys, DISCOVERY, iss=iss))) == \
        "The client's JWKS URL answered 404"
