"""What the demo reports: accuracy before and after the shift, drift delay, anomaly hits, dead
letters by reason, throughput and latency. Shared by the embedded and the Kafka demo."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurestore import DeadLetter
from monitor.alert import Alert
from streams.records import Prediction
from streams.workload import Workload

__all__ = ["DemoReport", "event_index"]


def event_index(event_id: str) -> int:
    """The workload position encoded in its event ids (``e<seed>-<index>``)."""
    return int(event_id.rsplit("-", 1)[1])


@dataclass
class DemoReport:
    workload: Workload
    predictions: dict[str, Prediction] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    duplicates: int = 0
    seconds: float = 0.0

    def add_predictions(self, preds: Iterable[Prediction]) -> None:
        for p in preds:
            if p.event_id in self.predictions:
                self.duplicates += 1  # a replay after a restart: same event id, dropped here
            else:
                self.predictions[p.event_id] = p

    def n_dead_events(self) -> int:
        """Dead letters of events (not of labels)."""
        return sum(1 for d in self.dead if d.stage == "features")

    def summary(self) -> dict[str, Any]:
        wl = self.workload
        labels = wl.labels()
        n = wl.n_events
        correct = np.full(n, -1)
        for eid, p in self.predictions.items():
            correct[event_index(eid)] = int(p.prediction == labels[event_index(eid)])
        shift = wl.shift_at if wl.shift_at is not None else n
        before, after = correct[:shift], correct[shift:]
        firing = [a for a in self.alerts if a.status == "firing"]
        drift = [a for a in firing if a.kind == "drift"]
        anomalies = [a for a in firing if a.kind == "anomaly"]
        injected = {m.index for m in wl.messages() if m.kind == "event" and m.anomaly}
        flagged = {event_index(a.details["event_id"]) for a in anomalies}
        after_shift = sorted(
            event_index(a.details["event_id"])
            for a in drift
            if a.details.get("event_id") and event_index(a.details["event_id"]) >= shift
        )
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else None
        out: dict[str, Any] = {
            "events": n,
            "predictions": len(self.predictions),
            "duplicate_predictions": self.duplicates,
            "dead_letters": len(self.dead),
            "dead_letters_by_reason": dict(Counter(d.reason for d in self.dead)),
            "accounted": len(self.predictions) + self.n_dead_events() == n,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(n / self.seconds, 1) if self.seconds else None,
            "accuracy_before_shift": _mean(before),
            "accuracy_after_shift": _mean(after),
            "accuracy_2000_before_shift": _mean(before[-2000:]),
            "accuracy_2000_after_shift": _mean(after[:2000]),
            "accuracy_last_5000": _mean(correct[-5000:]),
            "shift_at": wl.shift_at,
            "drift_alerts": len(drift),
            "drift_alerts_before_shift": len(drift) - len(after_shift),
            "events_from_shift_to_drift_alert": after_shift[0] - shift if after_shift else None,
            "anomaly_alerts": len(anomalies),
            "data_drift_alerts": sum(a.kind == "data_drift" for a in firing),
            "resolved_records": len(self.alerts) - len(firing),
            "injected_anomalies": len(injected),
            "injected_anomalies_flagged": len(injected & flagged),
            # champion/challenger: lifecycle events in order, and who served how many events
            "deployment": [
                f"{a.details.get('action')} {a.details.get('model') or ''}".strip()
                for a in self.alerts
                if a.detector == "deployment"
            ],
            "served_by": dict(Counter(p.model for p in self.predictions.values())),
        }
        if lat is not None:
            out["latency_ms"] = {
                "p50": round(float(np.percentile(lat, 50)), 1),
                "p95": round(float(np.percentile(lat, 95)), 1),
                "p99": round(float(np.percentile(lat, 99)), 1),
            }
        return out


def _mean(values: Sequence[int] | np.ndarray) -> float | None:
    arr = np.asarray(values)
    arr = arr[arr >= 0]
    return round(float(arr.mean()), 4) if arr.size else None
