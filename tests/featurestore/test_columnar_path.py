"""The processor's columnar fast path (events decoded by C into columns) gives exactly what the
event-by-event path gives: records, dead letters, newest vectors of every view, counters and
state, for random streams with late, bad and header-carrying events cut into random batches."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import EventSchema, FeatureProcessor, FeatureView, FieldSpec, SourceRecord
from featurestore.event_columns import ColumnDecoder
from featurestore.transform import Transform
from tests.featurestore.fixtures import chunks, portable

SCHEMA = EventSchema(
    fields={
        "amount": FieldSpec("float"),
        "duration": FieldSpec("float"),
        "merchant": FieldSpec("str"),
        "channel": FieldSpec("str"),
        "note": FieldSpec("str", required=False),
    }
)
PRIMARY = FeatureView(
    "pay",
    window="1s",
    fields=("amount", "duration"),
    aggregations=(
        "count",
        "mean",
        "last",
        "time_since_last",
        {"kind": "std", "field": "amount", "window": "4s every 1s"},
        {"kind": "distinct", "field": "merchant", "window": "4s every 1s"},
        {"kind": "max", "field": "amount", "window": "last 2s"},
        {"kind": "ewm", "field": "amount", "half_life": "2s"},
    ),
    passthrough=("amount", "duration"),
    transforms=(
        Transform("ratio", ("amount", "amount_mean_1s"), alias="amount_vs_mean"),
        Transform("log", ("amount",)),
        Transform("one_hot", ("channel",), categories=("web", "app")),
    ),
    allowed_lateness="1500ms",
)
BY_MERCHANT = FeatureView(
    "merchants",
    window="2s every 1s",
    fields=("amount",),
    aggregations=("count", "sum", {"kind": "distinct", "field": "channel"}),
    entity="merchant",
    allowed_lateness="1500ms",
)
pytestmark = pytest.mark.skipif(ColumnDecoder.for_schema(SCHEMA) is None, reason="no C compiler")


def stream(seed: int, n: int) -> list[SourceRecord]:
    """Mostly good events; some late, broken, retyped, addressed to one view, or dated far
    after their production."""
    rng = random.Random(seed)
    clock = 10_000
    out = []
    for i in range(n):
        clock += rng.choice([0, 1, 100, 400, 999])
        ts = clock - (rng.randint(0, 2500) if rng.random() < 0.1 else 0)
        body: dict[str, Any] = {
            "id": f"e{i}",
            "entity": rng.choice("abcde"),
            "ts": ts,
            "amount": rng.choice([rng.uniform(-50, 50), 0.0, -0.0, 1e-300]),
            "duration": rng.uniform(0, 9),
            "merchant": rng.choice(["m1", "m2", "m3", ""]),
            "channel": rng.choice(["web", "app", "pos"]),
        }
        if rng.random() < 0.3:
            body["label"] = rng.choice([0, 1, None])
        raw = orjson.dumps(body)
        headers: tuple[tuple[str, bytes], ...] = ()
        produced = 20_000 + i
        roll = rng.random()
        if roll < 0.03:
            raw = rng.choice([b"{", b"[]", raw.replace(b'"amount":', b'"amount":"x","a":')])
        elif roll < 0.05:
            headers = (("riffle-view", b"merchants"),)
        elif roll < 0.06:
            produced = ts - 86_400_001  # far in the future of its production
        elif roll < 0.08:
            raw = orjson.dumps({**body, "amount": 3})  # an int: valid, not for the C decoder
        out.append(SourceRecord(raw, b"k", "events", 1, 100 + i, produced, headers))
    return out


def processors() -> tuple[FeatureProcessor, FeatureProcessor]:
    fast = FeatureProcessor(SCHEMA, PRIMARY, [BY_MERCHANT])
    slow = FeatureProcessor(SCHEMA, PRIMARY, [BY_MERCHANT])
    slow._decoder = None
    assert fast._decoder is not None
    return fast, slow


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    sizes=st.lists(st.integers(1, 60), max_size=12),
    clean=st.booleans(),
)
def test_the_columnar_path_changes_nothing(seed: int, sizes: list[int], clean: bool) -> None:
    records = stream(seed, 250)
    if clean:  # the common case: batches of well-formed events only
        records = [r for r in records if b'"ts"' in r.value and not r.headers]
    fast, slow = processors()
    taken = 0
    for batch in chunks(records, sizes):
        a, b = fast.process(batch), slow.process(batch)
        assert a.features == b.features
        assert a.dead == b.dead
        assert a.latest == b.latest
        assert a.views == b.views
        assert a.max_ts == b.max_ts
        taken += fast._decoder is not None and not a.dead and bool(batch)
    assert (fast.n_processed, fast.n_dead) == (slow.n_processed, slow.n_dead)
    assert portable(fast) == portable(slow)


def test_clean_batches_take_the_columnar_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = processors()
    records = [r for r in stream(5, 400) if not r.headers]
    calls: list[bool] = []
    original = FeatureProcessor._process_columns

    def spy(self: FeatureProcessor, batch: Any) -> Any:
        out = original(self, batch)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(FeatureProcessor, "_process_columns", spy)
    for batch in chunks(records, [7] * 60):
        assert fast.process(batch).features == slow.process(batch).features
    assert any(calls) and not all(calls)  # clean batches fast, the others event by event
