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
    """The vectors in Redis equal a brute-force recomputation from the valid events (see
    `tests.featurestore.reference.current_vectors`), for the busiest and some other entities of
    every view of the stream."""
    from featurestore import RedisStore
    from tests.featurestore.reference import Ev, assert_close, current_vectors

    events = [orjson.loads(m.value) for m in messages if m.kind == "event" and not m.bad]
    store = RedisStore(cfg.redis_url.get())
    await store.start()
    try:
        for view in stream.views:
            key = view.entity or "entity"
            log = [Ev(str(e[key]), e["ts"], e) for e in events]
            counts: dict[str, int] = {}
            for ev in log:
                counts[ev.entity] = counts.get(ev.entity, 0) + 1
            busiest = sorted(counts, key=lambda k: -counts[k])
            sample = busiest[: n_sample // 2] + sorted(counts)[: n_sample - n_sample // 2]
            stored = await store.read_many(view, sample)
            # an entity's events share a partition: its log order is the order of processing
            wanted = set(sample)
            expected = current_vectors(view, [ev for ev in log if ev.entity in wanted], sample)
            names = view.feature_names
            for entity, vec in zip(sample, stored, strict=True):
                assert vec is not None, (view.name, entity)
                ts, want = expected[entity]
                assert vec.event_ts == ts, (view.name, entity)
                assert_close(view, [vec.values[n] for n in names], want, 1e4)
    finally:
        await store.stop()
