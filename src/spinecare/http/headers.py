"""Security headers on every response, whichever door or route made it.

Every dynamic answer may carry patient data or a token, so none may be stored by a browser or a
shared cache (``Cache-Control: no-store``); only the package's own static files may be cached.
Nothing is sniffed into another type, framed by another site, or sent with a referrer. A route
that sets its own ``Content-Security-Policy`` (the web pages, the API docs) keeps it; any other
answer (JSON) gets a policy that allows nothing at all. HSTS is sent only when the configured
public URL is https: over plain http it would be ignored, and on a development machine sticky.
"""

from __future__ import annotations

import logging
import traceback

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("spinecare.http")

NO_CONTENT_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
HSTS = b"max-age=31536000; includeSubDomains"

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    """Add the security headers a response lacks (ASGI)."""

    def __init__(self, app: ASGIApp, *, hsts: bool, static_prefix: str = "/static/"):
        self.app = app
        self.hsts = hsts
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(self.static_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                have = {name.lower() for name, _ in headers}
                wanted = list(_ALWAYS)
                if not static:
                    wanted.append((b"cache-control", b"no-store"))
                wanted.append((b"content-security-policy", NO_CONTENT_CSP))
                if self.hsts:
                    wanted.append((b"strict-transport-security", HSTS))
                headers += [(n, v) for n, v in wanted if n not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class NoLeakMiddleware:
    """Turn an unexpected exception into a plain 500 here, so that no exception message, which
    may quote what a patient typed (a database error quotes its parameters), reaches the log or
    the user. The log gets the exception's type and where it was raised, never its text."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            log.error("internal error: %s at %s", type(exc).__name__, where(exc))
            if started:
                return  # the answer is under way; the server closes the connection
            api = scope["path"].startswith("/api/")
            body = b'{"detail":"Internal server error"}' if api else (
                b"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
                b"Something went wrong</title></head><body><h1>Something went wrong</h1>"
                b"<p>Nothing you sent was shown or logged. Please try again; if it happens "
                b"again, tell your clinic.</p></body></html>")
            kind = b"application/json" if api else b"text/html; charset=utf-8"
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", kind),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def where(exc: BaseException) -> str:
    """The innermost frames of ``exc``'s traceback as ``file:line in function``: enough to find
    the fault, with no value from the request in it."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
                       for f in reversed(frames)) or "(no traceback)"
