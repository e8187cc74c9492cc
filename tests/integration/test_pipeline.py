"""The whole path on the real broker and Redis."""

from __future__ import annotations

import json
import math

import numpy as np
import orjson
import pytest

from streams.metrics import METRICS
from streams.runner import EmbeddedRunner
from streams.worker import Worker
from streams.workload import Message, Workload
from tests.conftest import fresh_config
from tests.integration.helpers import Outputs, assert_store_matches_events, collect, publish

pytestmark = pytest.mark.integration

N = 12_000
SHIFT = 6_000


def _explicit_bad(start: int) -> list[Message]:
    """One of each kind of bad record the issue names, at known workload positions."""
    base = {
        "id": "x",
        "entity": "acct-1",
        "ts": 1_767_225_600_000,
        "amount": 1.0,
        "duration": 2.0,
        "items": 1.0,
        "risk": 0.1,
        "merchant": "m-1",
        "channel": "web",
    }
    bodies = {
        "malformed_json": b'{"id": "bad-json", "entity": ',
        "missing_field": orjson.dumps({k: v for k, v in base.items() if k != "entity"}),
        "wrong_type": orjson.dumps({**base, "id": "bad-type", "amount": "many"}),
        "non_finite": json.dumps({**base, "id": "bad-nan", "risk": math.nan}).encode(),
        "oversized": orjson.dumps({**base, "id": "bad-big", "pad": "y" * 80_000}),
        # a week before the stream's events: far beyond the allowed lateness
        "late_event": orjson.dumps({**base, "id": "bad-late", "ts": 1_766_620_800_000}),
        "unknown_view": orjson.dumps({**base, "id": "bad-view"}),
    }
    headers = {"unknown_view": (("riffle-view", b"payments_v9"),)}
    return [
        Message("event", b"acct-1", v, start + i, bad=k, headers=headers.get(k, ()))
        for i, (k, v) in enumerate(bodies.items())
    ]


def _index(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def _drift_after_shift(out: Outputs) -> bool:
    return any(a.kind == "drift" and _index(a.details["event_id"]) >= SHIFT for a in out.alerts)


async def test_every_event_is_predicted_or_dead_lettered(services: tuple[str, str]) -> None:
    cfg = fresh_config(services)
    stream = cfg.stream()
    wl = Workload(n_events=N, shift_at=SHIFT, bad_rate=0.003, seed=3)
    messages = list(wl.messages())
    bad_extra = _explicit_bad(N)
    worker = Worker(cfg)
    assert worker.store is None  # serving answers 503 until the store is connected
    await worker.start()
    try:
        assert worker.store is not None and await worker.store.read_many(stream.view, []) == []
        await worker.wait_ready()
        published = await publish(cfg, stream, messages + bad_extra)
        assert published == len(messages) + len(bad_extra)
        total = N + len(bad_extra)
        out = await collect(cfg, stream, expected=total, until=_drift_after_shift)
    finally:
        await worker.stop()
    assert worker.store is None  # and again once it is stopped

    bad_ids = {m.index for m in messages if m.kind == "event" and m.bad}
    valid_ids = {f"e3-{m.index}" for m in messages if m.kind == "event" and not m.bad}
    preds = out.unique_predictions()
    # every valid event has exactly one prediction record, with its event id
    assert set(preds) == valid_ids
    assert len(out.predictions) == len(valid_ids)
    # every invalid record is on the DLQ with a reason and its source offset
    feature_dead = [d for d in out.dead if d.stage == "features"]
    assert len(feature_dead) == len(bad_ids) + len(bad_extra)
    assert len(preds) + len(feature_dead) == total
    reasons = {d.reason for d in feature_dead}
    assert {
        "malformed_json",
        "missing_field",
        "wrong_type",
        "non_finite",
        "oversized",
        "late_event",
        "unknown_view",
    } <= reasons
    # and counted by reason on /metrics
    dead_metric = {
        r: METRICS.get("riffle_dead_letters_total", stream=stream.name, stage="features", reason=r)
        for r in reasons
    }
    assert dead_metric == {r: sum(d.reason == r for d in feature_dead) for r in reasons}
    assert all(
        d.topic == stream.topics.events and d.offset >= 0 and d.message for d in feature_dead
    )
    offsets = {(d.partition, d.offset) for d in feature_dead}
    assert len(offsets) == len(feature_dead)
    # a drift alert arrives after the concept shift
    drift = [a for a in out.alerts if a.kind == "drift"]
    after = [a for a in drift if _index(a.details["event_id"]) >= SHIFT]
    assert after, f"no drift alert after the shift; drift alerts: {drift}"
    # anomaly alerts point at most injected anomalies scored after the warm-up (an anomaly of
    # an entity whose episode is still open extends it rather than raising an alert, and
    # which episodes are open depends on how the two partitions interleave)
    warm_up = stream.monitor.anomaly_warm_up
    injected = {
        f"e3-{m.index}" for m in messages if m.kind == "event" and m.anomaly and m.index > warm_up
    }
    flagged = {a.details["event_id"] for a in out.alerts if a.kind == "anomaly"}
    assert len(injected & flagged) > 0.5 * len(injected), sorted(
        _index(e) for e in injected - flagged
    )

    # the features in Redis equal the aggregates recomputed from the events
    await assert_store_matches_events(cfg, stream, messages)


async def test_embedded_and_kafka_give_the_same_predictions(services: tuple[str, str]) -> None:
    # One partition and inline labels: the event order is total, so both drivers must agree.
    cfg = fresh_config(services, partitions=1)
    stream = cfg.stream()
    wl = Workload(
        n_events=5_000,
        shift_at=2_500,
        seed=11,
        inline_label_rate=0.8,
        delayed_label_rate=0.0,
        bad_rate=0.002,
    )
    messages = list(wl.messages())
    embedded = await EmbeddedRunner(stream, batch_size=333).run(messages)
    worker = Worker(cfg)
    await worker.start()
    try:
        await worker.wait_ready()
        await publish(cfg, stream, messages)
        out = await collect(cfg, stream, expected=wl.n_events)
    finally:
        await worker.stop()
    kafka = out.unique_predictions()
    assert len(kafka) == len(embedded.predictions)
    ours = np.array([p.proba for p in embedded.predictions])
    theirs = np.array([kafka[p.event_id].proba for p in embedded.predictions])
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12)
    assert [kafka[p.event_id].prediction for p in embedded.predictions] == [
        p.prediction for p in embedded.predictions
    ]
