"""The aggregator against a brute-force recomputation from the event log, for every aggregation
and window type, with out-of-order and late events."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import Aggregation, Aggregator, FeatureView, InvalidEventError
from tests.featurestore.fixtures import feed, logs, portable, stored, views
from tests.featurestore.reference import Ev, accepted, assert_close, current_vectors, event_vectors


def run(
    agg: Aggregator, log: list[Ev], currents: list[object] | None = None
) -> list[list[float] | None]:
    out: list[list[float] | None] = []
    for ev in log:
        try:
            out.append(feed(agg, ev))
        except InvalidEventError as exc:
            assert exc.reason == "late_event"
            out.append(None)
        if currents is not None:
            currents.append(agg.current(ev.entity) if out[-1] is not None else None)
        agg.evict(force=True)  # as often as possible: eviction must never change a result
    return out


@settings(max_examples=250, deadline=None)
@given(view=views(), log=logs())
def test_every_event_and_the_final_store_equal_brute_force(view: FeatureView, log: list[Ev]):
    agg = Aggregator(view)
    currents: list[object] = []
    got = run(agg, log, currents)
    want = list(event_vectors(view, log).values())
    assert [g is None for g in got] == [w is None for w in want]
    for g, w in zip(got, want, strict=False):
        if g is not None and w is not None:
            assert_close(view, g, w, 1e3)
    # what the store gets after each event: the entity's newest vector, late events folded in
    for i, (ev, current) in enumerate(zip(log, currents, strict=False)):
        if got[i] is None:
            continue  # refused: the store is not written
        expected = current_vectors(view, log[: i + 1], [ev.entity])[ev.entity]
        assert isinstance(current, tuple) and current[0] == expected[0]
        assert_close(view, [float(v) for v in current[1]] + current[2], expected[1], 1e3)


@settings(max_examples=100, deadline=None)
@given(view=views(), log=logs(), data=st.data())
def test_checkpoint_mid_stream_resumes_identically(view: FeatureView, log: list[Ev], data):
    cut = data.draw(st.integers(0, len(log)))
    uninterrupted = run(Aggregator(view), log)
    first = Aggregator(view)
    outputs = run(first, log[:cut])
    checkpoint = stored(first)
    resumed = Aggregator(view)
    feed(resumed, Ev("stale", 0, {"x": 0.0, "y": 0.0, "k": "a"}))  # loading replaces all state
    resumed.load_state_dict(checkpoint)
    assert resumed.current("stale") is None or "stale" in {e.entity for e in log}
    outputs += run(resumed, log[cut:])
    assert outputs == uninterrupted
    assert portable(resumed) == Aggregator_state(view, log)


def Aggregator_state(view: FeatureView, log: list[Ev]) -> dict:
    agg = Aggregator(view)
    run(agg, log)
    return portable(agg)


def test_large_windows_switch_distinct_to_hyperloglog_and_stay_exact_to_the_definition():
    view = FeatureView(
        "v",
        passthrough=(),
        aggregations=(
            Aggregation("distinct", "k", window="1h every 10m", precision=10),
            Aggregation("distinct", "k", window="10m"),
            Aggregation("distinct", "k", window="last 10m"),
            Aggregation("std", "x", window="last 10m"),
            Aggregation("ewm", "x", half_life="1m"),
        ),
    )
    rng = random.Random(7)
    log = [
        Ev("e", t * 200 - rng.randint(0, 20_000), {"x": rng.gauss(5, 2), "k": rng.randint(0, 3000)})
        for t in range(4000)
    ]
    agg = Aggregator(view)
    got = run(agg, log)
    # spot-check events against the definition (brute force is quadratic)
    checks = (0, 999, 2500, 3999)
    for i, want in event_vectors(view, log, checks).items():
        assert got[i] is not None and want is not None
        assert_close(view, got[i], want, 10.0)
    exact = len({ev.fields["k"] for ev in log if ev.ts >= 3999 * 200 - 3_600_000})
    estimate = got[-1][0]
    assert exact > 1000 and abs(estimate - exact) / exact < 0.1  # 1.04/sqrt(1024) = 3.3% s.e.


def test_late_event_beyond_lateness_is_refused_and_changes_nothing():
    view = FeatureView(
        "v", window="1s", fields=("x",), aggregations=("count", "sum"), allowed_lateness="2s"
    )
    agg = Aggregator(view)
    agg.update("a", 10_000, [1.0])
    before = portable(agg)
    with pytest.raises(InvalidEventError, match="2000 ms behind") as info:
        agg.update("a", 7_999, [5.0])
    assert info.value.reason == "late_event"
    assert portable(agg) == before
    assert agg.update("a", 8_000, [5.0]) == [1.0, 5.0]  # within lateness: its own old window


def test_eviction_frees_entities_and_never_changes_results():
    view = FeatureView(
        "v", window="1s", fields=("x",), aggregations=("count", "mean"), allowed_lateness=0
    )
    agg = Aggregator(view)
    for i, e in enumerate("abc"):
        agg.update(e, i * 1000, [1.0])
    agg.update("d", 5000, [1.0])
    assert agg.evict(force=True) == 3 and len(agg) == 1
    assert agg.update("a", 5500, [3.0]) == [1.0, 3.0]


@pytest.mark.parametrize(
    ("name", "version"), [("v", 2), ("other", 1), ("other", 2)], ids=["version", "name", "both"]
)
def test_state_of_another_view_is_refused(name: str, version: int):
    source = Aggregator(FeatureView("v", window=1000, fields=("x",)))
    source.update("a", 10, [1.0])
    target = Aggregator(FeatureView(name, version=version, window=1000, fields=("x",)))
    with pytest.raises(ValueError, match="v@v1"):
        target.load_state_dict(source.state_dict())


def test_changed_aggregations_refuse_the_old_checkpoint():
    source = Aggregator(FeatureView("v", window=1000, fields=("x",), aggregations=("count",)))
    target = Aggregator(FeatureView("v", window=1000, fields=("x",), aggregations=("sum",)))
    with pytest.raises(ValueError, match="spec"):
        target.load_state_dict(source.state_dict())


def test_accepted_matches_the_aggregator_on_a_simple_case():
    view = FeatureView("v", window=100, fields=("x",), aggregations=("count",), allowed_lateness=10)
    log = [Ev("a", 100, {"x": 1.0}), Ev("a", 89, {"x": 1.0}), Ev("a", 90, {"x": 1.0})]
    assert accepted(view, log) == [True, False, True]
