"""The monitor stage: anomaly scores on feature vectors, concept drift on the error stream."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from monitor.alert import Alert

__all__ = ["StreamMonitor"]

Source = tuple[str, int, int]


class _Drift(Protocol):
    def update_many(self, values: Any) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Anomaly(Protocol):
    def score_learn_many(self, X: np.ndarray) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class StreamMonitor:
    """Turns detector outputs into alerts for one stream.

    Anomaly: every feature vector is scored before the detector learns it; a score above
    `anomaly_threshold` raises one alert for that event. Drift: each outcome (1 = the model was
    wrong) updates the drift detector; a detection raises one alert, then further detections are
    held back for `drift_cooldown` outcomes so one drift episode is one alert.

    >>> from monitor.drift import DDM
    >>> from monitor.anomaly import RobustZScore
    >>> mon = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=500)
    >>> errors = np.r_[np.zeros(1000), np.ones(200)]
    >>> alerts = mon.observe_outcomes(errors, list(range(1200)), [("t", 0, i) for i in range(1200)])
    >>> [(a.kind, a.offsets["offset"] >= 1000) for a in alerts]
    [('drift', True)]
    """

    def __init__(
        self,
        stream: str,
        drift: _Drift,
        anomaly: _Anomaly,
        anomaly_threshold: float = 8.0,
        drift_cooldown: int = 2000,
        drift_name: str = "ddm",
        anomaly_name: str = "robust_zscore",
        view_version: str | None = None,
    ) -> None:
        if anomaly_threshold <= 0:
            raise ValueError("anomaly_threshold must be positive")
        if drift_cooldown < 0:
            raise ValueError("drift_cooldown must be >= 0")
        self.stream = stream
        self.drift = drift
        self.anomaly = anomaly
        self.anomaly_threshold = anomaly_threshold
        self.drift_cooldown = drift_cooldown
        self.drift_name = drift_name
        self.anomaly_name = anomaly_name
        self.view_version = view_version
        self._since_drift = drift_cooldown
        self._recent: deque[float] = deque(maxlen=200)  # the error rate quoted in drift alerts
        self.n_outcomes = 0
        self.n_vectors = 0
        self.n_drifts = 0
        self.n_anomalies = 0

    def observe_features(
        self,
        X: np.ndarray,
        event_ids: Sequence[str],
        entities: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
    ) -> list[Alert]:
        if len(X) == 0:
            return []
        scores = self.anomaly.score_learn_many(X)
        self.n_vectors += len(X)
        alerts = []
        thr = self.anomaly_threshold
        for i in np.flatnonzero(scores > thr).tolist():
            score = float(scores[i])
            alerts.append(
                Alert.create(
                    self.stream,
                    "anomaly",
                    self.anomaly_name,
                    str(entities[i]),
                    score,
                    thr,
                    "critical" if score > 2 * thr else "warning",
                    int(ts[i]),
                    sources[i],
                    view_version=self.view_version,
                    details={"event_id": event_ids[i]},
                )
            )
        self.n_anomalies += len(alerts)
        return alerts

    def observe_outcomes(
        self,
        errors: np.ndarray,
        ts: Sequence[int],
        sources: Sequence[Source],
        model_version: str | None = None,
        event_ids: Sequence[str] | None = None,
    ) -> list[Alert]:
        n = len(errors)
        if n == 0:
            return []
        errors = np.asarray(errors, dtype=float)
        hits = self.drift.update_many(errors)
        alerts = []
        last = 0
        consumed = 0
        recent = self._recent
        for i in hits:
            i = int(i)
            recent.extend(errors[consumed : i + 1].tolist())
            consumed = i + 1
            self._since_drift += i - last
            last = i
            if self._since_drift < self.drift_cooldown:
                continue
            self._since_drift = 0
            alerts.append(
                Alert.create(
                    self.stream,
                    "drift",
                    self.drift_name,
                    "error_rate",
                    sum(recent) / len(recent),
                    0.0,
                    "critical",
                    int(ts[i]),
                    sources[i],
                    model_version=model_version,
                    view_version=self.view_version,
                    details={
                        "outcomes_seen": self.n_outcomes + i + 1,
                        "event_id": event_ids[i] if event_ids is not None else None,
                        "error_rate_window": len(recent),
                    },
                )
            )
        recent.extend(errors[consumed:].tolist())
        self._since_drift += n - last
        self.n_outcomes += n
        self.n_drifts += len(alerts)
        return alerts

    def state_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift.state_dict(),
            "anomaly": self.anomaly.state_dict(),
            "recent": list(self._recent),
            "counters": [
                self._since_drift,
                self.n_outcomes,
                self.n_vectors,
                self.n_drifts,
                self.n_anomalies,
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.drift.load_state_dict(state["drift"])
        self.anomaly.load_state_dict(state["anomaly"])
        self._recent = deque((float(v) for v in state["recent"]), maxlen=200)
        (self._since_drift, self.n_outcomes, self.n_vectors, self.n_drifts, self.n_anomalies) = (
            int(v) for v in state["counters"]
        )
