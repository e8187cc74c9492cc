"""Creating the topics a stream needs (idempotent)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.config import KafkaConfig, StreamConfig
from streams.exceptions import ServiceUnavailableError

__all__ = ["ensure_topics"]


async def ensure_topics(kafka: KafkaConfig, streams: Iterable[StreamConfig]) -> list[str]:
    """Create every missing topic of `streams` (and `riffle.alerts`); return those created."""
    wanted: dict[str, int] = {}
    for s in streams:
        t = s.topics
        for name in (t.events, t.features, t.predictions, t.labels, t.dlq):
            wanted[name] = s.partitions
        wanted.setdefault(t.alerts, 1)
        wanted.setdefault(t.control, 1)  # commands are rare and must stay in order
    admin = AIOKafkaAdminClient(**kafka.client_options(), client_id="riffle-admin")
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise ServiceUnavailableError(
            f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc} "
            "(start one with `make services-up`)"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, p, 1) for n, p in wanted.items() if n not in existing]
        if missing:
            # another worker may create them at the same moment
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()
