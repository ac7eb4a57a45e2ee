"""A software WebAuthn authenticator for tests: it answers the options the server makes the
way a platform authenticator does (ES256 key, "none" attestation, a counter), so the
server's verification runs on real signatures without a browser. Built from the W3C
WebAuthn Level 2 layouts (sections 6.1 authenticator data, 6.5.4 attestation object,
5.8.1 client data)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0


@dataclass
class Authenticator:
    """One device: its credentials, by relying party."""

    credentials: list[Credential] = field(default_factory=list)
    user_verified: bool = True

    def _flags(self, extra: int = 0) -> bytes:
        return bytes([UP | (UV if self.user_verified else 0) | extra])

    def create(self, options_json: str, origin: str, *, same_as: Credential | None = None) -> str:
        """A new credential, or (``same_as``) another registration of an existing one."""
        o = json.loads(options_json)
        rp_id = o["rp"]["id"]
        cred = same_as or Credential(secrets.token_bytes(16),
                                     ec.generate_private_key(ec.SECP256R1()), rp_id,
                                     unb64url(o["user"]["id"]))
        if same_as is None:
            self.credentials.append(cred)
        numbers = cred.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + self._flags(AT)
                     + struct.pack(">I", 0) + bytes(16)
                     + struct.pack(">H", len(cred.id)) + cred.id + cose)
        client_data = json.dumps({"type": "webauthn.create", "challenge": o["challenge"],
                                  "origin": origin, "crossOrigin": False}).encode()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({
            "id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {}})

    def get(self, options_json: str, origin: str, *, credential: Credential | None = None,
            counter_step: int = 1) -> str:
        o = json.loads(options_json)
        cred = credential or next(c for c in reversed(self.credentials)
                                  if c.rp_id == o["rpId"])
        cred.counter += counter_step
        auth_data = (hashlib.sha256(o["rpId"].encode()).digest() + self._flags()
                     + struct.pack(">I", cred.counter))
        client_data = json.dumps({"type": "webauthn.get", "challenge": o["challenge"],
                                  "origin": origin, "crossOrigin": False}).encode()
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data), "signature": b64url(signature),
                         "userHandle": b64url(cred.user_handle)},
            "clientExtensionResults": {}})


def with_challenge(options_json: str, challenge: bytes) -> str:
    """The options with another challenge (an answer to a challenge never given out)."""
    o: dict[str, Any] = json.loads(options_json)
    o["challenge"] = b64url(challenge)
    return json.dumps(o)
