"""RedisStore's read path: the hand-built HMGET commands, and read_many against the real Redis
(missing entities, non-ASCII keys, vectors another view definition wrote)."""

from __future__ import annotations

import math
import struct

import pytest

from featurestore import FeatureRecord, FeatureView, RedisStore, StoredVector
from featurestore.answers import VectorBlock, block_of
from featurestore.exceptions import StoreSchemaError
from featurestore.redis_store import _FIELDS, _hmgets
from featurestore.resp_pipe import RespPipe
from featurestore.store import entity_key

VIEW = FeatureView("txn", window="10s", fields=("x",), aggregations=("count", "mean"))
NAMES = VIEW.feature_names
ENTITIES = [
    "a",
    "alice",
    "bench-9999",
    "x" * 9,
    "y" * 10,
    "z" * 120,  # a three-digit key length
    "with space",
    "{braces}:and:colons",
    "žluťoučký",  # two bytes a character in UTF-8
    "日本",  # three
    "🙂",  # four
    "mixed-ß-1",
]


def packed(prefix: str, view: FeatureView, entities: list[str]) -> bytes:
    """What the commands were before: one hiredis-packed HMGET per entity."""
    return b"".join(
        RespPipe.pack((b"HMGET", entity_key(prefix, view, e).encode(), *_FIELDS)) for e in entities
    )


@pytest.mark.parametrize("prefix", ["riffle", "", "pré-fix:1", "a{b}c"])
@pytest.mark.parametrize(
    "view",
    [VIEW, FeatureView("víew", fields=("x",), aggregations=("count",), version=12)],
)
def test_hmgets_are_the_bytes_hiredis_packs(prefix: str, view: FeatureView) -> None:
    assert _hmgets(prefix, view, ENTITIES) == packed(prefix, view, ENTITIES)
    for e in ENTITIES:
        assert _hmgets(prefix, view, [e]) == packed(prefix, view, [e])


def test_hmgets_refuse_what_cannot_be_encoded_like_before() -> None:
    lone_surrogate = "\ud800"  # what a JSON body may carry: not encodable as UTF-8
    with pytest.raises(UnicodeEncodeError):
        packed("riffle", VIEW, [lone_surrogate])
    with pytest.raises(UnicodeEncodeError):
        _hmgets("riffle", VIEW, ["a", lone_surrogate])


def rec(entity: str, ts: int, values: list[float]) -> FeatureRecord:
    return FeatureRecord("e", entity, ts, values, None, VIEW.name, VIEW.version, names=NAMES)


@pytest.mark.integration
async def test_read_many_answers_in_order_with_misses_duplicates_and_unicode(
    redis_store: RedisStore,
) -> None:
    stored = ENTITIES[::2]
    records = [rec(e, 1_000 + i, [i + 0.5, float(i), -i / 3]) for i, e in enumerate(stored)]
    await redis_store.write_many(VIEW, records)
    asked = [*ENTITIES, "nobody", stored[0], *reversed(stored)]
    got = await redis_store.read_many(VIEW, asked)
    assert len(got) == len(asked)
    by_entity = {r.entity: r for r in records}
    for entity, vec in zip(asked, got, strict=True):
        r = by_entity.get(entity)
        if r is None:
            assert vec is None, entity
            continue
        assert isinstance(vec, StoredVector)
        assert vec.values == dict(zip(NAMES, r.values, strict=True))
        assert list(vec.values) == list(NAMES)  # in the view's order
        assert vec.event_ts == r.ts
        assert isinstance(vec.written_at, int) and vec.written_at > 1_600_000_000_000
    assert await redis_store.read_many(VIEW, []) == []


async def _hset(store: RedisStore, entity: str, **fields: bytes) -> None:
    await store.client.hset(entity_key(store.prefix, VIEW, entity), mapping=fields)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("values", "width", "holds"),
    [
        ([1.0, 2.0], b"3", 2),  # fewer values than the view has features
        ([1.0, 2.0, 3.0, 4.0], b"4", 4),  # more
        ([1.0, 2.0, 3.0], b"4", 3),  # the right size but another definition's width
        ([1.0, 2.0, 3.0], None, 3),  # no width at all
    ],
)
async def test_a_vector_of_another_definition_is_refused(
    redis_store: RedisStore, values: list[float], width: bytes | None, holds: int
) -> None:
    await redis_store.write_many(VIEW, [rec("good", 5, [1.0, 2.0, 3.0])])
    fields = {"v": struct.pack(f"<{len(values)}d", *values), "_ts": b"7", "_written_at": b"8"}
    if width is not None:
        fields["_n"] = width
    await _hset(redis_store, "bad", **fields)
    with pytest.raises(StoreSchemaError, match=f"holds {holds} values, the view has 3 features"):
        await redis_store.read_many(VIEW, ["good", "bad"])
    (good,) = await redis_store.read_many(VIEW, ["good"])
    assert good is not None and good.values == dict(zip(NAMES, [1.0, 2.0, 3.0], strict=True))


@pytest.mark.integration
async def test_a_width_spelled_otherwise_but_equal_is_accepted(redis_store: RedisStore) -> None:
    blob = struct.pack("<3d", 1.0, 2.0, 3.0)
    await _hset(redis_store, "a", v=blob, _ts=b"7", _written_at=b"8", _n=b"03")
    assert await redis_store.read_many(VIEW, ["a"]) == [
        StoredVector(dict(zip(NAMES, [1.0, 2.0, 3.0], strict=True)), 7, 8)
    ]


@pytest.mark.integration
async def test_read_block_is_read_many_in_one_block(redis_store: RedisStore) -> None:
    stored = ENTITIES[1::2]
    records = [rec(e, 2_000 + i, [i - 0.25, math.pi * i, -1e300]) for i, e in enumerate(stored)]
    await redis_store.write_many(VIEW, records)
    asked = [*ENTITIES, "nobody", stored[-1]]
    block = await redis_store.read_block(VIEW, asked)
    assert block.found == bytes(e in stored for e in asked)
    assert block_of(await redis_store.read_many(VIEW, asked), NAMES) == block
    assert block.values[:24] == struct.pack("<3d", *records[0].values)  # the stored bytes
    assert await redis_store.read_block(VIEW, []) == VectorBlock(b"")
    await _hset(redis_store, "bad", v=struct.pack("<2d", 1.0, 2.0), _ts=b"7", _n=b"2")
    with pytest.raises(StoreSchemaError, match="holds 2 values, the view has 3 features"):
        await redis_store.read_block(VIEW, ["bad"])
