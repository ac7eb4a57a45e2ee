"""The HTTP server's own limits: how long a client may take to send its request headers, how
long a request body may stop arriving, how long an idle connection is kept, and how many
connections are served at once.

uvicorn closes an idle keep-alive connection, but waits for ever on one that never finishes
its request headers (a "slowloris" client holds a connection with a byte every few seconds).
:class:`GuardedH11Protocol` gives each request's headers a deadline counted from when the
connection opened or the previous answer was sent, whatever trickles in meanwhile, and refuses a
connection past the cap with a 503 instead of serving it.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_SECONDS = 10.0
# A request body that stops arriving for this long is cut off with its connection.
BODY_IDLE_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 500
# How long an unread request body is drained after the answer, before the socket is closed.
LINGER_SECONDS = 2.0
# h11's own default: a request line and headers larger than this are refused with 400.
MAX_HEADER_BYTES = 16 * 1024

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
         b"content-length: 48\r\nconnection: close\r\nretry-after: 5\r\n\r\n"
         b"The service is busy; please try again shortly.\n")


@dataclass(frozen=True)
class ServerLimits:
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    keep_alive: int = KEEP_ALIVE_SECONDS
    max_connections: int = MAX_CONNECTIONS
    body_idle: float = BODY_IDLE_SECONDS


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-header deadline, a request-body idle deadline,
    a connection cap, and a gentle close of a connection answered before its body was read."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
    body_idle: float = BODY_IDLE_SECONDS

    def __init__(self, *args: Any, limits: ServerLimits | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if limits is not None:
            self.header_timeout = limits.header_timeout
            self.max_connections = limits.max_connections
            self.body_idle = limits.body_idle
        self._header_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._body_progress = 0.0
        self.lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # Counted before this one joins: the cap is the number already being served.
        if len(self.connections) >= self.max_connections:
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None
        if self.transport is None:  # refused at the cap: never joined
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.lingering:
            return  # refused, or an unread body being drained before the close
        self._body_progress = self.loop.time()
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:
            self._disarm()  # a request's headers are complete
        # The timer is set once per request whose body did not come with its headers, and
        # looks at the time of the latest data when it fires, so data costs no timer.
        if self.conn.their_state is h11.SEND_BODY:
            if self._body_deadline is None:
                self._body_deadline = self.loop.call_later(self.body_idle, self._body_check)
        elif self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _body_check(self) -> None:
        self._body_deadline = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        idle = self.loop.time() - self._body_progress
        if idle < self.body_idle or self.flow.read_paused:
            # Still arriving, or waiting for the app to read what came: look again later.
            wait = self.body_idle - idle if idle < self.body_idle else self.body_idle
            self._body_deadline = self.loop.call_later(wait, self._body_check)
            return
        # The app waiting on the body learns of it as a disconnect; the client gets nothing.
        self.transport.close()

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:
            # Answered before the request's body was read (a 401, a 413): close rather than
            # read the rest, which may be large, only to discard it.
            self.server_state.total_requests += 1
            self.transport.close()
            return
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers have the same deadline

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served; its body has its own idle limit
        if not self.transport.is_closing():
            # No answer: a client that never finished its headers is not owed one, and a
            # keep-alive client that sent nothing since its last answer is simply idle.
            self.transport.close()


class _LingeringTransport:
    """The connection's transport, closing gently when a request's body is still arriving.

    Closing a socket with unread data in it makes the kernel send a reset, and a reset can
    reach the client before it has read the answer: a client refused with 413 half-way through
    its upload would see "connection reset" instead. So, as web servers do ("lingering close"),
    the answer is sent, our side of the connection is shut, and what still arrives is read and
    dropped for a short while before the socket is closed.
    """

    def __init__(self, transport: asyncio.Transport, protocol: GuardedH11Protocol):
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._transport.is_closing()

    def close(self) -> None:
        protocol = self._protocol
        if protocol.lingering or self._transport.is_closing():
            return
        if protocol.conn.their_state is not h11.SEND_BODY or not self._transport.can_write_eof():
            self._transport.close()
            return
        protocol.lingering = True
        self._transport.write_eof()
        self._transport.resume_reading()
        protocol.loop.call_later(LINGER_SECONDS, self._transport.close)


def guarded_protocol(limits: ServerLimits) -> Any:
    """The protocol with ``limits``, as uvicorn builds one per connection. A partial of the
    module's class, not a class made here: with several workers uvicorn pickles its
    configuration into each worker process, and only a class found by name pickles."""
    return functools.partial(GuardedH11Protocol, limits=limits)


def server_config(app: Any, *, host: str, port: int, limits: ServerLimits | None = None,
                  **options: Any) -> Config:
    """uvicorn's configuration for ``app`` with spinecare's limits."""
    limits = limits or ServerLimits()
    return Config(app, host=host, port=port, http=guarded_protocol(limits),
                  timeout_keep_alive=limits.keep_alive,
                  h11_max_incomplete_event_size=MAX_HEADER_BYTES, server_header=False,
                  **options)
