"""Kafka binding of the monitor: features, predictions and labels in, `riffle.alerts` out."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable
from typing import Any

import orjson
from aiokafka import TopicPartition

from featurestore import FeatureRecord, InvalidEventError
from monitor.alert import Alert
from streams.config import StreamConfig
from streams.metrics import METRICS
from streams.monitor_stage import MonitorStage
from streams.records import Prediction, decode_label
from streams.stage_loop import Batch, Record, StageLoop

__all__ = ["MonitorLoop"]

log = logging.getLogger("riffle.monitor")


class MonitorLoop(StageLoop):
    stage = "monitor"
    align = True

    def __init__(self, cfg: StreamConfig, **kwargs: Any) -> None:
        t = cfg.topics
        super().__init__(cfg.name, [t.features, t.predictions, t.labels], dlq_topic=t.dlq, **kwargs)
        self.cfg = cfg
        self.stage_obj = MonitorStage(cfg)

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        t = self.cfg.topics
        names = self.cfg.view.feature_names
        alerts: list[Alert] = []
        # Bad records on these topics are dead-lettered by the learner, which reads the same
        # features and labels; here they are counted and logged.
        # Anomaly scores need the feature vectors in order, drift the outcomes in order; the two
        # do not depend on each other, so each topic's records go to the stage together.
        for tp, msgs in _by_topic(batch):
            if tp.topic == t.features:
                recs = self._decode(msgs, lambda v: FeatureRecord.from_json(v, names))
                alerts.extend(self.stage_obj.on_features(recs))
            elif tp.topic == t.predictions:
                good = [
                    (m, p)
                    for m, p in zip(
                        msgs, self._decode(msgs, Prediction.from_json, keep_none=True), strict=True
                    )
                    if p is not None
                ]
                srcs = [(tp.topic, m.partition, m.offset) for m, _ in good]
                alerts.extend(self.stage_obj.on_predictions([p for _, p in good], srcs))
            else:
                alerts.extend(self.stage_obj.on_labels(self._decode(msgs, decode_label)))
        futs = []
        for a in alerts:
            futs.append(await self.producer.send(t.alerts, a.to_json(), key=a.stream.encode()))
            METRICS.inc(
                "riffle_alerts_total",
                1,
                stream=self.stream,
                kind=a.kind,
                severity=a.severity,
                status=a.status,
            )
        self._export_detectors()
        return futs

    def _export_detectors(self) -> None:
        """Gauges of the detectors' state after a batch."""
        mon = self.stage_obj.monitor
        s = self.stream
        METRICS.set(
            "riffle_monitor_drift_episode",
            int(mon.in_drift_episode),
            stream=s,
            detector=mon.drift_name,
        )
        METRICS.set("riffle_monitor_error_rate", mon.error_rate, stream=s)
        METRICS.set("riffle_monitor_outcomes", mon.n_outcomes, stream=s)
        METRICS.set("riffle_monitor_anomaly_episodes", mon.open_anomaly_episodes, stream=s)
        threshold = mon.anomaly_threshold
        if math.isfinite(threshold):  # inf while a quantile threshold warms up
            METRICS.set(
                "riffle_monitor_anomaly_threshold", threshold, stream=s, detector=mon.anomaly_name
            )
        det = mon.data_drift
        if det is not None:
            name = mon.data_drift_name
            METRICS.set(
                "riffle_monitor_data_drift_episode",
                int(mon.in_data_drift_episode),
                stream=s,
                detector=name,
            )
            stats, thresholds = det.statistics, det.thresholds
            if stats is not None:
                for feature, value in zip(mon.data_drift_features, stats.tolist(), strict=True):
                    METRICS.set(
                        "riffle_monitor_data_drift_statistic",
                        value,
                        stream=s,
                        detector=name,
                        feature=feature,
                    )
            if thresholds is not None:
                METRICS.set(
                    "riffle_monitor_data_drift_threshold",
                    float(thresholds[0]),
                    stream=s,
                    detector=name,
                )

    def _decode(self, msgs: list[Record], decode: Any, keep_none: bool = False) -> list[Any]:
        """Decode each record on its own: a bad one is counted and logged (the learner, which
        reads the same topics, dead-letters it), the others are kept."""
        out = []
        for m in msgs:
            try:
                out.append(decode(m.value or b""))
            except (
                InvalidEventError,
                orjson.JSONDecodeError,
                KeyError,
                TypeError,
                ValueError,
            ) as exc:
                METRICS.inc("riffle_monitor_skipped_total", 1, stream=self.stream)
                log.warning("monitor skipped %s:%d@%d: %s", m.topic, m.partition, m.offset, exc)
                if keep_none:
                    out.append(None)
        return out

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        return self.stage_obj.state_dict()

    def load_state_dict(self, partition: int | None, state: dict[str, Any] | None) -> None:
        self.stage_obj = MonitorStage(self.cfg)
        if state is not None:
            self.stage_obj.load_state_dict(state)


def _by_topic(batch: Batch) -> list[tuple[TopicPartition, list[Record]]]:
    """Split a merged batch by topic (features, predictions, labels), each in merged order."""
    groups: dict[str, tuple[TopicPartition, list[Record]]] = {}
    for tp, m in batch:
        groups.setdefault(tp.topic, (tp, []))[1].append(m)
    return list(groups.values())
