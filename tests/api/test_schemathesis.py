"""Schemathesis against the OpenAPI document, in process: generated requests to every
operation, valid ones and invalid ones (schemathesis's negative mode), must never meet a server
error (5xx).

Each operation is called with the token that gets it furthest: the admin's for the admin
routes, a throwaway token for log-out (which revokes the token it carries), the patient's
clinician's for the rest. The tokens must still work at the end, so no operation silently
turned the later ones into 401s, and every operation must have answered something other than a
refusal at the door.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from spinecare.service import access
from spinecare.store import accounts, records
from spinecare.store.alerts import NewAlert, raise_alert
from spinecare.store.db import Database
from tests.api.fixtures import World, bearer, create_login

EXAMPLES = 15
NEGATIVE_EXAMPLES = 8


def test_no_generated_request_meets_a_server_error(app: FastAPI, client: TestClient,
                                                   db: Database, world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 38
    # The account the admin routes act on: disabling it or resetting its password must not
    # take away the tokens the other operations use.
    create_login(db, "fuzz-target")
    target = access.user_id_of(db, "fuzz-target")
    # Log-out revokes the token it carries: each call carries one of its own.
    create_login(db, "fuzz-logout")
    leaving = access.user_id_of(db, "fuzz-logout")
    with db.session(read_only=True) as session:
        owner = records.care_team(session, world.patient_id)[0]
    owner_id = access.user_id_of(db, owner)
    with db.session() as session:
        alert, _ = raise_alert(session, world.patient_id, owner_id,
                               NewAlert("questionnaire", None, "urgent", ("fuzz",),
                                        ("for the schemathesis run",)))
        alert_id = alert.id
    # Every other request names something that exists, so generation gets past the 404 into
    # the route's own validation and storage.
    real = {"patient_id": world.patient_id, "visit_id": world.visit_id, "user_id": target,
            "alert_id": alert_id, "article_id": "living_with_stenosis", "username": owner}
    answers: dict[str, Counter[int]] = {}
    for operation in operations:
        seen = answers.setdefault(operation.label, Counter())
        _fuzz(operation, GenerationMode.POSITIVE, EXAMPLES, world, db, real, leaving, seen)
        _fuzz(operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, world, db, real,
              leaving, seen)
    for token in (world.owner, world.admin):
        assert client.get("/api/v1/patients", headers=bearer(token)).status_code == 200
    at_the_door = {label for label, seen in answers.items() if set(seen) <= {401, 403}}
    # Redeeming needs a real one-time token, which generation cannot guess.
    assert at_the_door <= {"POST /api/v1/auth/invitation", "POST /api/v1/auth/password-reset"}
    assert all(status < 500 for seen in answers.values() for status in seen)


def _token(operation: Any, world: World, db: Database, leaving: int) -> str:
    if operation.path == "/api/v1/auth/revoke":
        with db.session() as session:
            token, _ = accounts.issue_token(session, leaving, timedelta(minutes=5))
        return token
    return world.admin if "admin" in (operation.tags or ()) else world.owner


def _fuzz(operation: Any, mode: GenerationMode, examples: int, world: World, db: Database,
          real: dict[str, Any], leaving: int, seen: Counter[int]) -> None:
    calls = Counter[str]()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        params = case.path_parameters or {}
        calls["all"] += 1
        if calls["all"] % 2:
            params.update({k: v for k, v in real.items() if k in params})
        response = case.call(headers=bearer(_token(operation, world, db, leaving)))
        seen[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE
