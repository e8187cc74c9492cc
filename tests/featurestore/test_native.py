"""The native (C) aggregator against the Python one: the same floats, bit for bit, the same
evictions, and checkpoints that either engine resumes from."""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import (
    Aggregation,
    Aggregator,
    EventSchema,
    FeatureBatch,
    FeatureProcessor,
    FeatureView,
    FieldSpec,
    InvalidEventError,
    NativeUnavailableError,
    Transform,
)
from featurestore import native_engine as native_module
from tests.featurestore.fixtures import (
    chunks,
    feed,
    logs,
    portable,
    random_stream,
    source,
    stored,
    views,
)
from tests.featurestore.reference import Ev

# RIFFLE_NO_NATIVE=1 runs the suite on the Python engine alone; else native code must build
needs_native = pytest.mark.skipif(
    bool(os.environ.get("RIFFLE_NO_NATIVE")), reason="RIFFLE_NO_NATIVE is set"
)


def bits(xs: Sequence[float] | None) -> list[str] | None:
    """Floats as their exact bits (-0.0 and 0.0 differ)."""
    return None if xs is None else [float(x).hex() for x in xs]


def state(agg: Aggregator | FeatureProcessor) -> str:
    """The state in the Python engine's layout (a native snapshot loaded into the Python engine),
    with each sparse sketch's hashes sorted (a set: order is not state)."""

    def norm(x: Any) -> Any:
        if isinstance(x, list):
            if x and all(type(v) is int for v in x) and max(x) > 2**40:
                return sorted(x)
            return [norm(v) for v in x]
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        return x

    return json.dumps(norm(portable(agg)), sort_keys=True)


def attempt(agg: Aggregator, ev: Ev) -> list[float] | None:
    try:
        return feed(agg, ev)
    except InvalidEventError:
        return None


@needs_native
def test_the_native_engine_builds() -> None:
    assert native_module._library() is not None  # CI machines have a C compiler
    assert Aggregator(FeatureView("v", fields=("x",))).native


@needs_native
@settings(max_examples=200, deadline=None)
@given(view=views(), log=logs(), data=st.data())
def test_every_event_state_and_eviction_agree_bit_for_bit(view: FeatureView, log, data):
    py, c = Aggregator(view, native=False), Aggregator(view, native=True)
    for ev in log:
        got = attempt(py, ev)
        assert bits(got) == bits(attempt(c, ev))
        if got is not None:
            a, b = py.current(ev.entity), c.current(ev.entity)
            assert a is not None and b is not None
            assert (a[0], a[1], bits(a[2])) == (b[0], b[1], bits(b[2]))
        force = data.draw(st.booleans())
        assert py.evict(force) == c.evict(force)
        assert len(py) == len(c)
    assert state(py) == state(c)


@needs_native
@settings(max_examples=100, deadline=None)
@given(view=views(), log=logs(), data=st.data())
def test_a_checkpoint_of_either_engine_resumes_in_the_other(view: FeatureView, log, data):
    cut = data.draw(st.integers(0, len(log)))
    native_first = data.draw(st.booleans())
    straight = Aggregator(view, native=False)
    want = [bits(attempt(straight, ev)) for ev in log]
    first = Aggregator(view, native=native_first)
    got = [bits(attempt(first, ev)) for ev in log[:cut]]
    checkpoint = stored(first)
    resumed = Aggregator(view, native=data.draw(st.booleans()))
    resumed.load_state_dict(checkpoint)
    assert state(resumed) == state(first)
    got += [bits(attempt(resumed, ev)) for ev in log[cut:]]
    assert got == want


@needs_native
@pytest.mark.parametrize("window", ["10m", "1h every 10m", "last 10m"])
def test_dense_sketches_and_the_estimates_numpy_could_round_otherwise(window: str):
    view = FeatureView(
        "v",
        passthrough=(),
        aggregations=(
            Aggregation("distinct", "k", window=window, precision=4),
            Aggregation("count", window=window),
        ),
        allowed_lateness="10m",
    )
    rng = random.Random(3)
    log = [Ev("e", t * 1000 - rng.randint(0, 300_000), {"x": 0.0, "k": t}) for t in range(300)]
    py, c = Aggregator(view, native=False), Aggregator(view, native=True)
    for ev in log:  # past 64 distinct keys a pane holds registers
        assert bits(attempt(py, ev)) == bits(attempt(c, ev))
    # a register far past the others: the sum of 2**-register spans more than 53 bits, which
    # numpy rounds in its own order; the C side hands such an estimate back to Python
    saved = json.loads(json.dumps(py.state_dict()))
    for group in saved["entities"]["e"][4]:
        for pane in group.values() if "buf" not in group else []:
            regs = bytearray(base64.b64decode(pane[-1]))
            regs[3] = 60
            pane[-1] = base64.b64encode(bytes(regs)).decode()
    for agg in (py, c):
        agg.load_state_dict(saved)
    a, b = py.current("e"), c.current("e")
    assert a is not None and b is not None and bits(a[2]) == bits(b[2])
    ev = Ev("e", log[-1].ts, {"x": 0.0, "k": -1})
    assert bits(attempt(py, ev)) == bits(attempt(c, ev))


SCHEMA = EventSchema(
    fields={"x": FieldSpec(), "n": FieldSpec("int"), "flag": FieldSpec("bool")},
)
PRIMARY = FeatureView(
    "txn",
    window="1s",
    fields=("x", "n"),
    aggregations=(
        "count",
        "mean",
        "last",
        "time_since_last",
        Aggregation("std", "x", window="4s every 1s"),
        Aggregation("distinct", "n", window="4s every 1s"),
        Aggregation("max", "x", window="last 2s"),
        Aggregation("ewm", "x", half_life="1s"),
    ),
    passthrough=("x", "flag"),
    allowed_lateness="3s",
    transforms=(
        Transform("ratio", ("x", "x_mean_1s")),
        Transform("log", ("x_std_4s_every_1s",)),
        Transform("one_hot", ("flag",), categories=("true", "false")),
    ),
)
BY_N = FeatureView(
    "by_n",
    window="2s every 500ms",
    fields=("x",),
    aggregations=("count", "mean", "max", Aggregation("min", "x", window="last 1s")),
    passthrough=(),
    entity="n",
    allowed_lateness="1s",
)


def outputs(out: FeatureBatch) -> Any:
    def record(r: Any) -> Any:
        return (r.event_id, r.entity, r.ts, bits(r.values), r.label, r.offset, r.reply_to)

    return (
        [record(r) for r in out.features],
        out.dead,
        {e: record(r) for e, r in out.latest.items()},
        {v: {e: record(r) for e, r in d.items()} for v, d in out.views.items()},
        out.max_ts,
    )


@needs_native
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), sizes=st.lists(st.integers(1, 80), min_size=1, max_size=8))
def test_the_processor_gives_the_same_batches_and_checkpoints(seed: int, sizes: list[int]):
    rng = random.Random(seed)
    headers = [(), (), (), (("riffle-view", b"by_n"),), (("riffle-view", b"txn,by_n"),)]
    records = [
        r
        for i, v in enumerate(random_stream(seed, 400))
        for r in source([v], start=i, headers=rng.choice(headers))
    ]
    py = FeatureProcessor(SCHEMA, PRIMARY, [BY_N], native=False)
    c = FeatureProcessor(SCHEMA, PRIMARY, [BY_N], native=True)
    for batch in chunks(records, sizes):
        assert outputs(py.process(batch)) == outputs(c.process(batch))
    assert state(py) == state(c)
    assert (py.n_processed, py.n_dead) == (c.n_processed, c.n_dead)


def test_riffle_no_native_selects_the_python_engine(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RIFFLE_NO_NATIVE", "1")
    native_module._library.cache_clear()
    try:
        view = FeatureView("v", fields=("x",))
        assert not Aggregator(view).native
        with pytest.raises(NativeUnavailableError, match="RIFFLE_NO_NATIVE"):
            Aggregator(view, native=True)
    finally:
        monkeypatch.delenv("RIFFLE_NO_NATIVE")
        native_module._library.cache_clear()


@needs_native
def test_a_native_checkpoint_is_two_arrays_and_a_bad_one_is_refused_with_empty_state():
    view = FeatureView("v", window="1m", fields=("x",), aggregations=("count", "mean"))
    agg = Aggregator(view, native=True)
    for i in range(50):
        feed(agg, Ev(f"e{i % 7}", 1_000 * i, {"x": float(i)}))
    snap = stored(agg)["native"]
    assert snap["ints"].dtype.name == "int64" and snap["dbls"].dtype.name == "float64"
    want = agg.current("e3")
    for bad in (
        {**snap, "names": [*snap["names"][:-1], None]},  # a live slot without a name
        {**snap, "names": snap["names"][:-1]},  # slots that do not line up
        {**snap, "ints": snap["ints"][:-1]},  # a truncated state stream
        {k: v for k, v in snap.items() if k != "raws"},
    ):
        fresh = Aggregator(view, native=True)
        with pytest.raises(ValueError, match="malformed aggregator checkpoint"):
            fresh.load_state_dict({**stored(agg), "native": bad})
        assert len(fresh) == 0
    back = Aggregator(view, native=True)
    back.load_state_dict(stored(agg))
    assert back.current("e3") == want and len(back) == len(agg) == 7
