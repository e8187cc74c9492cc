"""`riffle tail`: print predictions, alerts or dead letters as they arrive."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

import orjson
from aiokafka import AIOKafkaConsumer

from featurestore import DeadLetter
from streams.config import RiffleConfig, StreamConfig

__all__ = ["format_record", "tail"]

SEVERITY = {"info": 0, "warning": 1, "critical": 2}


def format_record(
    what: str,
    value: bytes,
    key: bytes | None,
    headers: list[tuple[str, bytes]],
    partition: int,
    offset: int,
) -> str:
    if what == "dlq":
        d = DeadLetter.from_headers(value, key, headers)
        shown = value[:120].decode(errors="replace")
        return (
            f"{d.stage} {d.reason} from {d.topic}:{d.partition}@{d.offset}: {d.message} | "
            f"{shown}{'...' if len(value) > 120 else ''}"
        )
    body = orjson.loads(value)
    if what == "alerts":
        return (
            f"[{body['severity']}] {body['kind']} {body['detector']} stream={body['stream']} "
            f"subject={body['subject']} score={body['score']:.3g} "
            f"threshold={body['threshold']:.3g} at {body['offsets']}"
        )
    return orjson.dumps(body).decode()


async def tail(
    cfg: RiffleConfig,
    stream: StreamConfig,
    what: str,
    from_beginning: bool = False,
    max_records: int | None = None,
    kind: str | None = None,
    min_severity: str = "info",
    idle_timeout_s: float | None = None,
    out: TextIO = sys.stdout,
) -> int:
    topic = {
        "predictions": stream.topics.predictions,
        "alerts": stream.topics.alerts,
        "dlq": stream.topics.dlq,
    }[what]
    consumer = AIOKafkaConsumer(
        topic,
        **cfg.kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    n = 0
    idle = 0.0
    try:
        while max_records is None or n < max_records:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                idle += 0.5
                if idle_timeout_s is not None and idle >= idle_timeout_s:
                    break
                continue
            idle = 0.0
            for tp, msgs in batch.items():
                for m in msgs:
                    if what == "alerts":
                        body = orjson.loads(m.value or b"{}")
                        if body.get("stream") != stream.name or (kind and body.get("kind") != kind):
                            continue
                        if SEVERITY.get(body.get("severity"), 0) < SEVERITY[min_severity]:
                            continue
                    print(
                        format_record(
                            what, m.value or b"", m.key, list(m.headers), tp.partition, m.offset
                        ),
                        file=out,
                        flush=True,
                    )
                    n += 1
                    if max_records is not None and n >= max_records:
                        return n
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()
    return n
