"""Outputs are acknowledged before the checkpoint that covers them, not after every batch; a
send that failed fails the loop, which never checkpoints over the lost outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import ConsumerRecord

from streams.checkpoint import DirectoryCheckpoints
from streams.config import KafkaConfig, RuntimeConfig
from streams.stage_loop import Batch, StageLoop

TP = TopicPartition("s.events", 0)


class Sends(StageLoop):
    """A stage whose every batch sends one output, acknowledged when the test says."""

    stage = "acks"

    def __init__(self, root: Path) -> None:
        # no producer: `handle` makes the send futures
        none: Any = None
        super().__init__(
            "s", [TP.topic], KafkaConfig(), RuntimeConfig(), none, DirectoryCheckpoints(root), "d"
        )
        self.sent: list[asyncio.Future[Any]] = []
        self.n = 0

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        self.n += len(batch)
        fut = asyncio.get_running_loop().create_future()
        self.sent.append(fut)
        return [fut]

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        return {"n": self.n}


def batch(offset: int) -> Batch:
    record = ConsumerRecord(TP.topic, 0, offset, 0, 0, None, b"{}", None, 0, 2, ())
    return [(TP, record)]


async def test_a_batch_does_not_wait_for_its_acks_but_the_checkpoint_does(tmp_path: Path) -> None:
    loop = Sends(tmp_path)
    for offset in range(3):
        await loop._process(batch(offset))  # returns with its output still unacknowledged
    assert [f.done() for f in loop.sent] == [False] * 3
    saving = asyncio.ensure_future(loop.checkpoint([TP]))
    await asyncio.sleep(0.01)
    assert not saving.done() and not list(tmp_path.iterdir())  # waits for every ack
    for f in loop.sent:
        f.set_exception(KafkaTimeoutError())
    with pytest.raises(KafkaTimeoutError):
        await saving
    assert isinstance(loop._failure, KafkaTimeoutError)  # `stop` will not checkpoint either
    assert not list(tmp_path.iterdir())


async def test_a_failed_send_fails_a_later_batch_before_any_checkpoint(tmp_path: Path) -> None:
    loop = Sends(tmp_path)
    await loop._process(batch(0))
    loop.sent[0].set_exception(KafkaTimeoutError())
    failed_at = None
    for offset in range(1, 100):  # noticed while outputs pile up, without waiting on them
        try:
            await loop._process(batch(offset))
        except KafkaTimeoutError:
            failed_at = offset
            break
        loop.sent[-1].set_result(None)
    assert failed_at is not None and isinstance(loop._failure, KafkaTimeoutError)
    assert not list(tmp_path.iterdir())


class Consumer:
    stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_stopping_with_an_output_lost_saves_nothing_and_still_stops(tmp_path: Path) -> None:
    loop = Sends(tmp_path)
    consumer = Consumer()
    loop._consumer = consumer  # type: ignore[assignment]  # only `stop` is called
    await loop._process(batch(0))
    loop.sent[0].set_exception(KafkaTimeoutError())
    with pytest.raises(KafkaTimeoutError):
        await loop.stop()
    assert consumer.stopped and loop._consumer is None
    assert not list(tmp_path.iterdir())
