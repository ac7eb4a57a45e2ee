"""Every request's source address in its audit events, and an audit event for every refusal.

:class:`AuditRefusals` is a plain ASGI middleware around both doors. It binds the request's
:class:`~spinecare.store.audit.RequestSource` (its address; the principal once a token is
resolved) for the use cases' events, and after a response with a refusal status (401, 403,
422, 429) that no use case audited itself (an unknown or expired token, a body that does not
parse, a role refused by a door), it writes one ``request.refused`` event: who if known, the
address, and the reason (the status, the answer's ``detail`` or the problems' paths, never the
values sent, and the route).

The address is the peer's as the server sees it; behind a reverse proxy, run uvicorn with
``--proxy-headers`` and ``--forwarded-allow-ips`` naming the proxy, so that it is the client's.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spinecare.store import audit as trail
from spinecare.store.db import Database

# Spelled here, not taken from http.HTTPStatus, whose phrase for 422 changed in Python 3.13.
REFUSALS = {401: "Unauthorized", 403: "Forbidden", 422: "Unprocessable Content",
            429: "Too Many Requests"}
# A refusal's JSON answer is small; longer bodies are not kept to find its detail.
_KEEP = 8192


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0])[:64] if client else None


def _reason(status: int, body: bytes, content_type: str, scope: Scope) -> str:
    text = f"{status} {REFUSALS[status]}"
    if content_type.startswith("application/json") and 0 < len(body) <= _KEEP:
        try:
            answer: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
            text += f": {answer['detail']}"
            problems = answer.get("problems")
            if isinstance(problems, list):
                paths = [str(p.get("path")) for p in problems[:5] if isinstance(p, dict)]
                text += f" at {', '.join(paths)}" if paths else ""
    route = scope.get("route")
    where = getattr(route, "path", None) or "(no route)"
    return f"{text} ({scope.get('method', '?')} {where})"


def _record(db: Database, source: trail.RequestSource, reason: str,
            patient_id: str | None) -> None:
    with db.session() as session:
        trail.audit(session, source.actor, "request.refused", outcome="denied",
                    reason=reason, patient_id=patient_id)


class AuditRefusals:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        source = trail.RequestSource(address=_address(scope))
        status = 0
        content_type = ""
        body = bytearray()
        # A refusal's last part waits for its audit event: the client has its answer only once
        # the event is stored, so events are in the order the answers were given, and a client
        # that reads the trail after a refusal finds it there.
        held: Message | None = None

        async def watch(message: Message) -> None:
            nonlocal status, content_type, held
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1").lower()
            elif message["type"] == "http.response.body" and status in REFUSALS:
                if len(body) <= _KEEP:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    held = message
                    return
            await send(message)

        with trail.bind_request(source):
            try:
                await self.app(scope, receive, watch)
                if status in REFUSALS and not source.refusal_audited:
                    app = scope.get("app")
                    db: Database | None = getattr(getattr(app, "state", None), "db", None)
                    if db is not None:
                        params = scope.get("path_params") or {}
                        patient = params.get("patient_id")
                        await run_in_threadpool(
                            _record, db, source,
                            _reason(status, bytes(body), content_type, scope),
                            patient if isinstance(patient, str) else None)
            finally:
                if held is not None:
                    await send(held)
