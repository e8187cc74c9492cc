"""Shared test inputs: random feature views over every aggregation and window type, event logs
with out-of-order and late events, and the processor tests' raw events."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson
from hypothesis import strategies as st

from featurestore import (
    Aggregation,
    Aggregator,
    FeatureProcessor,
    FeatureView,
    SourceRecord,
    Window,
)
from featurestore.aggregation import AGGREGATIONS, FIELDLESS
from streams.checkpoint import Checkpoint, pack, unpack
from tests.featurestore.reference import Ev

WINDOWS = [
    Window("tumbling", 7),
    Window("tumbling", 100),
    Window("tumbling", 1000),
    Window("hopping", 100, 20),
    Window("hopping", 1000, 250),
    Window("sliding", 7),
    Window("sliding", 100),
    Window("sliding", 1000),
]
NUMERIC = ("x", "y")


@st.composite
def specs(draw: st.DrawFn) -> Aggregation:
    kind = draw(st.sampled_from(AGGREGATIONS))
    window = draw(st.sampled_from(WINDOWS))
    if kind in FIELDLESS:
        return Aggregation(kind, window=window)
    if kind == "ewm":
        return Aggregation(
            kind, draw(st.sampled_from(NUMERIC)), half_life=draw(st.sampled_from([50, 1000]))
        )
    field = draw(st.sampled_from(("x", "y", "k") if kind == "distinct" else NUMERIC))
    return Aggregation(kind, field, window=window, precision=draw(st.sampled_from([4, 10])))


@st.composite
def views(draw: st.DrawFn) -> FeatureView:
    aggs = draw(st.lists(specs(), min_size=1, max_size=6, unique_by=lambda s: s.name))
    lateness = draw(st.sampled_from([0, 30, 500, None]))
    return FeatureView(
        "v", window=100, aggregations=tuple(aggs), passthrough=("x",), allowed_lateness=lateness
    )


@st.composite
def logs(draw: st.DrawFn) -> list[Ev]:
    """A stream with a clock that jumps (equal times, small steps, several windows) and events
    up to ~1.5 s behind it: in order, out of order, and too late."""
    clock = draw(st.integers(-3000, 3000))
    n = draw(st.integers(1, 45))
    out = []
    for _ in range(n):
        clock += draw(st.sampled_from([0, 1, 5, 40, 300, 2500]))
        lag = draw(st.sampled_from([0, 0, 0, 3, 25, 200, 1500]))
        fields = {
            "x": draw(st.floats(-1e3, 1e3)),
            "y": float(draw(st.integers(-5, 5))),
            "k": draw(st.sampled_from(["a", "b", "c", "d"])),
        }
        out.append(Ev(draw(st.sampled_from("pqr")), clock - lag, fields))
    return out


def feed(agg: Aggregator, ev: Ev) -> list[float]:
    nums = [float(ev.fields[f]) for f in agg.num_fields]
    keys = [ev.fields[f] for f in agg.key_fields]
    return agg.update(ev.entity, ev.ts, nums, keys, [ev.fields["x"]])


# raw events of the processor tests
TOPIC, PARTITION = "events", 3


def ev(i: str, entity: str, ts: int, x: float = 1.0, n: int = 1, **extra: Any) -> bytes:
    body = {"id": i, "entity": entity, "ts": ts, "x": x, "n": n, "flag": True}
    return orjson.dumps({**body, **extra})


def source(values: list[bytes], start: int = 100, **kw: Any) -> list[SourceRecord]:
    return [
        SourceRecord(v, f"k{i}".encode(), TOPIC, PARTITION, start + i, 7000 + i, **kw)
        for i, v in enumerate(values)
    ]


def random_stream(seed: int, n: int = 300) -> list[bytes]:
    """Valid events with per-entity drifting clocks plus some late and broken records."""
    rng = random.Random(seed)
    clock = dict.fromkeys("abcd", 0)
    out: list[bytes] = []
    for i in range(n):
        e = rng.choice("abcd")
        kind = rng.random()
        if kind < 0.1:
            out.append(rng.choice([b"{", b"[]", ev(str(i), e, clock[e], x="s")]))
        elif kind < 0.2:
            out.append(ev(str(i), e, clock[e] - rng.randint(1000, 5000)))  # late (or not)
        else:
            clock[e] += rng.choice([0, 1, 250, 999, 1000, 3500])
            out.append(ev(str(i), e, clock[e], x=rng.uniform(-50, 50), n=rng.randint(-9, 9)))
    return out


def chunks(items: list[SourceRecord], sizes: list[int]) -> list[list[SourceRecord]]:
    cuts = [0, *itertools.accumulate(sizes), len(items)]  # may hold empty batches
    return [items[i:j] for i, j in itertools.pairwise(cuts)]


def stored(obj: Aggregator | FeatureProcessor) -> dict[str, Any]:
    """The state as a checkpoint stores it, read back."""
    return unpack(pack(Checkpoint(obj.state_dict(), {}))).state


def portable(obj: Aggregator | FeatureProcessor) -> Any:
    """The state in the Python engine's JSON layout, as plain JSON: comparable whichever engine
    holds it (a native snapshot's slot numbers are not state)."""
    twin = (
        Aggregator(obj.view, native=False)
        if isinstance(obj, Aggregator)
        else FeatureProcessor(obj.schema, obj.views[0], obj.views[1:], native=False)
    )
    twin.load_state_dict(stored(obj))
    return orjson.loads(orjson.dumps(twin.state_dict(), option=orjson.OPT_NON_STR_KEYS))
