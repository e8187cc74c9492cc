"""Helpers for the end-to-end tests: run a worker, publish, collect the stream's outputs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer

from featurestore import DeadLetter
from monitor.alert import Alert
from streams.config import RiffleConfig, StreamConfig
from streams.records import Prediction
from streams.workload import Message


@dataclass
class Outputs:
    predictions: list[Prediction] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def unique_predictions(self) -> dict[str, Prediction]:
        return {p.event_id: p for p in self.predictions}


async def publish(cfg: RiffleConfig, stream: StreamConfig, messages: Iterable[Message]) -> int:
    from streams.producer import EventProducer

    async with EventProducer(cfg.kafka, stream) as producer:
        return await producer.replay(messages)


async def collect(
    cfg: RiffleConfig,
    stream: StreamConfig,
    expected: int,
    timeout_s: float = 120.0,
    until: Callable[[Outputs], bool] | None = None,
) -> Outputs:
    """Read predictions, dead letters and this stream's alerts from the beginning until
    `expected` distinct event ids are accounted for and `until(outputs)` holds (or time runs
    out: the caller's assertions then say what is missing)."""
    t = stream.topics
    consumer = AIOKafkaConsumer(
        t.predictions,
        t.dlq,
        t.alerts,
        **cfg.kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    out = Outputs()
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for tp, msgs in batch.items():
                for m in msgs:
                    value = m.value or b""
                    if tp.topic == t.predictions:
                        p = Prediction.from_json(value)
                        out.predictions.append(p)
                        seen.add(p.event_id)
                    elif tp.topic == t.dlq:
                        d = DeadLetter.from_headers(value, m.key, list(m.headers))
                        out.dead.append(d)
                        if d.stage == "features":
                            seen.add(f"dlq:{d.topic}:{d.partition}:{d.offset}")
                    elif orjson.loads(value).get("stream") == stream.name:
                        out.alerts.append(Alert.from_json(value))
            if len(seen) >= expected and (until is None or until(out)):
                # one more poll: duplicates would show up right behind the last record
                await asyncio.sleep(0.5)
                for tp, msgs in (await consumer.getmany(timeout_ms=300)).items():
                    if tp.topic == t.predictions:
                        out.predictions.extend(Prediction.from_json(m.value or b"") for m in msgs)
                break
    finally:
        await consumer.stop()
    return out


async def assert_store_matches_events(
    cfg: RiffleConfig, stream: StreamConfig, messages: list[Message], n_sample: int = 30
) -> None:
    """The vectors in Redis equal a brute-force recomputation from the valid events: the raw
    fields of each entity's last event and the aggregates of the window that event fell in."""
    import pytest

    from featurestore import RedisStore

    by_entity: dict[str, list[dict[str, float]]] = {}
    for m in messages:
        if m.kind == "event" and not m.bad:
            e = orjson.loads(m.value)
            by_entity.setdefault(e["entity"], []).append(e)
    busiest = sorted(by_entity, key=lambda k: -len(by_entity[k]))
    sample = busiest[: n_sample // 2] + sorted(by_entity)[: n_sample - n_sample // 2]
    view = stream.view
    store = RedisStore(cfg.redis_url.get())
    await store.start()
    try:
        stored = await store.read_many(view, sample)
    finally:
        await store.stop()
    w = view.window_ms
    names = view.feature_names
    for entity, vec in zip(sample, stored, strict=True):
        assert vec is not None, entity
        last = by_entity[entity][-1]
        win = [e for e in by_entity[entity] if e["ts"] // w == last["ts"] // w]
        expected = [float(last[f]) for f in view.raw_fields]
        if "count" in view.aggregations:
            expected.append(float(len(win)))
        for f in view.fields:
            for agg in view.aggregations:
                values = [float(e[f]) for e in win]
                if agg == "mean":
                    expected.append(sum(values) / len(values))
                elif agg == "sum":
                    expected.append(sum(values))
                elif agg == "min":
                    expected.append(min(values))
                elif agg == "max":
                    expected.append(max(values))
                elif agg == "last":
                    expected.append(values[-1])
        assert vec.event_ts == last["ts"], entity
        got = [vec.values[n] for n in names]
        assert got == pytest.approx(expected, rel=1e-12), (entity, names, got, expected)
