"""The alert record that every detector publishes on `riffle.alerts`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

__all__ = ["KINDS", "SEVERITIES", "STATUSES", "Alert"]

KINDS = ("drift", "data_drift", "anomaly", "performance", "system")
SEVERITIES = ("info", "warning", "critical")
STATUSES = ("firing", "resolved")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a `firing` record when an episode starts, a `resolved` one when it ends.

    The id of a firing alert derives from what triggered it (stream, kind, detector, subject and
    the source record), and a resolved record's id from the firing alert's id, which it also
    carries in `resolves`. A replay after a crash therefore republishes the same ids, and
    consumers can drop the duplicates.

    >>> a = Alert.create("payments", "drift", "ddm", "error_rate", 3.2, 3.0, "critical", ts=5,
    ...                  source=("payments.predictions", 0, 41))
    >>> Alert.from_json(a.to_json()) == a, a.id == Alert.create("payments", "drift", "ddm",
    ...     "error_rate", 9.9, 3.0, "critical", ts=5, source=("payments.predictions", 0, 41)).id
    (True, True)
    >>> r = a.resolve(ts=9, source=("payments.predictions", 1, 7), score=0.1)
    >>> r.status, r.resolves == a.id, r.id == a.resolve(10, ("t", 0, 0), 0.5).id, r.kind
    ('resolved', True, True, 'drift')
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
    resolves: str | None = None

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
        """A firing alert, its id derived from `source` (topic, partition, offset)."""
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
            _offsets(source),
            details or {},
        )

    def resolve(
        self,
        ts: int,
        source: tuple[str, int, int],
        score: float,
        details: dict[str, Any] | None = None,
        model_version: str | None = None,
    ) -> Alert:
        """The record that ends this alert's episode: same kind, detector, subject, threshold
        and severity; `source` is the record at which the episode was judged over."""
        if self.status != "firing":
            raise ValueError("only a firing alert can be resolved")
        digest = hashlib.sha1(f"{self.id}|resolved".encode()).hexdigest()[:16]
        return replace(
            self,
            id=digest,
            ts=ts,
            score=float(score),
            model_version=model_version or self.model_version,
            offsets=_offsets(source),
            details=details or {},
            status="resolved",
            resolves=self.id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
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
            "resolves": self.resolves,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, b: dict[str, Any]) -> Alert:
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
            b.get("resolves"),
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Alert:
        return cls.from_dict(orjson.loads(raw))


def _offsets(source: tuple[str, int, int]) -> dict[str, Any]:
    topic, partition, offset = source
    return {"topic": topic, "partition": partition, "offset": offset}
