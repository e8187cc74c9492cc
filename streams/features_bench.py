"""`riffle bench features`: the online feature store's numbers on the real broker and Redis.

* store writes: feature vectors written to Redis per second through `RedisStore.write_many`
  (pipelined, batches of 1,000 distinct entities), the write path alone;
* worker flood: one worker running only the feature stage on a pre-filled events topic: events
  per second from the first record to the last, and Redis vector writes per second;
* freshness at a steady rate: a publisher process sends events stamped with the current time at
  ``rate`` events/s; the worker (this process) records, per event, event time → its vector
  written to Redis;
* serving: `streams.serving_bench` (single-entity GETs and batch POSTs at 500 requests/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer

from featurestore import FeatureRecord, FeatureView, RedisStore
from streams.bench_stats import speed_probe
from streams.config import RiffleConfig, StreamConfig, Topics
from streams.demo import reset_stream
from streams.feature_loop import FeatureLoop
from streams.metrics import METRICS
from streams.worker import Worker
from streams.workload import Workload

__all__ = ["renamed", "run_features_bench", "steady_publish"]


def renamed(
    cfg: RiffleConfig, stream: StreamConfig, name: str
) -> tuple[RiffleConfig, StreamConfig]:
    """The stream under another name (its own topics, consumer groups, checkpoints, Redis keys:
    the serving-only views are renamed too, so a bench never overwrites the served vectors)."""
    view = dataclasses.replace(stream.view, name=name)
    extra = tuple(dataclasses.replace(v, name=f"{name}_{v.name}") for v in stream.extra_views)
    new = dataclasses.replace(
        stream, name=name, topics=Topics.for_stream(name), view=view, extra_views=extra
    )
    return dataclasses.replace(cfg, streams={name: new}), new


def minimal(stream: StreamConfig) -> StreamConfig:
    """The stream with the smallest useful view (count, mean and last of two fields over one
    tumbling window, four raw fields), to show what the aggregations cost."""
    view = FeatureView(
        stream.view.name,
        window="5m",
        fields=("amount", "duration"),
        aggregations=("count", "mean", "last"),
        passthrough=("amount", "duration", "items", "risk"),
        allowed_lateness="5m",
    )
    return dataclasses.replace(stream, view=view, extra_views=())


def _percentiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), 2),
        "p95": round(float(np.percentile(a, 95)), 2),
        "p99": round(float(np.percentile(a, 99)), 2),
        "max": round(float(a.max()), 2),
        "n": len(xs),
    }


async def store_writes(cfg: RiffleConfig, stream: StreamConfig, n: int = 200_000) -> float:
    """Vectors written per second by `RedisStore.write_many` in batches of 1,000 entities."""
    prefix = f"riffle-bench-{uuid.uuid4().hex[:8]}"
    store = RedisStore(cfg.redis_url.get(), prefix=prefix)
    await store.start()
    view = stream.view
    names = view.feature_names
    rng = random.Random(1)
    batches = [
        [
            FeatureRecord(
                f"e{i}",
                f"acct-{i % 50_000}",
                1_767_225_600_000 + i,
                [rng.random() * 100 for _ in names],
                None,
                view.name,
                view.version,
                names=names,
            )
            for i in range(start, start + 1000)
        ]
        for start in range(0, n, 1000)
    ]
    try:
        t0 = time.perf_counter()
        for b in batches:
            await store.write_many(view, b)
        elapsed = time.perf_counter() - t0
        keys = [k async for k in store.client.scan_iter(f"{prefix}:*", count=10_000)]
        for i in range(0, len(keys), 10_000):
            await store.client.delete(*keys[i : i + 10_000])
    finally:
        await store.stop()
    return n / elapsed


async def _publish(cfg: RiffleConfig, stream: StreamConfig, n: int, entities: int) -> None:
    producer = AIOKafkaProducer(
        **cfg.kafka.client_options(), linger_ms=5, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    try:
        wl = Workload(n_events=n, n_entities=entities, seed=11, disorder_rate=0.05)
        futs = [
            await producer.send(stream.topics.events, m.value, key=m.key)
            for m in wl.messages()
            if m.kind == "event"
        ]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _features_worker(
    cfg: RiffleConfig, stream: StreamConfig
) -> AsyncIterator[tuple[RiffleConfig, StreamConfig, FeatureLoop, asyncio.Task[None]]]:
    """A worker running only the feature stage of a fresh copy of the stream, removed after;
    with the task running it, which ends early only if the stage fails."""
    cfg, stream = renamed(cfg, stream, f"bench{uuid.uuid4().hex[:8]}")
    worker = Worker(cfg, [stream.name], stages=["features"])
    await worker.start()
    run = asyncio.create_task(worker.run())  # done early only if a stage failed: see _alive
    try:
        await worker.wait_ready()
        loop = next(lp for lp in worker.loops if isinstance(lp, FeatureLoop))
        yield cfg, stream, loop, run
    finally:
        await worker.stop()
        await asyncio.gather(run, return_exceptions=True)  # _alive raised its error, if any
        await reset_stream(cfg, stream, vectors=True)


def _alive(run: asyncio.Task[None]) -> None:
    """Raise the error of a bench worker whose stage failed (its measurement would wait for
    records that never come)."""
    if run.done() and not run.cancelled() and run.exception() is not None:
        raise RuntimeError(f"the bench worker's feature stage failed: {run.exception()!r}") from (
            run.exception()
        )


async def worker_flood(
    cfg: RiffleConfig, stream: StreamConfig, n: int, entities: int
) -> dict[str, float]:
    """One worker, feature stage only, on `n` events already in the topic."""
    async with _features_worker(cfg, stream) as (cfg, stream, _, run):
        await _publish(cfg, stream, n, entities)

        def records() -> float:
            return METRICS.get("riffle_records_in_total", stream=stream.name, stage="features")

        def writes() -> float:
            return METRICS.get("riffle_feature_writes_total", stream=stream.name)

        # the worker was idle while the topic filled; the clock starts at its first record
        while records() == 0:
            _alive(run)
            await asyncio.sleep(0.001)
        t0, w0, r0, c0 = time.perf_counter(), writes(), records(), time.process_time()
        while records() < n:
            _alive(run)
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        done = records() - r0
        return {
            "events_per_s": round(done / elapsed),
            "redis_writes_per_s": round((writes() - w0) / elapsed),
            # the worker's own CPU (it runs in this process): what caps one core, whatever
            # else (the broker, Redis) shares the machine
            "cpu_us_per_event": round((time.process_time() - c0) / done * 1e6, 1),
        }


async def steady_publish(
    bootstrap: str, topic: str, rate: float, duration_s: float, entities: int
) -> float:
    """Send events stamped with the current time at `rate` per second; returns the rate sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1)
    await producer.start()
    rng = random.Random(3)
    t0 = time.perf_counter()
    sent = 0
    try:
        while (elapsed := time.perf_counter() - t0) < duration_s:
            while sent < int(elapsed * rate) + 1:
                entity = f"acct-{int(rng.paretovariate(1.1)) % entities}"
                body = {
                    "id": f"f{sent}",
                    "entity": entity,
                    "ts": int(time.time() * 1000),
                    "amount": rng.lognormvariate(3.0, 0.6),
                    "duration": rng.gammavariate(2.0, 30.0),
                    "items": float(rng.randint(1, 6)),
                    "risk": rng.betavariate(2.0, 5.0),
                    "merchant": f"m-{rng.randint(0, 300)}",
                    "channel": rng.choice(("web", "app", "pos")),
                }
                await producer.send(topic, orjson.dumps(body), key=entity.encode())
                sent += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
    return sent / duration_s


async def freshness(
    cfg: RiffleConfig, stream: StreamConfig, rate: float, duration_s: float, entities: int
) -> dict[str, Any]:
    """Per-event freshness (event time → vector in Redis) at a steady publishing rate."""
    async with _features_worker(cfg, stream) as (cfg, stream, loop, run):
        # a separate process, so publishing does not share this event loop or core
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.features_bench",
            cfg.kafka.bootstrap_servers,
            stream.topics.events,
            str(rate),
            str(duration_s),
            str(entities),
            stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        await asyncio.sleep(1.0)
        _alive(run)
        samples = list(loop.freshness)
        warm = int(len(samples) * 0.1)  # the first tenth: connections and JIT-free warm-up
        result = _percentiles(samples[warm:])
        result["achieved_rate"] = round(float(out.decode().strip() or 0))
        return result


async def run_features_bench(
    cfg: RiffleConfig,
    stream: StreamConfig,
    events: int = 200_000,
    entities: int = 20_000,
    rate: float = 5000.0,
    duration_s: float = 20.0,
    runs: int = 3,
    serving: bool = True,
) -> dict[str, Any]:
    """Every number of the feature store; medians over `runs` where a run is cheap to repeat."""
    probe_start = speed_probe()
    writes = [await store_writes(cfg, stream) for _ in range(runs)]
    floods = [await worker_flood(cfg, stream, events, entities) for _ in range(runs)]
    small = minimal(stream)
    small_floods = [await worker_flood(cfg, small, events, entities) for _ in range(runs)]
    fresh = [await freshness(cfg, stream, rate, duration_s, entities) for _ in range(runs)]
    small_fresh = [await freshness(cfg, small, rate, duration_s, entities) for _ in range(runs)]
    result: dict[str, Any] = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            # µs per call of a fixed workload, before and after: how fast the VM ran meanwhile
            "speed_probe_us": {"start": probe_start, "end": speed_probe()},
        },
        "view": {
            "name": stream.view.name,
            "features": len(stream.view.feature_names),
            "serving_only_views": [v.name for v in stream.extra_views],
        },
        "store_writes_per_s": {
            "median": round(statistics.median(writes)),
            "runs": [round(w) for w in writes],
        },
        "worker_flood": {
            "events": events,
            "entities": entities,
            "events_per_s_median": statistics.median(f["events_per_s"] for f in floods),
            "redis_writes_per_s_median": statistics.median(f["redis_writes_per_s"] for f in floods),
            "cpu_us_per_event_median": statistics.median(f["cpu_us_per_event"] for f in floods),
            "runs": floods,
        },
        "worker_flood_minimal_view": {
            "view": list(small.view.feature_names),
            "events_per_s_median": statistics.median(f["events_per_s"] for f in small_floods),
            "redis_writes_per_s_median": statistics.median(
                f["redis_writes_per_s"] for f in small_floods
            ),
            "cpu_us_per_event_median": statistics.median(
                f["cpu_us_per_event"] for f in small_floods
            ),
            "runs": small_floods,
        },
        "freshness_ms_minimal_view": {
            "rate": rate,
            "duration_s": duration_s,
            "p50_median": statistics.median(f["p50"] for f in small_fresh),
            "p99_median": statistics.median(f["p99"] for f in small_fresh),
            "runs": small_fresh,
        },
        "freshness_ms": {
            "rate": rate,
            "duration_s": duration_s,
            "p50_median": statistics.median(f["p50"] for f in fresh),
            "p99_median": statistics.median(f["p99"] for f in fresh),
            "runs": fresh,
        },
    }
    if serving:
        from streams.serving_bench import run_serving_bench

        result["serving"] = await asyncio.to_thread(
            run_serving_bench, cfg, stream, rate=500.0, duration_s=duration_s
        )
    return result


if __name__ == "__main__":  # the publisher process of `freshness`
    bootstrap, topic, rate, duration, entities = sys.argv[1:6]
    sent = asyncio.run(
        steady_publish(bootstrap, topic, float(rate), float(duration), int(entities))
    )
    print(sent)
