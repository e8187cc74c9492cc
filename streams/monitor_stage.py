"""The monitor stage as the drivers see it: feature records, predictions and delayed labels in,
alerts out. Joins delayed labels to earlier predictions, then hands outcomes to `StreamMonitor`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore import FeatureRecord
from models.pending import PendingBuffer
from monitor.alert import Alert
from monitor.anomaly import RobustZScore
from monitor.drift import DDM, EDDM, HDDM_A, PageHinkley
from monitor.stream_monitor import StreamMonitor
from streams.config import StreamConfig
from streams.records import Prediction

__all__ = ["DRIFT_DETECTORS", "MonitorStage"]

DRIFT_DETECTORS: dict[str, Any] = {
    "ddm": DDM,
    "eddm": EDDM,
    "hddm_a": HDDM_A,
    "page_hinkley": PageHinkley,
}

Source = tuple[str, int, int]


class MonitorStage:
    """Watches one stream; see `monitor.StreamMonitor` for the alerting rules."""

    def __init__(self, cfg: StreamConfig, label_ttl_ms: int = 3_600_000) -> None:
        mon = cfg.monitor
        params = dict(mon.drift_params)
        drift = DRIFT_DETECTORS[mon.drift_detector](**params)
        anomaly = RobustZScore(alpha=mon.anomaly_alpha, warm_up=mon.anomaly_warm_up)
        self.monitor = StreamMonitor(
            cfg.name,
            drift,
            anomaly,
            mon.anomaly_threshold,
            mon.drift_cooldown,
            drift_name=mon.drift_detector,
            view_version=cfg.view.qualified_name,
        )
        self._pending: PendingBuffer[list[Any]] = PendingBuffer(
            cfg.max_pending_labels, label_ttl_ms
        )
        self._early: PendingBuffer[int] = PendingBuffer(cfg.max_pending_labels, label_ttl_ms)
        self.watermark = 0
        self.model_version: str | None = None
        # replays after a crash upstream: skip what was already observed (by source event)
        self._seen_features: dict[str, int] = {}
        self._seen_predictions: dict[str, int] = {}
        self.n_replayed = 0

    def _fresh(self, seen: dict[str, int], topic: str, partition: int, offset: int) -> bool:
        if offset < 0:
            return True
        source = f"{topic}:{partition}"
        if offset <= seen.get(source, -1):
            self.n_replayed += 1
            return False
        seen[source] = offset
        return True

    def on_features(self, records: Sequence[FeatureRecord]) -> list[Alert]:
        records = [
            r for r in records if self._fresh(self._seen_features, r.topic, r.partition, r.offset)
        ]
        if not records:
            return []
        X = np.array([r.values for r in records], dtype=float)
        return self.monitor.observe_features(
            X,
            [r.event_id for r in records],
            [r.entity for r in records],
            [r.ts for r in records],
            [(r.topic, r.partition, r.offset) for r in records],
        )

    def on_predictions(self, preds: Sequence[Prediction], sources: Sequence[Source]) -> list[Alert]:
        errors: list[float] = []
        ts: list[int] = []
        srcs: list[Source] = []
        ids: list[str] = []
        for p, src in zip(preds, sources, strict=True):
            origin = p.source
            if not self._fresh(
                self._seen_predictions,
                str(origin.get("topic", "")),
                int(origin.get("partition", 0)),
                int(origin.get("offset", -1)),
            ):
                continue
            self.model_version = p.model
            label = p.label if p.label is not None else self._early.pop(p.event_id)
            if label is None:
                self._pending.put(p.event_id, [p.prediction, p.ts, list(src)], p.ts)
                continue
            errors.append(float(label != p.prediction))
            ts.append(p.ts)
            srcs.append(src)
            ids.append(p.event_id)
            self.watermark = max(self.watermark, p.ts)
        self._pending.expire(self.watermark)
        self._early.expire(self.watermark)
        return self.monitor.observe_outcomes(np.asarray(errors), ts, srcs, self.model_version, ids)

    def on_labels(self, labels: Sequence[tuple[str, int]]) -> list[Alert]:
        errors: list[float] = []
        ts: list[int] = []
        srcs: list[Source] = []
        ids: list[str] = []
        for event_id, label in labels:
            hit = self._pending.pop(event_id)
            if hit is None:
                self._early.put(event_id, label, self.watermark)
                continue
            pred, p_ts, src = hit
            errors.append(float(label != pred))
            ts.append(p_ts)
            srcs.append((src[0], src[1], src[2]))
            ids.append(event_id)
        return self.monitor.observe_outcomes(np.asarray(errors), ts, srcs, self.model_version, ids)

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor.state_dict(),
            "pending": self._pending.state_dict(),
            "early": self._early.state_dict(),
            "watermark": self.watermark,
            "model_version": self.model_version,
            "seen": [self._seen_features, self._seen_predictions, self.n_replayed],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.load_state_dict(state["monitor"])
        self._pending.load_state_dict(state["pending"])
        self._early.load_state_dict(state["early"])
        self.watermark = int(state["watermark"])
        self.model_version = state["model_version"]
        features, predictions, n = state["seen"]
        self._seen_features = {str(k): int(v) for k, v in features.items()}
        self._seen_predictions = {str(k): int(v) for k, v in predictions.items()}
        self.n_replayed = int(n)
