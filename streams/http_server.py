"""`riffle serve`'s HTTP/1.1 server: the feature routes on a bare asyncio protocol.

Under aiohttp, four fifths of a single-entity GET's CPU went to the framework (request and
response objects, routing, its writer), one fifth to reading Redis and writing the answer. Here
a request is parsed by httptools (llhttp, node's parser: chunked bodies, pipelining and
keep-alive are its job), routed by splitting the path, and answered with one write of
preformatted headers and the bytes `FeatureServer` rendered. The routes, status codes and
bodies are the worker's (`streams.feature_routes`): a client cannot tell the two apart.

Requests on one connection are answered in order, one at a time (HTTP/1.1 pipelining); many
connections run concurrently. Bad requests get a JSON 4xx and, when the stream cannot be
trusted any more (a parse error, a body over `max_body`), the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any, cast
from urllib.parse import parse_qsl, unquote_to_bytes

import httptools
import orjson

from featurestore import FeatureServer
from featurestore.flow import FlowControlled
from streams.feature_routes import error_answer

__all__ = ["FeatureHTTPServer"]

log = logging.getLogger("riffle.serve")

Answer = tuple[int, bytes]
Health = Callable[[], Awaitable[Answer]]

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# pipelined requests queued on one connection before it stops reading
_MAX_QUEUED = 32
# a request line and headers larger than this are refused (aiohttp's limit is 8 KiB a line)
_MAX_HEAD = 64 * 1024


class FeatureHTTPServer:
    """Serves `GET /features/<view>/<entity>`, `POST /features/<view>` and `GET /health`.

    `health` answers `/health` (status, JSON body). Connections idle for `keepalive_s` are
    closed, as aiohttp closes them after 75 s.
    """

    def __init__(
        self,
        server: FeatureServer,
        health: Health,
        max_body: int = 1 << 20,
        keepalive_s: float = 75.0,
    ) -> None:
        self.features = server
        self.health = health
        self.max_body = max_body
        self.keepalive_s = keepalive_s
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._date = b""
        self._date_at = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host or None, port, reuse_address=True
        )
        self._sweeper = asyncio.create_task(self._sweep())
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop listening, let requests in flight finish (up to `grace_s`), close the rest."""
        if self._server is None:
            return
        self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        deadline = time.monotonic() + grace_s
        while any(c.busy for c in self._connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None

    def date(self) -> bytes:
        """The Date header's value, formatted once a second."""
        now = int(time.time())
        if now != self._date_at:
            self._date_at = now
            self._date = formatdate(now, usegmt=True).encode()
        return self._date

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.keepalive_s))
            idle_since = time.monotonic() - self.keepalive_s
            for conn in list(self._connections):
                if not conn.busy and conn.last_active < idle_since:
                    conn.close()

    async def answer(self, method: bytes, url: bytes, body: bytes) -> Answer:
        """Route one request; every failure is a JSON answer."""
        try:
            parsed = httptools.parse_url(url)
            parts = [_segment(p) for p in parsed.path.split(b"/")[1:]]
            fields = _query(parsed.query) if parsed.query else None
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            return 400, _json({"error": "the request's URL is not valid UTF-8"})
        try:
            if len(parts) == 3 and parts[0] == "features" and parts[1] and parts[2]:
                if method not in (b"GET", b"HEAD"):
                    return _not_allowed(method, "GET")
                return 200, await self.features.get_json(parts[1], parts[2], fields)
            if len(parts) == 2 and parts[0] == "features" and parts[1]:
                if method != b"POST":
                    return _not_allowed(method, "POST")
                self.features.view(parts[1])  # an unknown view is a 404 whatever the body
                entities, given = self.features.parse_request(body)  # fields come in the body
                return 200, await self.features.get_many_json(parts[1], entities, given)
            if parts == ["health"]:
                if method not in (b"GET", b"HEAD"):
                    return _not_allowed(method, "GET")
                return await self.health()
        except Exception as exc:
            return error_answer(exc)
        return 404, _json({"error": f"no route {parsed.path.decode('latin-1')}"})


class _Connection(FlowControlled):
    """One client connection: parses requests as bytes arrive, answers them in order."""

    def __init__(self, server: FeatureHTTPServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple[bytes, bytes, bytes, bool, bool]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.last_active = time.monotonic()
        self._url: list[bytes] = []
        self._body: list[bytes] = []
        self._size = 0
        self._head = 0
        self._continue = False
        self._paused = False
        self._closing = False

    @property
    def busy(self) -> bool:
        return bool(self.queue) or self.task is not None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        self.transport = None
        self.queue.clear()
        self.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            # httptools wraps what a callback raised
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._fail(refused.status, refused.message)
            else:
                self._fail(400, f"malformed HTTP request: {exc}")

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url.clear()
        self._body.clear()
        self._size = self._head = 0
        self._continue = False

    def on_url(self, url: bytes) -> None:
        self._head += len(url)
        if self._head > _MAX_HEAD:
            raise _Refused(431, "the request line is too long")
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += len(name) + len(value)
        if self._head > _MAX_HEAD:
            raise _Refused(431, f"request headers exceed {_MAX_HEAD} bytes")
        if name.lower() == b"expect" and value.lower() == b"100-continue":
            self._continue = True

    def on_headers_complete(self) -> None:
        if self._continue and self.transport is not None:
            # curl and others wait for this before sending a body over 1 KiB
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.server.max_body:
            raise _Refused(413, f"request body over {self.server.max_body} bytes")
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        parser = self.parser
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        body = b"".join(self._body)
        # an HTTP/1.0 client asking for keep-alive is told so; 1.1 keeps it by default
        legacy = parser.get_http_version() == "1.0"
        self.queue.append((parser.get_method(), url, body, parser.should_keep_alive(), legacy))
        if len(self.queue) > _MAX_QUEUED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    # -- answering ----------------------------------------------------------------------------

    async def _drain(self) -> None:
        try:
            while self.queue and self.transport is not None:
                method, url, body, keep_alive, legacy = self.queue.popleft()
                status, payload = await self.server.answer(method, url, body)
                if self.transport is None:
                    return
                self._write(status, payload, keep_alive, legacy, head=method == b"HEAD")
                if not keep_alive:
                    self.close()
                    return
                await self.writable()
                if self._paused and len(self.queue) <= _MAX_QUEUED // 2:
                    self._paused = False
                    self.transport.resume_reading()
        except Exception:  # answer() maps every error; this is a bug, not a request's fault
            log.exception("feature serving: connection failed")
            self.close()
        finally:
            self.task = None
            self.last_active = time.monotonic()

    def _write(self, status: int, body: bytes, keep_alive: bool, legacy: bool, head: bool) -> None:
        assert self.transport is not None
        connection = b"" if keep_alive and not legacy else b"Connection: close\r\n"
        if keep_alive and legacy:
            connection = b"Connection: keep-alive\r\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Date: %s\r\n%s\r\n%s"
            % (
                status,
                _REASONS.get(status, "Error").encode(),
                len(body),
                self.server.date(),
                connection,
                b"" if head else body,
            )
        )

    def _fail(self, status: int, message: str) -> None:
        """Answer a request the parser cannot go on from, then close: what follows it on the
        connection cannot be framed."""
        self._closing = True
        self.queue.clear()
        if self.transport is not None:
            self._write(status, _json({"error": message}), False, False, head=False)
        self.close()

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.close()


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _segment(raw: bytes) -> str:
    """A path segment, percent-decoded (``%2F`` is a slash inside an entity id)."""
    return (unquote_to_bytes(raw) if b"%" in raw else raw).decode()


def _query(raw: bytes) -> dict[str, str] | None:
    """Request-time fields from the query string; the first of repeated names wins, as
    aiohttp's ``dict(request.query)`` gives."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode(), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields or None


def _not_allowed(method: bytes, allowed: str) -> Answer:
    return 405, _json({"error": f"method {method.decode('latin-1')} not allowed; use {allowed}"})


def _json(obj: Any) -> bytes:
    return orjson.dumps(obj)
