"""The producer SDK: publish events and delayed labels to a stream's topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.config import KafkaConfig, StreamConfig
from streams.workload import Message

__all__ = ["EventProducer"]


class EventProducer:
    """Publishes to `<s>.events` (keyed by entity) and `<s>.labels`.

    Usage::

        async with EventProducer(cfg.kafka, cfg.stream("payments")) as producer:
            await producer.send_event({"id": "e1", "entity": "a", "ts": 1, "amount": 3.0})
            await producer.send_label("e1", 1)
    """

    def __init__(self, kafka: KafkaConfig, stream: StreamConfig) -> None:
        self.kafka = kafka
        self.stream = stream
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **self.kafka.client_options(),
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=2 << 20,
            client_id="riffle-producer",
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("EventProducer.start() has not been awaited")
        return self._producer

    async def send_event(
        self,
        event: Mapping[str, Any] | bytes,
        key: str | bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Queue one event; returns a future resolved when Kafka has it."""
        if isinstance(event, bytes):
            if key is None:
                # the entity decides the partition, so an entity's events stay in order and
                # in one window state; raw bytes do not say which entity they are for
                raise ValueError("send_event(bytes) needs key= (the entity id)")
            value = event
        else:
            value = orjson.dumps(event)
            if key is None:
                key = str(event.get(self.stream.schema.entity_field, ""))
        if isinstance(key, str):
            key = key.encode()
        fut: Awaitable[Any] = await self.producer.send(
            self.stream.topics.events, value, key=key, headers=headers
        )
        return fut

    async def send_label(self, event_id: str, label: int, key: str | bytes | None = None) -> Any:
        if isinstance(key, str):
            key = key.encode()
        value = orjson.dumps({"event_id": event_id, "label": label})
        return await self.producer.send(self.stream.topics.labels, value, key=key)

    async def replay(
        self,
        messages: Iterable[Message],
        rate: float | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Publish a workload in order, at `rate` messages/s (None: as fast as possible)."""
        t = self.stream.topics
        futs = []
        start = time.monotonic()
        n = 0
        for m in messages:
            topic = t.events if m.kind == "event" else t.labels
            headers = list(m.headers) or None
            futs.append(await self.producer.send(topic, m.value, key=m.key, headers=headers))
            n += 1
            if rate is not None and n % 100 == 0:
                ahead = n / rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(futs) >= 5000:
                await asyncio.gather(*futs)
                futs.clear()
                if on_progress is not None:
                    on_progress(n)
        await asyncio.gather(*futs)
        if on_progress is not None:
            on_progress(n)
        return n
