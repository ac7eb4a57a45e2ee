"""The size limit every request body meets before a route sees it.

A body larger than its route's limit is refused with 413 before it is read: at once when its
``Content-Length`` says so, and as soon as the running count passes the limit when it comes in
chunks. The connection is then closed (``spinecare.http.server`` closes it gently), so the rest
of the body is never read either. The limits are per route (:data:`BODY_LIMITS`): sign-in forms
are tiny, a case document is larger, every other body small. This runs before authentication,
so an anonymous caller cannot make the server hold a large body. A body that stops arriving is
the server's to cut off (:mod:`spinecare.http.server`): it needs a timer, which costs less there
than a timeout around every message here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class BodyLimit:
    pattern: re.Pattern[str]
    max_bytes: int
    why: str


def _limit(pattern: str, max_bytes: int, why: str) -> BodyLimit:
    return BodyLimit(re.compile(pattern), max_bytes, why)


# First match wins. A case document is a few kilobytes (the largest example case is under 4 KiB);
# 1 MiB leaves room for long free text without letting one request hold much memory. The web's
# visit form is the same case as form fields; an intake step carries every answer so far.
BODY_LIMITS: tuple[BodyLimit, ...] = (
    _limit(r"^/api/v1/auth/", 8 * KIB, "a sign-in form or token"),
    _limit(r"^/(login|logout|invite)$", 8 * KIB, "a sign-in form"),
    _limit(r"^/api/v1/assess$", 1 * MIB, "a case document"),
    # A record's Bundle: tens of resources of a few hundred bytes each, with room to spare.
    _limit(r"^/api/v1/fhir/to-case$", 4 * MIB, "a FHIR Bundle"),
    _limit(r"^/api/v1/patients/[^/]+/visits$", 1 * MIB, "a case document"),
    _limit(r"^/patients/[^/]+/visits(/preview)?$", 256 * KIB, "a visit form"),
    _limit(r"^/my/intake$", 128 * KIB, "an intake step"),
    # A hook call carries the chart's prefetch (hundreds of Observations) and draft orders.
    _limit(r"^/cds-services/[^/]+$", 4 * MIB, "a CDS Hooks request with its prefetch"),
)
DEFAULT_BODY_LIMIT = 64 * KIB

def body_limit(path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    for rule in BODY_LIMITS:
        if rule.pattern.match(path):
            return rule.max_bytes
    return DEFAULT_BODY_LIMIT


class _TooLarge(Exception):
    pass


def _size(max_bytes: int) -> str:
    return f"{max_bytes // MIB} MiB" if max_bytes >= MIB and not max_bytes % MIB \
        else f"{max_bytes // KIB} KiB"


def _refusal(path: str, status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A plain answer built here (no route runs): JSON for the API, a short page otherwise."""
    if path.startswith(("/api/", "/cds-services")):
        body = orjson.dumps({"detail": message})
        kind = b"application/json"
    else:
        body = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
                f"{message}</title></head><body><h1>{message}</h1><p>Please go back and try "
                "again with less.</p></body></html>").encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return headers, body


class BodyLimitMiddleware:
    """Refuse request bodies over their route's limit, before reading them (ASGI)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = body_limit(path)
        declared = _content_length(scope)
        if declared == -1:
            await _answer(send, path, 400, "Content-Length is not a number")
            return
        if declared is not None and declared > limit:
            await _answer(send, path, 413, _too_large(limit))
            return

        if declared is not None or not _chunked(scope):
            await self.app(scope, receive, send)  # the server delivers no more than declared
            return

        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                # The route turned our exception into some answer of its own (a 400 for an
                # unreadable form, say); the caller must learn what really happened.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except Exception:
            # Ours, or what a layer between made of ours (an exception group, say).
            if not refused:
                raise
        if refused and not started:
            await _answer(send, path, 413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"The request body is too large (at most {_size(limit)} here)"


async def _answer(send: Send, path: str, status: int, message: str) -> None:
    headers, body = _refusal(path, status, message)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _chunked(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


def _content_length(scope: Scope) -> int | None:
    """The declared body size; ``None`` when not given, -1 when not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only: int() would take "٣" or "1_0".
            return int(text) if text.isascii() and text.isdigit() else -1
    return None
