"""The store's hand-packed writes are the commands hiredis would pack, and land in Redis."""

from __future__ import annotations

import struct

import hiredis
import pytest

from featurestore import FeatureRecord, FeatureView
from featurestore.redis_store import _hsets
from featurestore.store import entity_key

VIEW = FeatureView("txn", fields=("amount",), aggregations=("count", "mean"))


def commands(payload: bytes) -> list[list[bytes]]:
    reader = hiredis.Reader()
    reader.feed(payload)
    out = []
    while (cmd := reader.gets()) is not False:
        out.append(cmd)
    return out


@pytest.mark.parametrize("prefix", ["riffle", "p:q", "ü"])
@pytest.mark.parametrize("entity", ["a", "alice-" * 20, "zoë", "{x}", "7"])
def test_packed_writes_are_what_hiredis_packs(prefix: str, entity: str) -> None:
    names = VIEW.feature_names
    rec = FeatureRecord("e", entity, 1_700_000_000_123, [1.5, -0.0, 1e300], None, "txn", 1)
    payload, n = _hsets(prefix, VIEW, [rec, rec], now=42)
    assert n == 2 and len(names) == 3
    key = entity_key(prefix, VIEW, entity).encode()
    hset = (b"HSET", key, b"v", struct.pack("<3d", *rec.values), b"_ts", b"1700000000123")
    hset += (b"_written_at", b"42", b"_n", b"3")
    expire = (b"EXPIRE", key, str(VIEW.ttl_seconds).encode())
    want = b"".join(hiredis.pack_command(c) for c in (hset, expire) * 2)  # type: ignore[arg-type]
    assert payload == want
    assert [c[0] for c in commands(payload)] == [b"HSET", b"EXPIRE"] * 2


def test_a_vector_of_the_wrong_width_is_refused_naming_the_view() -> None:
    rec = FeatureRecord("e", "a", 1, [1.0], None, "txn", 1)
    with pytest.raises(ValueError, match=r"vector of 1 values for view txn@v1 of 3 features"):
        _hsets("riffle", VIEW, [rec], now=0)


def test_no_records_no_commands() -> None:
    assert _hsets("riffle", VIEW, [], now=0) == (b"", 0)
