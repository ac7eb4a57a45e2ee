"""``spinecare cds add-client`` and ``clients``: registering an EHR from a JWK Set file or URL,
with clear errors for anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from spinecare.cli import main
from spinecare.service import cds as use_case
from spinecare.store.db import Database
from tests.cds.conftest import Keys


def test_add_client_from_a_jwks_file_stores_the_key_set(
        db: Database, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    assert main(["cds", "add-client", "https://file-ehr.example/", "--jwks", str(path),
                 "--database", db.url]) == 0
    assert "registered CDS client https://file-ehr.example/" in capsys.readouterr().out
    found = use_case.client_keys(db, "https://file-ehr.example/")
    assert found is not None and json.loads(found.jwks_json or "") == keys.jwks()
    assert main(["cds", "add-client", "https://file-ehr.example/", "--jwks",
                 "https://ehr.example/jwks", "--database", db.url]) == 0
    assert "updated" in capsys.readouterr().out
    found = use_case.client_keys(db, "https://file-ehr.example/")
    assert found is not None and found.jwks_url == "https://ehr.example/jwks"
    assert found.jwks_json is None
    assert main(["cds", "clients", "--database", db.url]) == 0
    assert "https://file-ehr.example/\thttps://ehr.example/jwks" in capsys.readouterr().out


def test_add_client_refuses_a_private_key_file(db: Database, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "private.json"
    private = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()), as_dict=True)
    path.write_text(json.dumps({"keys": [private]}))
    assert main(["cds", "add-client", "https://x.example/", "--jwks", str(path),
                 "--database", db.url]) == 2
    assert capsys.readouterr().err == (f"{path}: holds a private key: register the public key "
                                       "set only\n")


def test_add_client_names_a_missing_file(db: Database, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["cds", "add-client", "https://x.example/", "--jwks", str(missing),
                 "--database", db.url]) == 2
    assert capsys.readouterr().err.startswith(f"{missing}: cannot read")
