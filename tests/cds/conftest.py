"""Fixtures for the CDS Hooks tests: keys the tests make, a registered client, the app on a real
database, JWT signing, and a small real HTTP server on loopback (for JWK Sets and FHIR servers).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from spinecare.app import create_app
from spinecare.service import cds as use_case
from spinecare.store.db import Database
from tests.api.fixtures import database_url, db, make_settings

__all__ = ["database_url", "db"]

PUBLIC_URL = "https://cds.spinecare.test"
ISS = "https://ehr.example.test/"
DATA = Path(__file__).resolve().parent / "data"


def spec_examples() -> dict[str, Any]:
    examples: dict[str, Any] = json.loads((DATA / "spec2_examples.json").read_text())
    return examples


@dataclass(frozen=True)
class Keys:
    ec: ec.EllipticCurvePrivateKey
    rsa: rsa.RSAPrivateKey
    other_ec: ec.EllipticCurvePrivateKey

    def jwks(self) -> dict[str, Any]:
        ec_jwk = ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True)
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        return {"keys": [{**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES384"},
                         {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS384"}]}


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(ec.generate_private_key(ec.SECP384R1()),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ec.generate_private_key(ec.SECP384R1()))


def sign(keys: Keys, path: str, *, alg: str = "ES384", key: Any = None, kid: str | None = None,
         drop: tuple[str, ...] = (), **claims: Any) -> str:
    """A JWT as a CDS client makes it for ``PUBLIC_URL + path``; ``claims`` override."""
    now = int(time.time())
    payload: dict[str, Any] = {"iss": ISS, "aud": PUBLIC_URL + path, "exp": now + 300,
                               "iat": now, "jti": str(uuid.uuid4()), **claims}
    for name in drop:
        payload.pop(name, None)
    signing = key if key is not None else (keys.ec if alg.startswith("ES") else keys.rsa)
    headers = {"kid": kid or ("ec-1" if alg.startswith("ES") else "rsa-1"), "typ": "JWT"}
    return jwt.encode(payload, signing, algorithm=alg, headers=headers)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def app(db: Database, tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> FastAPI:
    use_case.register_client(db, ISS, jwks_json=json.dumps(keys.jwks()))
    return create_app(make_settings(tmp_path_factory.mktemp("data"), db.url,
                                    public_url=PUBLIC_URL), db)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def signed(keys: Keys) -> Callable[..., dict[str, str]]:
    def make(path: str, **kwargs: Any) -> dict[str, str]:
        return auth(sign(keys, path, **kwargs))
    return make


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1 answering from ``routes`` (path -> (status, body) or a
    callable), recording every request it gets."""

    routes: dict[str, Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    delay: float = 0.0
    url: str = ""

    def start(self) -> LoopbackServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(Seen(self.path, {k.lower(): v for k, v in
                                                   self.headers.items()}))
                if outer.delay:
                    time.sleep(outer.delay)
                route = outer.routes.get(self.path.split("?")[0])
                status, body = route if route is not None else (404, {"error": "not found"})
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()
