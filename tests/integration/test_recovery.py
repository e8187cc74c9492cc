"""State survives a crash: SIGKILL a real worker process mid-stream and start another."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.checkpoint import RedisCheckpoints
from streams.config import RiffleConfig, parse_config
from streams.workload import Workload
from tests.conftest import ROOT, fresh_raw
from tests.integration.helpers import assert_store_matches_events, collect, publish

pytestmark = pytest.mark.integration


def _start(raw: dict[str, object], env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.worker_proc", json.dumps(raw)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"worker did not start (exit {proc.poll()})"
    return proc


async def _wait_produced(cfg: RiffleConfig, topic: str, n: int, timeout_s: float = 60) -> None:
    consumer = AIOKafkaConsumer(**cfg.kafka.client_options())
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            tps = [TopicPartition(topic, p) for p in range(cfg.stream().partitions)]
            if sum((await consumer.end_offsets(tps)).values()) >= n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{topic} did not reach {n} records")
    finally:
        await consumer.stop()


async def test_features_and_predictions_survive_sigkill(services: tuple[str, str]) -> None:
    kafka, redis = services
    env = {**os.environ, "RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis}
    raw = fresh_raw()
    cfg = parse_config(raw, env)
    stream = cfg.stream()
    wl = Workload(n_events=8_000, seed=5, bad_rate=0.002)
    messages = list(wl.messages())
    half = len(messages) // 2

    first = _start(raw, env)
    try:
        pub = asyncio.create_task(publish(cfg, stream, messages[:half]))
        # kill it part-way through the stream: state after its last checkpoint is lost
        await _wait_produced(cfg, stream.topics.predictions, 1_000)
        first.send_signal(signal.SIGKILL)
        await pub
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        assert first.stdout is not None
        first.stdout.close()
    second = _start(raw, env)
    try:
        await publish(cfg, stream, messages[half:])
        valid = {f"e5-{m.index}" for m in messages if m.kind == "event" and not m.bad}
        t0 = time.monotonic()
        out = await collect(
            cfg,
            stream,
            expected=wl.n_events,
            timeout_s=120,
            until=lambda o: valid <= {p.event_id for p in o.predictions},
        )
        elapsed = time.monotonic() - t0
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
        assert second.stdout is not None
        second.stdout.close()

    # no event is left without a prediction; replays after the crash repeat event ids only
    ids = [p.event_id for p in out.predictions]
    assert valid <= set(ids), f"missing after {elapsed:.0f}s: {len(valid - set(ids))}"
    assert set(ids) <= valid

    # every labelled event was learned exactly once: replays after the crash were skipped
    labelled = {m.index for m in messages if m.kind == "label"} | {
        m.index for m in messages if m.kind == "event" and not m.bad and b'"label"' in m.value
    }
    valid_idx = {m.index for m in messages if m.kind == "event" and not m.bad}
    client = aioredis.Redis.from_url(cfg.redis_url.get())
    try:
        ckpt = await RedisCheckpoints(client).load(f"{stream.name}:learner")
    finally:
        await client.aclose()
    assert ckpt is not None
    n_predicted, n_learned = ckpt.state["counters"][:2]
    st = ckpt.state
    assert n_learned == len(labelled & valid_idx), (
        len(st["early"]["items"]),
        st["early"]["n_evicted"],
        len(st["pending"]["items"]),
        st["pending"]["n_evicted"],
        st["counters"],
        [d.reason for d in out.dead][:5],
    )
    assert n_predicted == len(valid)

    # the aggregates in Redis equal those recomputed from the full event log
    await assert_store_matches_events(cfg, stream, messages)
