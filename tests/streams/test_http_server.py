"""`riffle serve`'s HTTP/1.1 server: framing, keep-alive, pipelining and errors, over raw
sockets (the routes against the real Redis and next to the worker's aiohttp server are in
tests/integration/test_serving_http.py). The store here is the in-memory one: these tests are
about HTTP, not Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from featurestore import FeatureRecord, FeatureServer, FeatureView, InMemoryStore
from streams.http_server import FeatureHTTPServer

VIEW = FeatureView("txn", window="10s", fields=("x",), aggregations=("count",))
NOW_S = 2_000.0


async def healthy() -> tuple[int, bytes]:
    return 200, b'{"ok":true}'


@pytest.fixture
async def http() -> AsyncIterator[FeatureHTTPServer]:
    store = InMemoryStore()
    names = VIEW.feature_names
    await store.write_many(
        VIEW,
        [
            FeatureRecord("e", e, 1_999_000, [1.0, 2.0], None, "txn", 1, names=names)
            for e in ("a", "b/c", "é")
        ],
    )
    features = FeatureServer(store, {"txn": VIEW}, clock=lambda: NOW_S)
    server = FeatureHTTPServer(features, healthy, max_body=4096, keepalive_s=0.3)
    server.port = await server.start("127.0.0.1", 0)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        await server.stop()


async def connect(http: FeatureHTTPServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", http.port)  # type: ignore[attr-defined]


async def response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response off the stream: status, headers (lower-cased names), body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(
        (k.strip().lower(), v.strip()) for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)
    )
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def test_get_answers_the_feature_servers_bytes(http: FeatureHTTPServer) -> None:
    reader, writer = await connect(http)
    writer.write(get("/features/txn/a"))
    status, headers, body = await response(reader)
    assert status == 200 and headers["content-type"] == "application/json"
    assert body == await http.features.get_json("txn", "a")
    assert "connection" not in headers and "date" in headers
    writer.close()


async def test_pipelined_requests_are_answered_in_order_on_one_connection(
    http: FeatureHTTPServer,
) -> None:
    reader, writer = await connect(http)
    entities = ["a", "nobody", "b%2Fc", "%C3%A9"] * 10
    batch = orjson.dumps({"entities": ["é", "a", "zz"]})
    # all written at once, split at odd places: the parser must reassemble them
    stream = b"".join(get(f"/features/txn/{e}") for e in entities) + post("/features/txn", batch)
    for i in range(0, len(stream), 37):
        writer.write(stream[i : i + 37])
    for e in entities:
        status, _, body = await response(reader)
        answer = orjson.loads(body)
        expected = {"%C3%A9": "é", "b%2Fc": "b/c"}.get(e, e)
        assert status == 200 and answer["entity"] == expected
        assert answer["found"] == (e != "nobody")
    status, _, body = await response(reader)
    assert [r["found"] for r in orjson.loads(body)["results"]] == [True, True, False]
    writer.close()


async def test_chunked_bodies_and_expect_continue_are_understood(
    http: FeatureHTTPServer,
) -> None:
    reader, writer = await connect(http)
    body = orjson.dumps({"entities": ["a"]})
    writer.write(
        b"POST /features/txn HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    )
    status, _, answer = await response(reader)
    assert status == 200 and orjson.loads(answer)["results"][0]["found"]
    writer.write(
        f"POST /features/txn HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n".encode()
    )
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == (
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
    writer.write(body)
    status, _, answer = await response(reader)
    assert status == 200 and orjson.loads(answer)["results"][0]["entity"] == "a"
    writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (get("/features/nope/a"), 404, "unknown feature view 'nope'"),
        (get("/nowhere"), 404, "no route /nowhere"),
        (get("/features/txn/"), 404, "no route"),
        (post("/features/txn/a", b"{}"), 405, "use GET"),
        (get("/features/txn"), 405, "use POST"),
        (post("/health", b""), 405, "use GET"),
        (post("/features/txn", b"[1"), 400, "not valid JSON"),
        (post("/features/txn", b'{"entities": [true]}'), 400, "entity ids"),
        (get("/features/txn/%FF"), 400, "not valid UTF-8"),
    ],
)
async def test_bad_requests_get_a_json_error_and_the_connection_stays_usable(
    http: FeatureHTTPServer, request_bytes: bytes, status: int, message: str
) -> None:
    reader, writer = await connect(http)
    writer.write(request_bytes + get("/features/txn/a"))
    got, headers, body = await response(reader)
    assert (got, headers["content-type"]) == (status, "application/json")
    assert message in orjson.loads(body)["error"]
    assert (await response(reader))[0] == 200
    writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "malformed HTTP request"),
        (post("/features/txn", b"x" * 5000), 413, "over 4096 bytes"),
        (get("/features/txn/a", "X-Big: " + "y" * 70_000 + "\r\n"), 431, "exceed"),
        (get("/features/txn/a", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), 400, "upgrade"),
    ],
)
async def test_unframeable_requests_are_answered_then_the_connection_is_closed(
    http: FeatureHTTPServer, request_bytes: bytes, status: int, message: str
) -> None:
    reader, writer = await connect(http)
    writer.write(request_bytes)
    got, headers, body = await response(reader)
    assert got == status and headers["connection"] == "close"
    assert message in orjson.loads(body)["error"]
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()


async def test_head_and_health(http: FeatureHTTPServer) -> None:
    reader, writer = await connect(http)
    writer.write(b"HEAD /features/txn/a HTTP/1.1\r\nHost: x\r\n\r\n" + get("/health"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert length == len(await http.features.get_json("txn", "a"))  # no body follows
    status, _, body = await response(reader)
    assert (status, body) == (200, b'{"ok":true}')
    writer.close()


async def test_http10_closes_unless_asked_to_keep_alive(http: FeatureHTTPServer) -> None:
    reader, writer = await connect(http)
    writer.write(b"GET /features/txn/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers, _ = await response(reader)
    assert status == 200 and headers["connection"] == "keep-alive"
    writer.write(b"GET /features/txn/a HTTP/1.0\r\n\r\n")
    status, headers, _ = await response(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_idle_connections_are_closed_and_busy_ones_are_not(
    http: FeatureHTTPServer,
) -> None:
    reader, writer = await connect(http)
    writer.write(get("/features/txn/a"))
    assert (await response(reader))[0] == 200
    # keepalive_s is 0.3 s: the sweeper closes the connection within a sweep or two
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_stop_closes_connections_and_stops_listening(http: FeatureHTTPServer) -> None:
    reader, writer = await connect(http)
    writer.write(get("/features/txn/a"))
    status, _, _ = await response(reader)
    await http.stop()
    assert status == 200
    assert await asyncio.wait_for(reader.read(), 5) == b""  # then the connection closes
    with pytest.raises(OSError):
        await connect(http)
    writer.close()
