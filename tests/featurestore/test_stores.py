"""Online stores: the in-memory twin, and RedisStore against the real Redis."""

from __future__ import annotations

import math
import struct
import time
import types
import uuid

import pytest

from featurestore import (
    FeatureRecord,
    FeatureView,
    InMemoryStore,
    RedisStore,
    StoreUnavailableError,
)
from featurestore.exceptions import StoreSchemaError
from featurestore.store import entity_key

VIEW = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"))
NAMES = VIEW.feature_names  # x, count_10s, x_mean_10s
EXACT = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, math.pi, -2.5e-17]


def rec(entity: str, ts: int, values: list[float], view: FeatureView = VIEW) -> FeatureRecord:
    return FeatureRecord("e", entity, ts, values, None, view.name, view.version, names=NAMES)


def named(values: list[float]) -> dict[str, float]:
    return dict(zip(NAMES, values, strict=True))


def bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(1_000.0)
    monkeypatch.setattr("featurestore.memory_store.time", types.SimpleNamespace(time=c.time))
    return c


async def test_memory_store_round_trip(clock: Clock):
    store = InMemoryStore(prefix="p")
    await store.start()
    assert await store.write_many(VIEW, [rec("a", 5, [1.0, 2.0, 3.0]), rec("b", 7, EXACT[:3])]) == 2
    a, missing, b = await store.read_many(VIEW, ["a", "nobody", "b"])
    assert missing is None
    assert a is not None and b is not None
    assert (a.values, a.event_ts, a.written_at) == (named([1.0, 2.0, 3.0]), 5, 1_000_000)
    assert bits([b.values[n] for n in NAMES]) == bits(EXACT[:3]) and b.event_ts == 7
    await store.stop()


@pytest.mark.parametrize(
    ("ttl", "elapsed", "present"),
    [("10s", 0.0, True), ("10s", 9.999, True), ("10s", 10.0, False), ("1m", 59.5, True),
     (None, 19.9, True), (None, 20.0, False)],
)  # fmt: skip
async def test_memory_store_expires_after_the_view_ttl(
    clock: Clock, ttl: str | None, elapsed: float, present: bool
):
    view = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"), ttl=ttl)
    store = InMemoryStore()
    await store.write_many(view, [rec("a", 5, [1.0, 2.0, 3.0], view)])
    clock.now += elapsed
    (hit,) = await store.read_many(view, ["a"])
    assert (hit is not None) == present


async def test_memory_store_overwrite_refreshes_and_versions_are_separate(clock: Clock):
    store = InMemoryStore()
    v2 = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"), version=2)
    await store.write_many(VIEW, [rec("a", 5, [1.0, 1.0, 1.0])])
    clock.now += 15
    await store.write_many(VIEW, [rec("a", 9, [2.0, 2.0, 2.0])])
    clock.now += 15  # 30 s after the first write, 15 s after the second: ttl is 20 s
    (hit,) = await store.read_many(VIEW, ["a"])
    assert hit is not None and hit.event_ts == 9 and hit.values[NAMES[0]] == 2.0
    assert await store.read_many(v2, ["a"]) == [None]


async def keys_of(store: RedisStore) -> set[str]:
    return {k.decode() async for k in store.client.scan_iter(match=f"{store.prefix}:*")}


@pytest.mark.integration
async def test_redis_round_trip_is_bit_exact(redis_store: RedisStore):
    records = [rec(f"e{i}", 1_700_000_000_000 + i, EXACT[i : i + 3]) for i in range(len(EXACT) - 2)]
    before = int(time.time() * 1000)
    assert await redis_store.write_many(VIEW, records) == len(records)
    after = int(time.time() * 1000)
    got = await redis_store.read_many(VIEW, [r.entity for r in records])
    for r, vec in zip(records, got, strict=True):
        assert vec is not None
        assert set(vec.values) == set(NAMES)
        assert bits([vec.values[n] for n in NAMES]) == bits(r.values)
        assert vec.event_ts == r.ts
        assert before <= vec.written_at <= after


@pytest.mark.integration
@pytest.mark.parametrize("ttl", ["1h", "90s", None])
async def test_redis_keys_follow_entity_key_and_expire(redis_store: RedisStore, ttl: str | None):
    view = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"), ttl=ttl)
    await redis_store.write_many(view, [rec("a", 1, [1.0] * 3, view), rec("b", 2, [2.0] * 3, view)])
    expected = {entity_key(redis_store.prefix, view, e) for e in ("a", "b")}
    assert await keys_of(redis_store) == expected
    for key in expected:
        assert 0 < await redis_store.client.ttl(key) <= view.ttl_seconds
        assert await redis_store.client.type(key) == b"hash"


@pytest.mark.integration
async def test_redis_second_write_overwrites(redis_store: RedisStore):
    await redis_store.write_many(VIEW, [rec("a", 1, [1.0, 1.0, 1.0])])
    await redis_store.write_many(VIEW, [rec("a", 2, [9.5, 2.0, 5.25]), rec("b", 3, [0.0] * 3)])
    a, b = await redis_store.read_many(VIEW, ["a", "b"])
    assert a is not None and b is not None
    assert (a.values, a.event_ts) == (named([9.5, 2.0, 5.25]), 2)
    assert b.event_ts == 3


@pytest.mark.integration
async def test_redis_unknown_entities_and_versions_read_none(redis_store: RedisStore):
    v2 = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"), version=2)
    assert await redis_store.write_many(VIEW, []) == 0
    assert await keys_of(redis_store) == set()
    await redis_store.write_many(VIEW, [rec("a", 1, [1.0, 1.0, 1.0])])
    got = await redis_store.read_many(VIEW, ["nobody", "a", "other"])
    assert got[0] is None and got[2] is None and got[1] is not None
    assert await redis_store.read_many(v2, ["a"]) == [None]
    assert await redis_store.read_many(VIEW, []) == []


async def test_redis_store_needs_start():
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="start"):
        await store.read_many(VIEW, ["a"])


@pytest.mark.parametrize(
    "url",
    ["redis://:secret@127.0.0.1:1/0", "redis://user:secret@127.0.0.1:1/0", "redis://127.0.0.1:1/0"],
)
async def test_unreachable_redis_raises_without_leaking_the_password(url: str):
    store = RedisStore(url)
    with pytest.raises(StoreUnavailableError) as info:
        await store.start()
    assert info.value.retriable is True
    assert "127.0.0.1:1" in str(info.value)
    assert "secret" not in str(info.value)
    with pytest.raises(RuntimeError):
        store.client  # noqa: B018 - not connected after a failed start


@pytest.mark.parametrize(
    "url", ["redis://:s3@cret@127.0.0.1:1/0", "redis://127.0.0.1:1/0?password=s3cret"]
)
async def test_unreachable_redis_hides_unusual_passwords(url: str):
    with pytest.raises(StoreUnavailableError) as info:
        await RedisStore(url).start()
    assert "cret" not in str(info.value)


@pytest.mark.integration
async def test_redis_store_selects_the_url_database_and_survives_a_dropped_connection(
    services: tuple[str, str],
):
    base = services[1].rsplit("/", 1)[0]
    prefix = f"riffle-test-{uuid.uuid4().hex}"
    store = RedisStore(f"{base}/5", prefix=prefix)
    await store.start()
    try:
        await store.write_many(VIEW, [rec("a", 5, [1.0, 2.0, 3.0])])
        key = entity_key(prefix, VIEW, "a")
        assert await store.client.exists(key) == 1  # the read client uses db 5 too
        other = RedisStore(f"{base}/0", prefix=prefix)
        await other.start()
        try:
            assert await other.read_many(VIEW, ["a"]) == [None]
        finally:
            await other.stop()
        # the server drops every connection: writes and reads reconnect (and select db 5)
        await store.client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        await store.write_many(VIEW, [rec("c", 7, [4.0, 4.0, 4.0])])
        (c,) = await store.read_many(VIEW, ["c"])
        assert c is not None and c.values[NAMES[0]] == 4.0
        await store.client.delete(*[entity_key(prefix, VIEW, e) for e in "ac"])
    finally:
        await store.stop()


@pytest.mark.integration
async def test_a_vector_written_by_another_view_definition_is_refused(redis_store: RedisStore):
    await redis_store.write_many(VIEW, [rec("a", 5, [1.0, 2.0, 3.0])])
    wider = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean", "max"))
    with pytest.raises(StoreSchemaError, match="holds 3 values, the view has 4 features"):
        await redis_store.read_many(wider, ["a"])
    with pytest.raises(ValueError, match="2 values"):
        await redis_store.write_many(VIEW, [rec("a", 5, [1.0, 2.0])])
