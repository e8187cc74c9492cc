"""The alert record that every detector publishes on `riffle.alerts`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["KINDS", "SEVERITIES", "Alert"]

KINDS = ("drift", "anomaly", "performance", "system")
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. Its id derives from what triggered it, so a replay after a crash republishes
    the same id and consumers can drop the duplicate.

    >>> a = Alert.create("payments", "drift", "ddm", "error_rate", 3.2, 3.0, "critical", ts=5,
    ...                  source=("payments.predictions", 0, 41))
    >>> Alert.from_json(a.to_json()) == a, a.id == Alert.create("payments", "drift", "ddm",
    ...     "error_rate", 9.9, 3.0, "critical", ts=5, source=("payments.predictions", 0, 41)).id
    (True, True)
    """

    id: str
    ts: int
    stream: str
    kind: str
    detector: str
    subject: str
    score: float
    threshold: float
    severity: str
    model_version: str | None = None
    view_version: str | None = None
    offsets: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "firing"

    @classmethod
    def create(
        cls,
        stream: str,
        kind: str,
        detector: str,
        subject: str,
        score: float,
        threshold: float,
        severity: str,
        ts: int,
        source: tuple[str, int, int] = ("", 0, -1),
        model_version: str | None = None,
        view_version: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Alert:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")
        topic, partition, offset = source
        digest = hashlib.sha1(
            f"{stream}|{kind}|{detector}|{subject}|{topic}|{partition}|{offset}".encode()
        ).hexdigest()[:16]
        return cls(
            digest,
            ts,
            stream,
            kind,
            detector,
            subject,
            float(score),
            float(threshold),
            severity,
            model_version,
            view_version,
            {"topic": topic, "partition": partition, "offset": offset},
            details or {},
        )

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "ts": self.ts,
                "stream": self.stream,
                "kind": self.kind,
                "detector": self.detector,
                "subject": self.subject,
                "score": self.score,
                "threshold": self.threshold,
                "severity": self.severity,
                "model_version": self.model_version,
                "view_version": self.view_version,
                "offsets": self.offsets,
                "details": self.details,
                "status": self.status,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Alert:
        b = orjson.loads(raw)
        return cls(
            b["id"],
            b["ts"],
            b["stream"],
            b["kind"],
            b["detector"],
            b["subject"],
            b["score"],
            b["threshold"],
            b["severity"],
            b.get("model_version"),
            b.get("view_version"),
            b.get("offsets") or {},
            b.get("details") or {},
            b.get("status", "firing"),
        )
