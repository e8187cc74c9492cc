"""Brute-force feature values, recomputed from the whole event log by definition.

Used by the property tests of the aggregator and by the end-to-end tests to check Redis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from featurestore import Aggregation, FeatureView
from featurestore.sketch import SPARSE_MAX, Sketch, hash_value, sketch_add, sketch_estimate


@dataclass(frozen=True)
class Ev:
    entity: str
    ts: int
    fields: Mapping[str, Any]


def accepted(view: FeatureView, log: Sequence[Ev]) -> list[bool]:
    """Which events the view takes: none more than the lateness behind the newest before it."""
    out, newest = [], None
    for ev in log:
        ok = newest is None or ev.ts >= newest - view.lateness_ms
        out.append(ok)
        if ok:
            newest = ev.ts if newest is None else max(newest, ev.ts)
    return out


def _members(spec: Aggregation, t: int, events: list[tuple[int, Ev]]) -> list[tuple[int, Ev]]:
    w = spec.window_spec
    if w.kind == "sliding":
        return [(j, e) for j, e in events if t - w.size_ms < e.ts <= t]
    start, end = w.bounds(t)
    return [(j, e) for j, e in events if start <= e.ts < end]


def _distinct(spec: Aggregation, values: list[Any]) -> float:
    if spec.window_spec.kind == "sliding":
        return float(len({hash_value(v) for v in values}))
    sk: Sketch = set()
    for v in values:
        sk = sketch_add(sk, hash_value(v), spec.precision)
    assert isinstance(sk, set) == (len({hash_value(v) for v in values}) <= SPARSE_MAX)
    return sketch_estimate(sk)


def aggregate(
    spec: Aggregation, t: int, seen: list[tuple[int, Ev]], before: list[tuple[int, Ev]]
) -> float:
    """One aggregate for an event at ``t``: ``seen`` are the entity's events folded in so far
    (with their arrival index), ``before`` those that arrived before the event itself."""
    if spec.kind == "time_since_last":
        cap = spec.window_spec.size_ms
        if not before:
            return float(cap)
        return float(min(cap, max(0, t - max(e.ts for _, e in before))))
    if spec.kind == "ewm":
        newest = max(e.ts for _, e in seen)
        h = spec.half_life_ms
        w = [2.0 ** (-(newest - e.ts) / h) for _, e in seen]
        total = math.fsum(wi * e.fields[spec.field] for wi, (_, e) in zip(w, seen, strict=True))
        return total / math.fsum(w)
    members = _members(spec, t, seen)
    n = len(members)
    if spec.kind == "count":
        return float(n)
    if spec.kind == "rate":
        return n * 1000.0 / spec.window_spec.size_ms
    values = [e.fields[spec.field] for _, e in members]
    if spec.kind == "distinct":
        return _distinct(spec, values)
    col = [float(v) for v in values]
    if spec.kind == "sum":
        return math.fsum(col)
    if spec.kind == "mean":
        return math.fsum(col) / n
    if spec.kind == "std":
        mean = math.fsum(col) / n
        return math.sqrt(math.fsum((v - mean) ** 2 for v in col) / n)
    if spec.kind == "min":
        return min(col)
    if spec.kind == "max":
        return max(col)
    assert spec.kind == "last"
    return float(max(members, key=lambda m: (m[1].ts, m[0]))[1].fields[spec.field])


def event_vectors(
    view: FeatureView, log: Sequence[Ev], only: Sequence[int] | None = None
) -> dict[int, list[float] | None]:
    """The aggregates of each event (or of those at positions ``only``), None for a refused
    one, by definition."""
    ok = accepted(view, log)
    out: dict[int, list[float] | None] = {}
    for i in range(len(log)) if only is None else only:
        ev = log[i]
        if not ok[i]:
            out[i] = None
            continue
        before = [(j, e) for j, e in enumerate(log[:i]) if ok[j] and e.entity == ev.entity]
        seen = [*before, (i, ev)]
        out[i] = [aggregate(s, ev.ts, seen, before) for s in view.specs]
    return out


def current_vectors(
    view: FeatureView, log: Sequence[Ev], entities: Sequence[str] | None = None
) -> dict[str, tuple[int, list[float]]]:
    """What the online store should hold per entity at the end: the raw fields of its newest
    event (latest in event time, then in arrival) and the aggregates as of that event's time
    over every event taken (time_since_last as when that event arrived)."""
    ok = accepted(view, log)
    out: dict[str, tuple[int, list[float]]] = {}
    for entity in entities if entities is not None else {e.entity for e in log}:
        seen = [(j, e) for j, e in enumerate(log) if ok[j] and e.entity == entity]
        if not seen:
            continue
        i, newest = max(seen, key=lambda m: (m[1].ts, m[0]))
        before = [(j, e) for j, e in seen if j < i]
        raw = [float(newest.fields[f]) for f in view.raw_fields]
        values = raw + [aggregate(s, newest.ts, seen, before) for s in view.specs]
        context = {**newest.fields, **dict(zip(view.feature_names, values, strict=False))}
        for t in view.transforms:
            values += t.apply(context)
        out[entity] = (newest.ts, values)
    return out


def assert_close(
    view: FeatureView, got: Sequence[float], want: Sequence[float], scale: float
) -> None:
    """Equal up to rounding: std through its variance, whose running sums carry ~1e-16 of the
    window's second moment."""
    kinds = {s.name: s.kind for s in view.specs}
    assert len(got) == len(want)
    names = [s.name for s in view.specs] if len(got) == len(view.specs) else view.feature_names
    for name, g, w in zip(names, got, want, strict=False):
        if kinds.get(name) == "std":
            assert abs(g * g - w * w) <= 1e-9 * (1.0 + scale * scale), (name, g, w)
        else:
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9 * (1.0 + scale)), (name, g, w)
