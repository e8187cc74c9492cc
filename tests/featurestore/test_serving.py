"""Feature serving: `FeatureServer` over the in-memory store, and `FeatureClient`'s HTTP
handling against a canned local server (the real worker is in tests/integration)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest

from featurestore import (
    AsyncFeatureClient,
    BatchTooLargeError,
    FeatureClient,
    FeatureRecord,
    FeatureServer,
    FeatureServingError,
    FeatureStoreError,
    FeatureVector,
    FeatureView,
    InMemoryStore,
    InvalidRequestError,
    StoredVector,
    StoreUnavailableError,
    Transform,
    UnknownViewError,
)

VIEW = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"))
OTHER = FeatureView("clicks", window="1m", fields=("x",), aggregations=("count",), version=3)
NOW_S = 2_000.0  # the server's clock, seconds


def rec(entity: str, ts: int, values: list[float], view: FeatureView = VIEW) -> FeatureRecord:
    return FeatureRecord(
        "e", entity, ts, values, None, view.name, view.version, names=view.feature_names
    )


@pytest.fixture
async def store() -> InMemoryStore:
    s = InMemoryStore()
    await s.write_many(VIEW, [rec("a", 1_999_000, [1.0, 2.0, 3.0]), rec("b", 1_990_500, [4, 5, 6])])
    await s.write_many(OTHER, [rec("a", 1_000, [7.0, 1.0], OTHER)])
    return s


def server(store: Any, **kwargs: Any) -> FeatureServer:
    return FeatureServer(store, {"txn": VIEW, "clicks": OTHER}, clock=lambda: NOW_S, **kwargs)


async def test_get_found_answers_values_times_and_age(store: InMemoryStore) -> None:
    answer = await server(store).get("txn", "a")
    written_at = answer.pop("written_at")
    assert answer == {
        "view": "txn",
        "version": 1,
        "entity": "a",
        "found": True,
        "values": {"x": 1.0, "count_10s": 2.0, "x_mean_10s": 3.0},
        "event_ts": 1_999_000,
        "age_ms": 1_000,
    }
    assert isinstance(written_at, int) and written_at > 1_600_000_000_000  # wall clock, ms
    other = await server(store).get("clicks", "a")
    assert (other["version"], other["values"], other["age_ms"]) == (
        3,
        {"x": 7, "count_1m": 1},
        1_999_000,
    )


async def test_missing_entity_is_not_found_not_an_error(store: InMemoryStore) -> None:
    assert await server(store).get("txn", "nobody") == {
        "view": "txn",
        "version": 1,
        "entity": "nobody",
        "found": False,
        "values": None,
        "event_ts": None,
        "age_ms": None,
        "written_at": None,
    }
    # the same entity in another view is another vector
    assert (await server(store).get("clicks", "b"))["found"] is False


@pytest.mark.parametrize("call", ["get", "get_many"])
async def test_unknown_view_names_the_view_and_the_served_ones(
    store: InMemoryStore, call: str
) -> None:
    srv = server(store)
    with pytest.raises(UnknownViewError) as info:
        await (srv.get("nope", "a") if call == "get" else srv.get_many("nope", ["a"]))
    assert isinstance(info.value, KeyError) and isinstance(info.value, FeatureStoreError)
    assert info.value.view == "nope"
    assert str(info.value) == "unknown feature view 'nope'; serving ['clicks', 'txn']"


async def test_batch_answers_in_request_order_with_duplicates_and_misses(
    store: InMemoryStore,
) -> None:
    answer = await server(store).get_many("txn", ["b", "zz", "a", "b", 42])
    assert (answer["view"], answer["version"]) == ("txn", 1)
    results = answer["results"]
    assert [(r["entity"], r["found"]) for r in results] == [
        ("b", True),
        ("zz", False),
        ("a", True),
        ("b", True),
        ("42", False),
    ]
    assert [r["age_ms"] for r in results] == [9_500, None, 1_000, 9_500, None]
    # each batch item is the single answer without view and version
    single = await server(store).get("txn", "b")
    assert results[0] == {k: v for k, v in single.items() if k not in ("view", "version")}


RESULT_KEYS = ["entity", "found", "values", "event_ts", "age_ms", "written_at"]


async def test_answers_keep_their_key_order_with_and_without_transforms(
    store: InMemoryStore,
) -> None:
    # the JSON the web layer sends is these dicts in insertion order
    def same(values: dict[str, float]) -> dict[str, float]:
        return values

    for srv in (server(store), server(store, transforms={"txn": same})):
        single = await srv.get("txn", "a")
        assert list(single) == ["view", "version", *RESULT_KEYS]
        batch = await srv.get_many("txn", ["a", "zz", "a"])
        assert list(batch) == ["view", "version", "results"]
        assert [list(r) for r in batch["results"]] == [RESULT_KEYS] * 3
        assert batch["results"][0] == batch["results"][2]
        assert batch["results"][0] is not batch["results"][2]
        missing = await srv.get_many("txn", ["zz", "zz"])
        assert missing["results"][0] is not missing["results"][1]  # fresh dicts, not shared
    plain, transformed = server(store), server(store, transforms={"txn": same})
    entities: list[str | int] = ["b", "zz", "a", 42, "b"]
    assert orjson.dumps(await plain.get_many("txn", entities)) == orjson.dumps(
        await transformed.get_many("txn", entities)
    )


async def test_json_answers_are_the_dict_answers_serialized(store: InMemoryStore) -> None:
    """The web layer sends `get_json`/`get_many_json`: the bytes of the dict answers, through
    the block renderer without transforms and through the dicts with them."""

    def doubled(values: dict[str, float]) -> dict[str, float]:
        return {k: 2 * v for k, v in values.items()}

    entities: list[str | int] = ["b", "zz", "a", 42, "b", '\u00e9"x']
    for srv in (server(store), server(store, transforms={"txn": doubled})):
        for view in ("txn", "clicks"):
            for e in ("a", "zz", 7):
                assert await srv.get_json(view, e) == orjson.dumps(await srv.get(view, e))
            assert await srv.get_many_json(view, entities) == orjson.dumps(
                await srv.get_many(view, entities)
            )
            assert await srv.get_many_json(view, []) == orjson.dumps(await srv.get_many(view, []))
    with_fields = await server(store).get_json("txn", "a", {"x": 1.0})
    assert with_fields == orjson.dumps(await server(store).get("txn", "a", {"x": 1.0}))


async def test_json_answers_validate_like_the_dict_ones(store: InMemoryStore) -> None:
    srv = server(store, max_batch=2)
    with pytest.raises(UnknownViewError):
        await srv.get_json("nope", "a")
    with pytest.raises(UnknownViewError):
        await srv.get_many_json("nope", ["a"])
    with pytest.raises(BatchTooLargeError):
        await srv.get_many_json("txn", ["a", "b", "c"])
    with pytest.raises(InvalidRequestError, match="list of entity ids"):
        await srv.get_many_json("txn", "ab")
    for bad in ("", 1.5, None, True):
        with pytest.raises(InvalidRequestError, match="non-empty strings or integers"):
            await srv.get_json("txn", bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="non-empty strings or integers"):
            await srv.get_many_json("txn", ["a", bad])  # type: ignore[list-item]


class CountingStore:
    def __init__(self, inner: InMemoryStore) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def write_many(self, view: FeatureView, records: Any) -> int:
        return await self.inner.write_many(view, records)

    async def read_many(
        self, view: FeatureView, entities: Sequence[str]
    ) -> list[StoredVector | None]:
        self.calls.append(list(entities))
        return await self.inner.read_many(view, entities)


async def test_one_store_round_trip_per_batch_and_none_for_an_empty_one(
    store: InMemoryStore,
) -> None:
    counting = CountingStore(store)
    srv = server(counting)
    await srv.get_many("txn", ["a", "b", "c"])
    assert (await srv.get_many("txn", []))["results"] == []
    assert counting.calls == [["a", "b", "c"]]


async def test_transforms_apply_to_a_copy_of_found_values_of_their_view(
    store: InMemoryStore,
) -> None:
    def double_and_mutate(values: dict[str, float]) -> dict[str, float]:
        out = {f"{k}_x2": 2 * v for k, v in values.items()}
        values.clear()  # must not reach the stored vector
        return out

    srv = server(store, transforms={"txn": double_and_mutate})
    assert (await srv.get("txn", "a"))["values"] == {
        "x_x2": 2.0,
        "count_10s_x2": 4.0,
        "x_mean_10s_x2": 6.0,
    }
    batch = await srv.get_many("txn", ["a", "nobody"])
    assert batch["results"][0]["values"]["x_x2"] == 2.0
    assert batch["results"][1]["values"] is None
    assert (await srv.get("clicks", "a"))["values"] == {"x": 7.0, "count_1m": 1.0}
    assert (await server(store).get("txn", "a"))["values"]["x"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch": 0}, "max_batch"),
        ({"transforms": {"ghost": dict}}, "ghost"),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureServer(InMemoryStore(), {"txn": VIEW}, **kwargs)


@pytest.mark.parametrize("entity", ["", None, True, 1.5, ["a"], {"a": 1}])
async def test_invalid_entities_are_rejected(store: InMemoryStore, entity: Any) -> None:
    with pytest.raises(InvalidRequestError, match="entity ids must be"):
        await server(store).get_many("txn", ["a", entity])
    with pytest.raises(InvalidRequestError):
        await server(store).get("txn", entity)


async def test_batch_limit_and_entity_list_type(store: InMemoryStore) -> None:
    srv = server(store, max_batch=3)
    assert len((await srv.get_many("txn", ["a"] * 3))["results"]) == 3
    with pytest.raises(BatchTooLargeError, match="4 entities in one request; at most 3") as info:
        await srv.get_many("txn", ["a"] * 4)
    assert info.value.status == 413 and isinstance(info.value, InvalidRequestError)
    with pytest.raises(InvalidRequestError, match="list of entity ids"):
        await srv.get_many("txn", "ab")


@pytest.mark.parametrize(
    ("body", "entities"),
    [
        (b'{"entities": ["a", "b"]}', ["a", "b"]),
        (b'{"entities": [7, "a"]}', [7, "a"]),
        (b'{"entities": []}', []),
    ],
)
def test_parse_entities_accepts(body: bytes, entities: list[Any]) -> None:
    assert server(InMemoryStore()).parse_entities(body) == entities


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "not valid JSON"),
        (b"{entities", 400, "not valid JSON"),
        (b'["a"]', 400, "must be a JSON object"),
        (b"{}", 400, "'entities' must be a list"),
        (b'{"entities": "a"}', 400, "'entities' must be a list"),
        (b'{"entities": ["a"], "features": ["x"]}', 400, "unknown request keys \\['features'\\]"),
        (b'{"entities": ["a", null]}', 400, "entity ids must be"),
        (b'{"entities": [""]}', 400, "entity ids must be"),
        (b'{"entities": ["a", "b", "c", "d"]}', 413, "at most 3"),
    ],
)
def test_parse_entities_rejects(body: bytes, status: int, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as info:
        server(InMemoryStore(), max_batch=3).parse_entities(body)
    assert info.value.status == status


async def test_store_outage_propagates_as_retriable() -> None:
    class Down(CountingStore):
        async def read_many(
            self, view: FeatureView, entities: Sequence[str]
        ) -> list[StoredVector | None]:
            raise StoreUnavailableError("Redis read failed")

    with pytest.raises(StoreUnavailableError) as info:
        await server(Down(InMemoryStore())).get("txn", "a")
    assert info.value.retriable


# --- FeatureClient against a canned HTTP/1.1 server -------------------------------------------


class Canned(BaseHTTPRequestHandler):
    """Answers from `routes`: path -> (status, body); records each request and its connection."""

    protocol_version = "HTTP/1.1"
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}
    seen: ClassVar[list[tuple[str, str, bytes, int]]] = []
    close_after: ClassVar[set[str]] = set()

    def _answer(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.seen.append((self.command, self.path, body, self.client_address[1]))
        status, payload = self.routes.get(self.path, (404, b"404: Not Found"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if self.path in self.close_after:
            # drop the keep-alive connection silently, as an idle timeout would
            self.close_connection = True

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def canned() -> Iterator[str]:
    Canned.routes, Canned.seen, Canned.close_after = {}, [], set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


FOUND = {
    "entity": "a/b c",
    "found": True,
    "values": {"x": 1.5},
    "event_ts": 10,
    "age_ms": 5,
    "written_at": 12,
}
MISSING = {k: None for k in FOUND} | {"entity": "m", "found": False}


def test_client_get_and_get_many_reuse_one_connection(canned: str) -> None:
    Canned.routes["/features/txn/a%2Fb%20c"] = (200, orjson.dumps({"view": "txn", **FOUND}))
    Canned.routes["/features/txn"] = (200, orjson.dumps({"results": [FOUND, MISSING]}))
    with FeatureClient(canned) as client:
        assert client.get("txn", "a/b c") == FeatureVector("a/b c", True, {"x": 1.5}, 10, 5, 12)
        vecs = client.get_many("txn", ["a/b c", "m"])
        assert client.get("txn", "a/b c").found
    assert vecs == [
        FeatureVector("a/b c", True, {"x": 1.5}, 10, 5, 12),
        FeatureVector("m", False, None, None, None, None),
    ]
    assert Canned.seen[1][:3] == ("POST", "/features/txn", b'{"entities":["a/b c","m"]}')
    assert len({port for *_, port in Canned.seen}) == 1  # one keep-alive connection


def test_client_reconnects_once_after_the_server_closed_the_connection(canned: str) -> None:
    Canned.routes["/features/txn/a"] = (200, orjson.dumps({"view": "txn", **FOUND}))
    Canned.close_after.add("/features/txn/a")
    with FeatureClient(canned) as client:
        for _ in range(3):
            assert client.get("txn", "a").values == {"x": 1.5}
    assert len(Canned.seen) == 3
    assert len({port for *_, port in Canned.seen}) == 3


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            404,
            b'{"error": "unknown feature view \'v\'; serving [\'txn\']", "view": "v"}',
            UnknownViewError,
            "unknown feature view 'v'; serving \\['txn'\\]",
        ),
        (
            400,
            b'{"error": "request body is not valid JSON"}',
            InvalidRequestError,
            "not valid JSON",
        ),
        (
            413,
            b'{"error": "5 entities in one request; at most 3"}',
            BatchTooLargeError,
            "at most 3",
        ),
        (503, b'{"error": "Redis read failed"}', FeatureServingError, "503: Redis read failed"),
        (404, b"404: Not Found", FeatureServingError, "404: 404: Not Found"),
    ],
)
def test_client_maps_http_errors(
    canned: str, status: int, body: bytes, error: type[Exception], message: str
) -> None:
    Canned.routes["/features/v/a"] = (status, body)
    with FeatureClient(canned) as client, pytest.raises(error, match=message) as info:
        client.get("v", "a")
    if isinstance(info.value, UnknownViewError):
        assert info.value.view == "v"
    if isinstance(info.value, FeatureServingError):
        assert info.value.status == status and info.value.retriable is (status >= 500)


def test_client_unreachable_server_is_a_retriable_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(FeatureServingError, match="cannot reach") as info:
            FeatureClient(f"http://127.0.0.1:{port}", timeout=1).get("v", "a")
    assert info.value.status is None and info.value.retriable


@pytest.mark.parametrize("url", ["127.0.0.1:6066", "ftp://h", "http://"])
def test_client_validates_base_url(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        FeatureClient(url)
    with pytest.raises(ValueError, match="base_url"):
        AsyncFeatureClient(url)


async def test_async_client_matches_the_blocking_one(canned: str) -> None:
    Canned.routes["/features/txn/a%2Fb%20c"] = (200, orjson.dumps({"view": "txn", **FOUND}))
    Canned.routes["/features/txn"] = (200, orjson.dumps({"results": [FOUND, MISSING]}))
    Canned.routes["/features/v/a"] = (404, b'{"error": "unknown feature view \'v\'"}')
    with FeatureClient(canned) as blocking:
        expected = blocking.get("txn", "a/b c")
    async with AsyncFeatureClient(canned + "/") as client:
        assert await client.get("txn", "a/b c") == expected
        assert [v.found for v in await client.get_many("txn", ["a/b c", "m"])] == [True, False]
        with pytest.raises(UnknownViewError, match="unknown feature view 'v'"):
            await client.get("v", "a")


SCORED = FeatureView(
    "scored",
    window="10s",
    fields=("x",),
    aggregations=("count", "mean"),
    transforms=(
        Transform("ratio", ("x", "x_mean_10s"), alias="x_vs_mean"),
        Transform("one_hot", ("channel",), categories=("web", "app")),
    ),
)


async def test_request_fields_recompute_the_transforms_over_the_stored_vector() -> None:
    mem = InMemoryStore()
    # as the stream wrote it: x=4, mean 2, so ratio 2; the event came from the web
    await mem.write_many(SCORED, [rec("a", 1_999_000, [4.0, 2.0, 2.0, 2.0, 1.0, 0.0], SCORED)])
    srv = FeatureServer(mem, {"scored": SCORED}, clock=lambda: NOW_S)
    stored = (await srv.get("scored", "a"))["values"]
    assert (stored["x_vs_mean"], stored["channel=web"]) == (2.0, 1.0)
    scored = (await srv.get("scored", "a", {"channel": "app", "x": "9"}))["values"]
    assert scored["x_vs_mean"] == 4.5 and (scored["channel=web"], scored["channel=app"]) == (0, 1)
    assert scored["x_mean_10s"] == 2.0  # stored aggregates are served as written
    many = await srv.get_many("scored", ["a", "nobody"], {"channel": "app"})
    assert many["results"][0]["values"]["channel=app"] == 1.0 and not many["results"][1]["found"]
    with pytest.raises(InvalidRequestError, match="needs numbers"):
        await srv.get("scored", "a", {"x": "lots"})
    assert srv.parse_request(b'{"entities": ["a"], "fields": {"channel": "web"}}') == (
        ["a"],
        {"channel": "web"},
    )
    with pytest.raises(InvalidRequestError, match="fields"):
        srv.parse_request(b'{"entities": ["a"], "fields": ["web"]}')
