"""TumblingAggregator against a brute-force recomputation from the event log."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import FeatureView, InvalidEventError, TumblingAggregator
from featurestore.view import AGGREGATIONS

Ev = tuple[str, int, list[float]]  # (entity, event time ms, field values)
FIELDS = ("x", "y")


def reference(view: FeatureView, log: Sequence[Ev]) -> list[float]:
    """The aggregates for the last event of `log`, recomputed from scratch: the events of its
    entity in the same window, up to and including it, in arrival order."""
    entity, ts, _ = log[-1]
    w = view.window_ms
    group = [vals for e, t, vals in log if e == entity and t // w == ts // w]
    out = [float(len(group))] if "count" in view.aggregations else []
    for i in range(len(view.fields)):
        col = [vals[i] for vals in group]
        for agg in view.aggregations:
            if agg == "sum":
                out.append(sum(col))
            elif agg == "mean":
                out.append(sum(col) / len(col))
            elif agg == "min":
                out.append(min(col))
            elif agg == "max":
                out.append(max(col))
            elif agg == "last":
                out.append(col[-1])
    return out


@st.composite
def views(draw: st.DrawFn) -> FeatureView:
    window = draw(st.sampled_from([1, 7, 100, 1000, 60_000]))
    n_fields = draw(st.integers(1, len(FIELDS)))
    aggs = tuple(draw(st.permutations(AGGREGATIONS)))
    return FeatureView("v", window=window, fields=FIELDS[:n_fields], aggregations=aggs)


@st.composite
def streams(draw: st.DrawFn, view: FeatureView) -> list[Ev]:
    """Events over a few entities, each entity's event times non-decreasing, with equal times,
    steps within a window and gaps spanning several windows."""
    w = view.window_ms
    clock = {e: draw(st.integers(-5 * w, 5 * w)) for e in ("a", "b", "c")}
    step = st.one_of(st.just(0), st.integers(0, w), st.integers(w, 5 * w))
    value = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    n = len(view.fields)
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(clock)), step, st.lists(value, min_size=n, max_size=n)
            ),
            min_size=1,
            max_size=40,
        )
    )
    out: list[Ev] = []
    for entity, dt, vals in steps:
        clock[entity] += dt
        out.append((entity, clock[entity], vals))
    return out


def run(agg: TumblingAggregator, events: Sequence[Ev]) -> list[list[float]]:
    return [agg.update(e, ts, vals) for e, ts, vals in events]


def assert_vectors_equal(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_each_vector_equals_brute_force_recomputation(data: st.DataObject):
    view = data.draw(views())
    events = data.draw(streams(view))
    agg = TumblingAggregator(view)
    for i, (entity, ts, vals) in enumerate(events):
        got = agg.update(entity, ts, vals)
        want = reference(view, events[: i + 1])
        assert_vectors_equal(got, want)
        assert agg.get(entity) == got
    assert len(agg) == len({e for e, _, _ in events})


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_late_events_are_refused_and_do_not_change_state(data: st.DataObject):
    view = data.draw(views())
    events = data.draw(streams(view))
    w = view.window_ms
    after = data.draw(st.integers(0, len(events) - 1))
    entity, ts, _ = events[after]
    window_start = ts - ts % w
    late_ts = window_start - data.draw(st.integers(1, 3 * w))
    late: Ev = (entity, late_ts, [12345.0] * len(view.fields))

    clean = run(TumblingAggregator(view), events)
    agg = TumblingAggregator(view)
    got = run(agg, events[: after + 1])
    before = {e: agg.get(e) for e in "abc"}
    with pytest.raises(InvalidEventError) as info:
        agg.update(*late)
    assert info.value.reason == "late_event"
    assert str(late_ts) in str(info.value)
    assert {e: agg.get(e) for e in "abc"} == before
    got += run(agg, events[after + 1 :])
    assert got == clean


def test_event_inside_current_window_but_earlier_is_accepted():
    agg = TumblingAggregator(
        FeatureView("v", window=1000, fields=("x",), aggregations=AGGREGATIONS)
    )
    agg.update("a", 1900, [4.0])
    # count, sum, mean, min, max, last: 'last' is the latest to arrive
    assert agg.update("a", 1000, [2.0]) == [2.0, 6.0, 3.0, 2.0, 4.0, 2.0]
    with pytest.raises(InvalidEventError):
        agg.update("a", 999, [1.0])
    assert agg.get("a") == [2.0, 6.0, 3.0, 2.0, 4.0, 2.0]


def test_new_window_resets_aggregates():
    view = FeatureView("v", window="1s", fields=("x",), aggregations=("count", "sum", "min"))
    agg = TumblingAggregator(view)
    assert run(agg, [("a", 0, [5.0]), ("a", 999, [7.0]), ("a", 3500, [1.0])]) == [
        [1.0, 5.0, 5.0],
        [2.0, 12.0, 5.0],
        [1.0, 1.0, 1.0],
    ]
    assert agg.get("b") is None


# entity -> window start, with a 1000 ms window
WINDOWS = {"a": 0, "b": 1000, "c": 2000}


@pytest.mark.parametrize(
    ("cutoff", "remaining"),
    [
        (0, "abc"),
        (999, "abc"),
        (1000, "bc"),
        (1999, "bc"),
        (2000, "c"),
        (2999, "c"),
        (3000, ""),
    ],
)
def test_evict_before_drops_entities_whose_window_ended(cutoff: int, remaining: str):
    view = FeatureView("v", window=1000, fields=("x",), aggregations=("count", "last"))
    agg = TumblingAggregator(view)
    for entity, start in WINDOWS.items():
        agg.update(entity, start + 500, [float(start)])
    assert agg.evict_before(cutoff) == 3 - len(remaining)
    assert len(agg) == len(remaining)
    for entity, start in WINDOWS.items():
        assert agg.get(entity) == ([1.0, float(start)] if entity in remaining else None)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_checkpoint_mid_stream_resumes_identically(data: st.DataObject):
    view = data.draw(views())
    events = data.draw(streams(view))
    cut = data.draw(st.integers(0, len(events)))
    uninterrupted = run(TumblingAggregator(view), events)

    first = TumblingAggregator(view)
    outputs = run(first, events[:cut])
    checkpoint = json.loads(json.dumps(first.state_dict()))  # as stored: plain JSON
    resumed = TumblingAggregator(view)
    resumed.update("stale", 0, [0.0] * len(view.fields))  # loading replaces all state
    resumed.load_state_dict(checkpoint)
    assert resumed.get("stale") is None
    outputs += run(resumed, events[cut:])
    assert outputs == uninterrupted


@pytest.mark.parametrize(
    ("name", "version"), [("v", 2), ("other", 1), ("other", 2)], ids=["version", "name", "both"]
)
def test_state_of_another_view_is_refused(name: str, version: int):
    source = TumblingAggregator(FeatureView("v", window=1000, fields=("x",)))
    source.update("a", 10, [1.0])
    target = TumblingAggregator(FeatureView(name, version=version, window=1000, fields=("x",)))
    target.update("b", 10, [9.0])
    with pytest.raises(ValueError, match="v@v1"):
        target.load_state_dict(source.state_dict())
    assert target.get("a") is None
    assert target.get("b") == [1.0, 9.0, 9.0]


def test_allowed_lateness_refuses_stragglers_and_evicts_exactly() -> None:
    lenient = FeatureView("v", window="1s", fields=("x",), aggregations=("count", "sum"))
    bounded = FeatureView(
        "v", window="1s", fields=("x",), aggregations=("count", "sum"), allowed_lateness="2s"
    )
    a, b = TumblingAggregator(lenient), TumblingAggregator(bounded)
    # 50 entities, then only 5 of them keep sending: the others' windows close
    events = [(f"e{i % (50 if i < 1000 else 5)}", i * 37, float(i)) for i in range(2000)]
    for entity, ts, x in events:
        assert a.update(entity, ts, [x]) == b.update(entity, ts, [x])
        b.evict_closed()
    assert len(b) == 5 < len(a) == 50  # closed windows left memory, results unchanged
    with pytest.raises(InvalidEventError) as info:
        b.update("e1", 2000 * 37 - 3000, [1.0])
    assert info.value.reason == "late_event"
    state = b.state_dict()
    c = TumblingAggregator(bounded)
    c.load_state_dict(state)
    assert c.watermark == b.watermark and c.update("e9", 80_000, [1.0]) == b.update(
        "e9", 80_000, [1.0]
    )
