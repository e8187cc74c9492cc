"""Open-loop HTTP/1.1 load at a fixed rate, for the serving API's latency benchmark.

`LoadGenerator` sends requests (GET one entity, POST a batch) over a pool of keep-alive
connections on an open-loop schedule: each request goes out when it is due, whether or not
earlier ones have been answered. Latency runs from each request's *scheduled* send time, so a
slow answer also counts against the requests queued behind it (no coordinated omission);
`service` is the time from the actual send and `send_lag` how late the generator sent. Every
answer is checked: status 200, one result per entity, how many were not found. Run it on
`precise_loop()`, whose timers sleep to the microsecond.
"""

from __future__ import annotations

import asyncio
import random
import re
import selectors
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote, urlsplit

import numpy as np
import orjson

from streams.bench_stats import latency_summary

__all__ = ["LoadGenerator", "precise_loop"]

_SPIN_S = 0.0002  # sleep until this close to the scheduled time, then spin
_POOL = 64  # keep-alive connections: requests in flight before one waits for a free connection
_PARSE_EVERY = 16  # answers checked by counting their flags between two parsed whole
_TIMEOUT_S = 5.0  # an answer slower than this is an error (FeatureClient's default timeout)
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)")


def precise_loop() -> asyncio.AbstractEventLoop:
    # select() sleeps to the microsecond; epoll, asyncio's default, rounds a timeout up to the
    # next millisecond, so requests would go out up to 1 ms late
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


class LoadGenerator:
    """Open-loop requests over a pool of keep-alive connections: a request goes out when due
    on an idle connection, or as soon as one frees up (a backlog that only forms when `size`
    requests are in flight); answers are timed and checked as they arrive."""

    def __init__(self, url: str, size: int = _POOL, timeout_s: float = _TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
        https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if https else 80)
        self._tls = ssl.create_default_context() if https else None
        self._authority = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")
        self._size = size
        self._timeout_s = timeout_s
        self._idle: list[_Conn] = []
        self._opened: list[_Conn] = []  # every connection, to close them all at the end
        self._backlog: deque[tuple[int, float, bytes]] = deque()
        self._live = 0  # connections open or being opened
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: asyncio.Future[None] | None = None
        self._reset(0, 1)

    async def start(self) -> None:
        for _ in range(self._size):
            self._live += 1
            self._idle.append(await self._connect())

    def close(self) -> None:
        for conn in self._opened:
            conn.close()
        self._idle.clear()
        self._opened.clear()
        for task in self._tasks:
            task.cancel()

    async def run(
        self,
        view: str,
        entities: list[str],
        batch: int,
        rate: float,
        duration_s: float,
        rng: random.Random,
    ) -> dict[str, Any]:
        n = max(1, int(rate * duration_s))
        self._reset(n, batch)
        done = self._done = asyncio.get_running_loop().create_future()
        clock = time.perf_counter
        start = clock() + 0.01
        for i in range(n):
            keys = rng.sample(entities, batch) if batch > 1 else [rng.choice(entities)]
            request = self._request(view, keys)
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - clock() - _SPIN_S))  # answers land meanwhile
            while clock() < scheduled:
                pass
            self._submit(i, scheduled, request)
        await done
        elapsed = self._last - start
        return {
            "kind": "GET /features/{view}/{entity}" if batch == 1 else "POST /features/{view}",
            "entities_per_request": batch,
            "requests": n,
            # answers per second: below the rate, the server (or this generator) fell behind
            "achieved_rate_per_s": round(n / elapsed, 1),
            "saturated": n / elapsed < 0.95 * rate,
            "errors": self._errors,
            "not_found": self._missing,
            "max_in_flight": self._peak,
            "latency_ms": latency_summary(self._latency),
            "service_ms": latency_summary(self._service),
            "send_lag_ms": latency_summary(self._lag),
        }

    def _reset(self, n: int, batch: int) -> None:
        self._batch = batch
        self._latency = np.zeros(n)
        self._service = np.zeros(n)
        self._lag = np.zeros(n)
        self._errors = self._missing = self._in_flight = self._peak = 0
        self._pending = n
        self._last = 0.0
        self._done = None

    def _request(self, view: str, keys: list[str]) -> bytes:
        path = f"{self._prefix}/features/{quote(view, safe='')}"
        head = f"HTTP/1.1\r\nHost: {self._authority}\r\nAccept: application/json\r\n"
        if self._batch == 1:
            return f"GET {path}/{quote(keys[0], safe='')} {head}\r\n".encode()
        body = orjson.dumps({"entities": keys})
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return f"POST {path} {head}{length}".encode() + body

    def _submit(self, i: int, scheduled: float, request: bytes) -> None:
        while self._idle and not self._backlog:
            conn = self._idle.pop()
            if conn.open:
                self._send(conn, i, scheduled, request)
                return
            self._live -= 1  # the server closed it while idle
        self._backlog.append((i, scheduled, request))
        if self._live < self._size:
            self._grow()

    def _send(self, conn: _Conn, i: int, scheduled: float, request: bytes) -> None:
        sent = time.perf_counter()
        self._lag[i] = sent - scheduled
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        conn.send(request, self._timeout_s, (i, scheduled, sent))

    def _answer(self, conn: _Conn, status: int, body: bytes) -> None:
        self._in_flight -= 1
        self._finish(*conn.tag, status, body)
        if not conn.open:
            self._live -= 1
            if self._backlog and self._live < self._size:
                self._grow()
        elif self._backlog:
            self._send(conn, *self._backlog.popleft())
        else:
            self._idle.append(conn)

    def _finish(self, i: int, scheduled: float, sent: float, status: int, body: bytes) -> None:
        done = time.perf_counter()
        self._latency[i] = done - scheduled
        self._service[i] = done - sent
        try:
            # every answer's status and flags are checked; one in _PARSE_EVERY is parsed whole
            parse = i % _PARSE_EVERY == 0
            self._missing += _not_found(status, body, self._batch, parse)
        except ValueError:
            self._errors += 1
        self._last = done
        self._pending -= 1
        if self._pending == 0 and self._done is not None:
            self._done.set_result(None)

    def _grow(self) -> None:
        self._live += 1
        task = asyncio.get_running_loop().create_task(self._reconnect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self) -> None:
        try:
            conn = await self._connect()
        except OSError:
            self._live -= 1
            while self._backlog:  # the server is gone: what waits for a connection fails
                i, scheduled, _ = self._backlog.popleft()
                self._lag[i] = time.perf_counter() - scheduled
                self._finish(i, scheduled, time.perf_counter(), 0, b"")
            return
        if self._backlog:
            self._send(conn, *self._backlog.popleft())
        else:
            self._idle.append(conn)

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: _Conn(self._answer), self._host, self._port, ssl=self._tls
        )
        self._opened.append(conn)
        return conn


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight. `on_answer` gets each
    answer's status and body as soon as it is complete, or status 0 if the connection failed or
    timed out first (it is then closed). Answers are framed by their Content-Length, which
    aiohttp sends with every body."""

    def __init__(self, on_answer: Callable[[_Conn, int, bytes], None]) -> None:
        self.on_answer = on_answer
        self.open = False
        self.tag: tuple[int, float, float] = (0, 0.0, 0.0)  # the generator's, for the answer
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._buf = bytearray()
        self._busy = self._closing = False
        self._status = 0
        self._body_at = self._end = -1  # where the body starts and ends, once the head is in

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.open = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._give_up()

    def send(self, request: bytes, timeout_s: float, tag: tuple[int, float, float]) -> None:
        assert self._transport is not None and not self._busy
        self.tag = tag
        self._busy = True
        self._timer = asyncio.get_running_loop().call_later(timeout_s, self._give_up)
        self._transport.write(request)

    def close(self) -> None:
        self.open = False
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if self._end < 0:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(buf[:head_end]).lower()
            length = _LENGTH.search(head)
            if not self._busy or length is None or not head[9:12].isdigit():
                self._give_up()  # an answer nobody asked for, or one this client cannot frame
                return
            self._status = int(head[9:12])
            self._body_at = head_end + 4
            self._end = self._body_at + int(length[1])
            self._closing = b"\r\nconnection: close" in head
        if len(buf) < self._end:
            return
        body = bytes(buf[self._body_at : self._end])
        del buf[: self._end]
        self._end = -1
        if self._closing:
            self.close()
        self._complete(self._status, body)

    def _give_up(self) -> None:
        self.close()
        if self._busy:
            self._complete(0, b"")

    def _complete(self, status: int, body: bytes) -> None:
        self._busy = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.on_answer(self, status, body)


def _not_found(status: int, body: bytes, batch: int, parse: bool = True) -> int:
    """How many entities an answer did not find; ValueError unless it is a 200 answer of the
    serving API for `batch` entities. Without `parse`, the compact ``"found":`` flags are
    counted instead (exact for this API's answers: ids and names are JSON strings, values
    numbers or null, so the flags cannot appear elsewhere; a third of the generator's CPU on a
    batch of 100), and an answer whose flags do not add up is parsed."""
    if status != 200:
        raise ValueError(f"answered {status}" if status else "no answer")
    if not parse:
        missing = body.count(b'"found":false')
        if body.count(b'"found":true') + missing == batch:
            return missing
    try:
        answer = orjson.loads(body)
        results = [answer] if batch == 1 else answer["results"]
        if len(results) != batch:
            raise ValueError(f"{len(results)} results for {batch} entities")
        return sum(not r["found"] for r in results)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an answer of the serving API: {exc!r}") from exc
