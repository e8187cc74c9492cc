"""`PredictionClient` against the real broker, with a real worker (features + learner) answering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from streams.config import RiffleConfig, StreamConfig
from streams.demo import reset_stream
from streams.exceptions import PredictionTimeout
from streams.prediction_client import PredictionClient
from streams.topics import ensure_topics
from streams.worker import Worker
from tests.conftest import fresh_config

pytestmark = pytest.mark.integration

STAGES = ("features", "learner")
# a lone request waits for the learner's partition alignment (max_idle_ms) on top of two hops
ANSWER_S = 30.0


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"r-{i}",
        "entity": f"acct-{i % 7}",
        "ts": int(time.time() * 1000),
        "amount": 10.0 + i,
        "duration": 30.0,
        "items": 2.0,
        "risk": 0.3,
        "merchant": f"m-{i % 5}",
        "channel": "web",
        **extra,
    }


@pytest.fixture
async def cfg(services: tuple[str, str]) -> AsyncIterator[RiffleConfig]:
    cfg = fresh_config(services)
    yield cfg
    await reset_stream(cfg, cfg.stream())


async def _worker(cfg: RiffleConfig) -> Worker:
    worker = Worker(cfg, stages=STAGES)
    await worker.start()
    await worker.wait_ready()
    return worker


async def _read_all(cfg: RiffleConfig, topic: str, n: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, **cfg.kafka.client_options(), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[Any] = []
    deadline = time.monotonic() + 30
    try:
        while len(out) < n and time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=300)).values():
                out.extend(msgs)
    finally:
        await consumer.stop()
    return out


async def _topics(cfg: RiffleConfig) -> set[str]:
    admin = AIOKafkaAdminClient(**cfg.kafka.client_options())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _gone(cfg: RiffleConfig, topic: str) -> bool:
    """The topic is deleted (deletion reaches the metadata a moment after the request)."""
    deadline = time.monotonic() + 10
    while topic in await _topics(cfg):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def test_replies_carry_the_event_id_and_the_request_correlation_id(
    cfg: RiffleConfig,
) -> None:
    stream = cfg.stream()
    worker = await _worker(cfg)
    try:
        async with PredictionClient(cfg, stream.name) as client:
            reply_topic = client.reply_topic
            assert reply_topic.startswith(f"{stream.name}.replies.")
            assert reply_topic in await _topics(cfg)
            first = await client.predict(_event(0), timeout=ANSWER_S)
            second = await client.predict(_event(1), timeout=ANSWER_S)
            assert (first.event_id, first.entity) == ("r-0", "acct-0")
            assert (second.event_id, second.entity) == ("r-1", "acct-1")
            assert first.model and 0.0 <= first.proba <= 1.0
            assert (client.replies, client.late_replies, client.unknown_replies) == (2, 0, 0)
            # on the wire: each request's correlation id came back on the reply for its event
            requests = await _read_all(cfg, stream.topics.events, 2)
            replies = await _read_all(cfg, reply_topic, 2)
    finally:
        await worker.stop()
    sent = {orjson.loads(m.value)["id"]: dict(m.headers) for m in requests}
    got = {orjson.loads(m.value)["event_id"]: dict(m.headers) for m in replies}
    assert set(sent) == set(got) == {"r-0", "r-1"}
    for event_id, headers in sent.items():
        assert headers["reply-to"] == reply_topic.encode()
        assert got[event_id]["correlation-id"] == headers["correlation-id"]
    # the reply topic the client created is gone once it stopped
    assert await _gone(cfg, reply_topic)


async def test_concurrent_requests_each_get_their_own_answer(cfg: RiffleConfig) -> None:
    worker = await _worker(cfg)
    try:
        async with PredictionClient(cfg, cfg.stream().name) as client:
            events = [_event(i) for i in range(60)]
            preds = await client.predict_many(events, timeout=ANSWER_S)
            assert [p.event_id for p in preds] == [e["id"] for e in events]
            assert [p.entity for p in preds] == [e["entity"] for e in events]
            # and separate predict calls interleaved on the same client
            more = await asyncio.gather(
                *(client.predict(_event(i), timeout=ANSWER_S) for i in range(100, 130))
            )
            assert [p.event_id for p in more] == [f"r-{i}" for i in range(100, 130)]
            assert client.replies == 90 and client.pending == 0
            assert client.late_replies == client.unknown_replies == 0
    finally:
        await worker.stop()


async def test_timeout_without_a_worker_then_the_late_reply_is_counted(
    cfg: RiffleConfig,
) -> None:
    stream = cfg.stream()
    await ensure_topics(cfg.kafka, [stream])
    async with PredictionClient(cfg, stream.name) as client:
        t0 = time.monotonic()
        with pytest.raises(PredictionTimeout, match="'r-5' within 2 s") as info:
            await client.predict(_event(5), timeout=2.0)
        assert 2.0 <= time.monotonic() - t0 < 5.0
        assert info.value.event_id == "r-5" and client.pending == 0
        # the worker comes up, reads the request from the topic and answers it: too late
        worker = await _worker(cfg)
        try:
            deadline = time.monotonic() + ANSWER_S
            while client.late_replies == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert (client.late_replies, client.replies, client.unknown_replies) == (1, 0, 0)
            # and the client goes on answering new requests
            assert (await client.predict(_event(6), timeout=ANSWER_S)).event_id == "r-6"
        finally:
            await worker.stop()


async def test_a_dead_lettered_event_times_out(cfg: RiffleConfig) -> None:
    stream: StreamConfig = cfg.stream()
    worker = await _worker(cfg)
    try:
        async with PredictionClient(cfg, stream.name) as client:
            assert (await client.predict(_event(0), timeout=ANSWER_S)).event_id == "r-0"
            with pytest.raises(PredictionTimeout, match="'r-bad'"):
                await client.predict(_event(1, id="r-bad", amount="many"), timeout=3.0)
            dead = await _read_all(cfg, stream.topics.dlq, 1)
            assert [orjson.loads(m.value)["id"] for m in dead] == ["r-bad"]
            assert client.late_replies == 0
    finally:
        await worker.stop()


async def test_a_reply_topic_is_deleted_only_by_the_client_that_created_it(
    cfg: RiffleConfig,
) -> None:
    name = f"{cfg.stream().name}.replies.shared"
    async with PredictionClient(cfg, cfg.stream().name, reply_topic=name) as owner:
        assert owner.reply_topic == name
        async with PredictionClient(cfg, cfg.stream().name, reply_topic=name):
            pass  # found it there: leaves it
        assert name in await _topics(cfg)
    assert await _gone(cfg, name)
