"""A small HTTP/1.1 load client for the benchmarks: asyncio protocols on kept-alive TCP connections, responses parsed
by httptools (the C parser llhttp that uvicorn uses on the server side).

Why not httpx: a load generator shares the 2 cores with the server it measures, so what it spends per request is
taken from the server. With 20 clients against `gisplan serve` (10 s each, the same run, load average 8.5–9.5),
httpx's AsyncClient spent 5.6–8.1 ms of CPU a request (3.3–3.8 ms on a quiet machine), http.client in 20 threads
0.40–0.56 ms and this client 0.38–0.42 ms. It speaks the same HTTP: one request at a time per connection, kept
alive until the server says ``close`` (gunicorn's sync workers close after every answer; the client then connects
again, as httpx does), ``Content-Length`` or chunked bodies (httptools decodes both), UTF-8 paths percent-encoded,
a timeout per request.

A request's time runs from the first byte written to the last byte of the response parsed, both read with
:func:`time.perf_counter` in this process.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httptools

_SAFE = "".join(chr(c) for c in range(33, 127))  # printable ASCII stays; spaces and non-ASCII are percent-encoded

__all__ = ["Connection", "Response", "TransportError"]


class TransportError(Exception):
    """The connection failed, closed before a whole response, the response did not parse, or it timed out."""


@dataclass(frozen=True, slots=True)
class Response:
    """One whole response: status, headers (lower-case names), body, and the request's time in seconds."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        """The body as text (UTF-8)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(slots=True)
class _Pending:
    waiter: asyncio.Future[Response]
    started: float
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    """One TCP connection: feeds what arrives to the response parser and completes the pending request."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.pending: _Pending | None = None
        self.closed = False
        self.keep_alive = True  # read when a response completes (the parser forgets it for the next one)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection closed before the response was complete ({exc!r})")

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"response does not parse as HTTP/1.1: {exc}")
            self.abandon()

    def abandon(self) -> None:
        """Close the connection now and mark it closed, so that no further request is written to it (the
        transport only reports the loss later)."""
        self.closed, self.pending = True, None
        if self.transport is not None:
            self.transport.close()

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.pending is not None:
            self.pending.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        if self.pending is not None:
            self.pending.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        pending, self.pending = self.pending, None
        if pending is not None and not pending.waiter.done():
            answer = Response(self.parser.get_status_code(), pending.headers, b"".join(pending.body),
                              time.perf_counter() - pending.started)
            pending.waiter.set_result(answer)

    def _fail(self, why: str) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.waiter.done():
            pending.waiter.set_exception(TransportError(why))


class Connection:
    """A kept-alive HTTP/1.1 connection to `host`:`port` (connected on first use, again after the server closes it)."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 30.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._protocol: _Protocol | None = None
        self._host_header = f"Host: {host}:{port}\r\n".encode("ascii")

    async def request(self, method: str, path: str, *, body: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Response:
        """Send one request and wait for its whole response (raises :class:`TransportError`)."""
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        if protocol is None or protocol.closed:
            try:
                _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
            except OSError as exc:
                msg = f"cannot connect to {self.host}:{self.port}: {exc}"
                raise TransportError(msg) from exc
            self._protocol = protocol
        if not path.isascii() or " " in path:  # as httpx sends it: UTF-8, percent-encoded
            path = quote(path, safe=_SAFE)
        head = [f"{method} {path} HTTP/1.1\r\n".encode("ascii"), self._host_header]
        head += [f"{k}: {v}\r\n".encode() for k, v in (headers or {}).items()]
        if body is not None:
            head.append(f"Content-Length: {len(body)}\r\n".encode("ascii"))
        head.append(b"\r\n")
        if body is not None:
            head.append(body)
        waiter: asyncio.Future[Response] = loop.create_future()
        timer = loop.call_later(self.timeout_s, self._time_out, protocol, waiter)
        protocol.pending = _Pending(waiter, time.perf_counter())
        assert protocol.transport is not None  # set by connection_made
        protocol.transport.write(b"".join(head))
        try:
            answer = await waiter
        except BaseException:  # failed, timed out or cancelled: a late response must not answer the next request
            protocol.abandon()
            self._protocol = None
            raise
        finally:
            timer.cancel()
        if not protocol.keep_alive:  # `Connection: close` (gunicorn's sync workers): connect again
            assert protocol.transport is not None
            protocol.transport.close()
            self._protocol = None
        return answer

    def _time_out(self, protocol: _Protocol, waiter: asyncio.Future[Response]) -> None:
        if not waiter.done():
            waiter.set_exception(TransportError(f"no whole response within {self.timeout_s:g} s"))
            protocol.abandon()
            self._protocol = None

    def close(self) -> None:
        """Close the connection (if open)."""
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
