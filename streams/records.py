"""Prediction records, as published on `<s>.predictions` and reply topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from featurestore import InvalidEventError

__all__ = ["Prediction", "decode_label"]


@dataclass(slots=True)
class Prediction:
    """The model's answer for one event. `label` is the inline label when the event had one
    (the monitor reads outcomes from it); `source` is where the features record came from."""

    event_id: str
    entity: str
    ts: int
    model: str
    prediction: int
    proba: float
    label: int | None = None
    source: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "event_id": self.event_id,
                "entity": self.entity,
                "ts": self.ts,
                "model": self.model,
                "prediction": self.prediction,
                "probabilities": {"0": 1.0 - self.proba, "1": self.proba},
                "label": self.label,
                "source": self.source,
                "timings": self.timings,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Prediction:
        body = orjson.loads(raw)
        return cls(
            body["event_id"],
            body["entity"],
            body["ts"],
            body["model"],
            body["prediction"],
            body["probabilities"]["1"],
            body.get("label"),
            body.get("source") or {},
            body.get("timings") or {},
        )


def decode_label(raw: bytes) -> tuple[str, int]:
    """Decode a `<s>.labels` record: ``{"event_id": ..., "label": 0|1}``.

    Raises `featurestore.InvalidEventError` with a reason, like a bad event.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError("malformed_json", f"label is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("event_id"), str | int):
        raise InvalidEventError("missing_field", "label record needs an 'event_id'")
    label = body.get("label")
    if label not in (0, 1) or isinstance(label, float):
        raise InvalidEventError("invalid_label", "label must be 0, 1, true or false")
    return str(body["event_id"]), int(label)
