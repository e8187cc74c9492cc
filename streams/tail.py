"""`riffle tail`: print predictions, alerts or dead letters as they arrive."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer

from featurestore import DeadLetter
from streams.config import RiffleConfig, StreamConfig

__all__ = ["format_alert", "format_record", "tail"]

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
        return format_alert(body)
    return orjson.dumps(body).decode()


def format_alert(body: dict[str, Any]) -> str:
    """One line per alert: status, severity, kind/detector, subject, score against threshold,
    the source record, and for data drift the drifted features with their statistics.

    >>> print(format_alert({"id": "a1", "status": "resolved", "resolves": "f0",
    ...     "severity": "warning", "kind": "data_drift", "detector": "ks", "stream": "s",
    ...     "subject": "amount", "score": 0.07, "threshold": 0.23,
    ...     "offsets": {"topic": "s.features", "partition": 1, "offset": 42},
    ...     "details": {"features": ["amount"], "statistics": {"amount": 0.07}}}))
    ... # doctest: +NORMALIZE_WHITESPACE
    RESOLVED [warning] data_drift/ks stream=s subject=amount score=0.07 threshold=0.23
    at s.features:1@42 id=a1 resolves=f0 features=amount:0.07
    """
    status = str(body.get("status", "firing")).upper()
    off = body.get("offsets") or {}
    line = (
        f"{status} [{body['severity']}] {body['kind']}/{body['detector']} "
        f"stream={body['stream']} subject={body['subject']} score={body['score']:.3g} "
        f"threshold={body['threshold']:.3g} "
        f"at {off.get('topic')}:{off.get('partition')}@{off.get('offset')} id={body['id']}"
    )
    if body.get("resolves"):
        line += f" resolves={body['resolves']}"
    details = body.get("details") or {}
    stats = details.get("statistics") or {}
    if details.get("features"):
        shown = [f"{f}:{stats[f]:.3g}" if f in stats else str(f) for f in details["features"]]
        line += f" features={','.join(shown)}"
    if details.get("event_id"):
        line += f" event={details['event_id']}"
    return line


async def tail(
    cfg: RiffleConfig,
    stream: StreamConfig,
    what: str,
    from_beginning: bool = False,
    max_records: int | None = None,
    kind: str | None = None,
    min_severity: str = "info",
    idle_timeout_s: float | None = None,
    out: TextIO | None = None,
    status: str | None = None,
) -> int:
    """Print records of `what` (predictions, alerts or dlq) to `out` (default: stdout); alerts
    only of `stream`, filtered by `kind`, `min_severity` and `status` (firing or resolved)."""
    out = out or sys.stdout
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
                        if status and body.get("status", "firing") != status:
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
