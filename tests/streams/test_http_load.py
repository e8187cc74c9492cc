"""The serving benchmark's load generator: its HTTP/1.1 framing, the checks of every answer, and
open-loop sending over a pool of connections, against an in-process aiohttp server (the real
worker runs in `python -m streams.serving_bench`)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from featurestore.answers import block_of, render_answers
from featurestore.store import StoredVector
from streams.http_load import LoadGenerator, _Conn, _not_found

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ENTITIES = [f"e{i}" for i in range(50)]
KNOWN = set(ENTITIES[::2])


def _one(entity: str) -> dict[str, Any]:
    found = entity in KNOWN
    return {
        "entity": entity,
        "found": found,
        "values": {"x": 1.0} if found else None,
        "event_ts": 1 if found else None,
        "age_ms": 2 if found else None,
        "written_at": 3 if found else None,
    }


async def _get(request: web.Request) -> web.Response:
    answer = {"view": request.match_info["view"], "version": 1}
    return web.json_response({**answer, **_one(request.match_info["entity"])})


async def _post(request: web.Request) -> web.Response:
    entities = orjson.loads(await request.read())["entities"]
    results = [_one(e) for e in entities]
    return web.json_response({"view": request.match_info["view"], "version": 1, "results": results})


async def _serve(get: Handler = _get, post: Handler = _post) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/api/features/{view}/{entity}", get)
    app.router.add_post("/api/features/{view}", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/api"


@contextlib.asynccontextmanager
async def served(get: Handler = _get) -> AsyncIterator[str]:
    runner, base = await _serve(get=get)
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with served() as base:
        yield base


async def run_load(
    generator: LoadGenerator, batch: int, duration_s: float, rate: float = 1000.0, seed: int = 0
) -> dict[str, Any]:
    """Start `generator`, send `batch`-entity requests of view "txn" for `duration_s`, close it."""
    try:
        await generator.start()
        return await generator.run("txn", ENTITIES, batch, rate, duration_s, random.Random(seed))
    finally:
        generator.close()


def held_until(n: int) -> tuple[Handler, list[int]]:
    """A GET handler that answers nothing until `n` requests are in, and the list they arrive in."""
    arrived: list[int] = []
    all_in = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        arrived.append(1)
        if len(arrived) == n:
            all_in.set()
        await all_in.wait()
        return await _get(request)

    return held, arrived


def expected_missing(batch: int, seed: int, n: int) -> int:
    rng = random.Random(seed)
    missing = 0
    for _ in range(n):
        keys = rng.sample(ENTITIES, batch) if batch > 1 else [rng.choice(ENTITIES)]
        missing += sum(k not in KNOWN for k in keys)
    return missing


@pytest.mark.parametrize("batch", [1, 7])
async def test_every_request_is_answered_checked_and_timed(url: str, batch: int) -> None:
    res = await run_load(LoadGenerator(url, size=4), batch, 0.1, rate=2000.0, seed=3)
    assert res["requests"] == 200
    assert res["errors"] == 0
    assert res["not_found"] == expected_missing(batch, 3, 200)
    assert res["entities_per_request"] == batch
    assert res["kind"] == (
        "GET /features/{view}/{entity}" if batch == 1 else "POST /features/{view}"
    )
    assert 1 <= res["max_in_flight"] <= 4
    for key in ("latency_ms", "service_ms", "send_lag_ms"):
        assert set(res[key]) == {"p50", "p95", "p99", "p99.9", "max", "mean"}
    # from the scheduled time: never less than from the actual send
    assert res["latency_ms"]["max"] >= res["service_ms"]["max"] > 0


async def test_requests_go_out_without_waiting_for_earlier_answers() -> None:
    # the server answers nothing until 6 requests are in: a closed loop would time out
    held, _ = held_until(6)
    async with served(get=held) as base:
        res = await run_load(LoadGenerator(base, size=8, timeout_s=30.0), 1, 0.006)
    assert (res["requests"], res["errors"], res["max_in_flight"]) == (6, 0, 6)


async def test_a_small_pool_queues_requests_until_a_connection_frees() -> None:
    # 4 requests held on 2 connections: the last 2 wait for the first answers
    held, arrived = held_until(2)
    async with served(get=held) as base:
        res = await run_load(LoadGenerator(base, size=2, timeout_s=30.0), 1, 0.004)
    assert (res["requests"], res["errors"], res["max_in_flight"], len(arrived)) == (4, 0, 2, 4)


async def test_error_answers_and_dropped_connections_count_as_errors() -> None:
    calls: list[int] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        if len(calls) % 3 == 1:
            return web.json_response({"error": "boom"}, status=500)
        if len(calls) % 3 == 2:
            assert request.transport is not None
            request.transport.close()  # no answer at all
            return web.Response()
        return await _get(request)

    async with served(get=flaky) as base:
        res = await run_load(LoadGenerator(base, size=2), 1, 0.03)
    assert res["requests"] == 30
    assert res["errors"] == 20  # the pool reconnected after each drop


async def test_a_server_that_went_away_fails_every_request_and_the_run_ends() -> None:
    runner, base = await _serve()
    generator = LoadGenerator(base, size=2)
    await generator.start()
    await runner.cleanup()  # closes the pool's idle connections
    try:
        res = await generator.run("txn", ENTITIES, 5, 1000.0, 0.01, random.Random(0))
    finally:
        generator.close()
    assert (res["requests"], res["errors"], res["not_found"]) == (10, 10, 0)


async def test_a_slow_answer_times_out_as_an_error() -> None:
    never = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        await never.wait()
        raise AssertionError("unreachable")

    async with served(get=stuck) as base:
        try:
            res = await run_load(LoadGenerator(base, size=2, timeout_s=0.05), 1, 0.002)
        finally:
            never.set()  # before the server's cleanup, which waits for its handlers
    assert (res["requests"], res["errors"]) == (2, 2)


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


def _conn() -> tuple[_Conn, FakeTransport, list[tuple[int, bytes]]]:
    answers: list[tuple[int, bytes]] = []
    conn = _Conn(lambda c, status, body: answers.append((status, body)))
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]  # the two methods _Conn uses
    return conn, transport, answers


ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCONTENT-LENGTH: 14\r\n"
    b'Date: Sun, 23 Nov 2025 04:00:00 GMT\r\n\r\n{"found":true}'
)


@pytest.mark.parametrize("step", [1, 2, 7, len(ANSWER)])
async def test_answers_are_framed_by_content_length_however_they_arrive(step: int) -> None:
    conn, transport, answers = _conn()
    for round_ in range(2):  # keep-alive: the same connection answers twice
        conn.send(b"GET / HTTP/1.1\r\n\r\n", 5.0, (round_, 0.0, 0.0))
        for i in range(0, len(ANSWER), step):
            assert answers == [(200, b'{"found":true}')] * round_
            conn.data_received(ANSWER[i : i + step])
        assert answers == [(200, b'{"found":true}')] * (round_ + 1)
    assert conn.open and not transport.closed
    assert transport.sent == [b"GET / HTTP/1.1\r\n\r\n"] * 2


async def test_connection_close_answers_then_closes() -> None:
    conn, transport, answers = _conn()
    conn.send(b"GET / HTTP/1.1\r\n\r\n", 5.0, (0, 0.0, 0.0))
    conn.data_received(
        b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert answers == [(404, b"{}")]
    assert transport.closed and not conn.open


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",  # no length: this client cannot frame it
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2",
        b"garbage\r\nContent-Length: 2",
    ],
)
async def test_an_answer_it_cannot_read_fails_the_request_and_the_connection(head: bytes) -> None:
    conn, transport, answers = _conn()
    conn.send(b"GET / HTTP/1.1\r\n\r\n", 5.0, (0, 0.0, 0.0))
    conn.data_received(head + b"\r\n\r\n{}")
    assert answers == [(0, b"")]
    assert transport.closed and not conn.open


async def test_unasked_data_or_a_lost_connection_closes_it_and_answers_once() -> None:
    conn, transport, answers = _conn()
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert answers == [] and transport.closed
    conn, transport, answers = _conn()
    conn.send(b"GET / HTTP/1.1\r\n\r\n", 5.0, (0, 0.0, 0.0))
    conn.connection_lost(None)
    conn.connection_lost(None)
    assert answers == [(0, b"")]


@pytest.mark.parametrize(
    ("status", "body", "batch", "missing"),
    [
        (200, b'{"entity":"a","found":true}', 1, 0),
        (200, b'{"entity":"a","found":false}', 1, 1),
        (200, b'{"results":[{"found":true},{"found":false},{"found":false}]}', 3, 2),
    ],
)
def test_not_found_counts_the_misses(status: int, body: bytes, batch: int, missing: int) -> None:
    assert _not_found(status, body, batch) == missing
    assert _not_found(status, body, batch, parse=False) == missing


@pytest.mark.parametrize(
    ("status", "body", "batch"),
    [
        (0, b"", 1),  # no answer
        (500, b'{"error":"x"}', 1),
        (404, b'{"error":"unknown feature view"}', 3),
        (200, b"not json", 1),
        (200, b'{"results":[{"found":true}]}', 2),  # a result short
        (200, b'{"entity":"a"}', 1),
        (200, b'{"found":true}', 2),
        (200, b"[1, 2]", 2),
    ],
)
def test_not_found_refuses_what_is_not_an_answer(status: int, body: bytes, batch: int) -> None:
    with pytest.raises(ValueError):
        _not_found(status, body, batch)
    with pytest.raises(ValueError):  # counting sees it too: by status or flags
        _not_found(status, body, batch, parse=False)


async def test_counting_agrees_with_parsing_on_real_answers() -> None:
    names = ("found", 'n"found":true', "x")  # names and ids that look like flags
    vectors = [StoredVector({n: float(i) for n in names}, i, i) for i in range(3)]
    keys = ['"found":false', "b", '\\"found\\":true']
    for k in range(4):
        vecs = [v if j < k else None for j, v in enumerate(vectors)]
        body = render_answers("v", 1, names, keys, block_of(vecs, names), 10)
        assert _not_found(200, body, 3, parse=False) == _not_found(200, body, 3) == 3 - k
        single = render_answers("v", 1, names, keys[:1], block_of(vecs[:1], names), 10, True)
        assert _not_found(200, single, 1, parse=False) == _not_found(200, single, 1)


def test_the_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        LoadGenerator("ftp://127.0.0.1:1")
