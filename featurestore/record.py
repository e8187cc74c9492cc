"""Records that enter and leave the feature processor."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = ["DeadLetter", "FeatureRecord", "Source", "SourceRecord"]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One input record as the driver read it (Kafka or in-process), with its position."""

    value: bytes
    key: bytes | None = None
    topic: str = ""
    partition: int = 0
    offset: int = -1
    timestamp: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


class Source(Protocol):
    """What the processor reads of an input record: a `SourceRecord`, or a Kafka consumer
    record as it comes (wrapping each costs more than a microsecond an event)."""

    @property
    def value(self) -> bytes: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed: the original bytes, why, and where it came from."""

    value: bytes
    key: bytes | None
    reason: str
    message: str
    topic: str
    partition: int
    offset: int
    stage: str = "features"

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers carrying the reason and the source position (the value stays as read)."""
        return [
            ("riffle.dlq.reason", self.reason.encode()),
            ("riffle.dlq.message", self.message.encode()),
            ("riffle.dlq.stage", self.stage.encode()),
            ("riffle.dlq.topic", self.topic.encode()),
            ("riffle.dlq.partition", str(self.partition).encode()),
            ("riffle.dlq.offset", str(self.offset).encode()),
        ]

    @classmethod
    def from_headers(
        cls, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> DeadLetter:
        h = {k: v.decode() for k, v in headers if k.startswith("riffle.dlq.")}
        return cls(
            value=value,
            key=key,
            reason=h.get("riffle.dlq.reason", ""),
            message=h.get("riffle.dlq.message", ""),
            topic=h.get("riffle.dlq.topic", ""),
            partition=int(h.get("riffle.dlq.partition", "-1")),
            offset=int(h.get("riffle.dlq.offset", "-1")),
            stage=h.get("riffle.dlq.stage", ""),
        )


@dataclass(slots=True)
class FeatureRecord:
    """The feature vector computed for one event, in the view's feature order."""

    event_id: str
    entity: str
    ts: int
    values: list[float]
    label: int | None
    view: str
    version: int
    topic: str = ""
    partition: int = 0
    offset: int = -1
    reply_to: str | None = None
    correlation_id: str | None = None
    names: tuple[str, ...] = field(default=(), repr=False)
    source_ts: int = 0  # Kafka timestamp of the source event (producer send time)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "entity": self.entity,
            "ts": self.ts,
            "features": dict(zip(self.names, self.values, strict=True)),
            "label": self.label,
            "view": self.view,
            "version": self.version,
            "source": {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "timestamp": self.source_ts,
            },
        }
        return orjson.dumps(body)

    @classmethod
    def from_json(cls, raw: bytes, names: tuple[str, ...]) -> FeatureRecord:
        """Decode a features record; `names` is the consumer's view of the feature order."""
        body = orjson.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("features record must be a JSON object")
        feats = body.get("features")
        source = body.get("source") or {}
        if not isinstance(feats, dict) or not isinstance(source, dict):
            raise ValueError("features record needs 'features' and 'source' objects")
        values = [feats.get(n) for n in names]
        bad = [
            n
            for n, v in zip(names, values, strict=True)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v)
        ]
        if bad:
            raise ValueError(f"features record lacks finite values for {bad}")
        label = body.get("label")
        if label not in (None, 0, 1) or isinstance(label, float):
            raise ValueError(f"features record has an invalid label {label!r}")
        record = cls(
            event_id=body.get("event_id"),  # type: ignore[arg-type]
            entity=body.get("entity"),  # type: ignore[arg-type]
            ts=body.get("ts"),  # type: ignore[arg-type]
            values=[float(v) for v in values],  # type: ignore[arg-type]
            label=None if label is None else int(label),
            view=body.get("view"),  # type: ignore[arg-type]
            version=body.get("version"),  # type: ignore[arg-type]
            topic=source.get("topic", ""),
            partition=source.get("partition", 0),
            offset=source.get("offset", -1),
            names=names,
            source_ts=source.get("timestamp", 0),
        )
        for field_name, kind in _TYPES:
            value = getattr(record, field_name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"features record field {field_name!r} is {value!r}")
        return record


_TYPES = (
    ("event_id", str),
    ("entity", str),
    ("ts", int),
    ("view", str),
    ("version", int),
    ("topic", str),
    ("partition", int),
    ("offset", int),
    ("source_ts", int),
)
