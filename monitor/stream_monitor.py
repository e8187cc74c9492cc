"""The monitor's alerting rules: detector outputs in, firing and resolved alerts out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from monitor._anomaly_watch import MAX_OPEN_ANOMALIES, AnomalyWatch
from monitor._anomaly_watch import Anomaly as _Anomaly
from monitor._data_drift_watch import DataDriftWatch
from monitor._drift_watch import Drift as _Drift
from monitor._drift_watch import DriftWatch
from monitor._episode import Episode, Source
from monitor.alert import Alert
from monitor.anomaly import FixedThreshold, ThresholdPolicy
from monitor.drift import DataDriftDetector

__all__ = ["MAX_OPEN_ANOMALIES", "StreamMonitor"]


class StreamMonitor:
    """Turns detector outputs into alerts for one stream: a `firing` alert when an episode
    starts and a `resolved` record (see `Alert.resolve`) when it ends.

    * **Concept drift** (kind ``drift``): each outcome (1 = the model was wrong) updates the
      drift detector. A detection outside an episode fires an alert and opens one; a detection
      inside it extends it. The episode ends at the ``drift_cooldown``-th outcome after its
      last detection, if none came in between (a detection on that very outcome extends it).
    * **Data drift** (kind ``data_drift``): the ``data_drift_columns`` of every feature vector
      update ``data_drift`` (KS, CvM or PSI against a reference window). Same rule, counted in
      feature vectors, with a quiet length that lets the detector test the drifted features
      clean again: ``2 * window_size`` vectors (the test window refills, then a full window of
      tests passes) plus ``n_reference`` when it takes a new reference after a drift
      (``on_drift="refit"``). The firing alert names the drifted features and their statistics.
    * **Anomaly** (kind ``anomaly``): every feature vector is scored before the detector learns
      it, and ``anomaly_threshold`` (a number, or a `ThresholdPolicy`) flags the scores above
      its threshold. Episodes are per subject (the entity): a subject's first flagged event
      fires, later flagged ones extend the episode, and its ``anomaly_resolve_after``-th
      consecutive normal event ends it. At most ``MAX_OPEN_ANOMALIES`` subjects are in an
      episode at once; beyond that the oldest episode ends (``reason="capacity"``).

    Batching does not change the alerts; `state_dict` holds every detector, the threshold
    policy and the open episodes.

    >>> from monitor.drift import DDM
    >>> from monitor.anomaly import RobustZScore
    >>> mon = StreamMonitor("s", DDM(), RobustZScore(), drift_cooldown=100)
    >>> errors = np.r_[np.zeros(1000), np.ones(200), np.zeros(300)]
    >>> n = len(errors)
    >>> alerts = mon.observe_outcomes(errors, list(range(n)), [("t", 0, i) for i in range(n)])
    >>> [(a.kind, a.status, a.offsets["offset"] >= 1000) for a in alerts]
    [('drift', 'firing', True), ('drift', 'resolved', True)]
    >>> alerts[1].resolves == alerts[0].id
    True
    """

    def __init__(
        self,
        stream: str,
        drift: _Drift,
        anomaly: _Anomaly,
        anomaly_threshold: float | ThresholdPolicy = 8.0,
        drift_cooldown: int = 2000,
        drift_name: str = "ddm",
        anomaly_name: str = "robust_zscore",
        view_version: str | None = None,
        anomaly_resolve_after: int = 3,
        data_drift: DataDriftDetector | None = None,
        data_drift_name: str = "ks",
        data_drift_columns: Sequence[int] | None = None,
        anomaly_columns: Sequence[int] | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(anomaly_threshold, ThresholdPolicy):
            policy = anomaly_threshold
        elif anomaly_threshold > 0:
            policy = FixedThreshold(float(anomaly_threshold))
        else:
            raise ValueError("anomaly_threshold must be positive")
        if drift_cooldown < 1:
            raise ValueError("drift_cooldown must be >= 1")
        if anomaly_resolve_after < 1:
            raise ValueError("anomaly_resolve_after must be >= 1")
        self.stream = stream
        self.drift = drift
        self.anomaly = anomaly
        self.threshold_policy = policy
        self.drift_cooldown = drift_cooldown
        self.drift_name = drift_name
        self.anomaly_name = anomaly_name
        self.view_version = view_version
        self.anomaly_resolve_after = anomaly_resolve_after
        self.data_drift = data_drift
        self.data_drift_name = data_drift_name
        self.data_drift_columns = None if data_drift_columns is None else list(data_drift_columns)
        # the columns the anomaly detector scores (None: every feature)
        self.anomaly_columns = None if anomaly_columns is None else list(anomaly_columns)
        self.feature_names = None if feature_names is None else list(feature_names)
        self._drift_watch = DriftWatch(stream, drift, drift_cooldown, drift_name, view_version)
        self._data_watch = (
            None
            if data_drift is None
            else DataDriftWatch(
                stream,
                data_drift,
                data_drift_name,
                view_version,
                self.data_drift_columns,
                self.feature_names,
            )
        )
        self._anomaly_watch = AnomalyWatch(
            stream, anomaly, policy, anomaly_resolve_after, anomaly_name, view_version
        )
        self.n_outcomes = 0
        self.n_vectors = 0
        self.n_drifts = 0
        self.n_data_drifts = 0
        self.n_anomalies = 0
        self.n_resolved = 0

    # -- what the metrics show ------------------------------------------------------------

    @property
    def anomaly_threshold(self) -> float:
        """The threshold the next anomaly score is compared with (inf while warming up)."""
        return self.threshold_policy.threshold

    @property
    def error_rate(self) -> float:
        """The model's error rate over the last 200 outcomes (0.0 before any)."""
        return self._drift_watch.error_rate

    @property
    def in_drift_episode(self) -> bool:
        return self._drift_watch.episode is not None

    @property
    def in_data_drift_episode(self) -> bool:
        return self._data_watch is not None and self._data_watch.episode is not None

    @property
    def open_anomaly_episodes(self) -> int:
        return len(self._anomaly_watch.open)

    @property
    def data_drift_features(self) -> list[str]:
        """Names of the features tested for data drift, once known (else empty)."""
        watch = self._data_watch
        if watch is None or not watch.detector.n_features:
            return []
        return watch.column_names(watch.detector.n_features)

    # -- observing --------------------------------------------------------------------------

    def observe_outcomes(
        self,
        errors: np.ndarray,
        ts: Sequence[int],
        sources: Sequence[Source],
        model_version: str | None = None,
        event_ids: Sequence[str] | None = None,
    ) -> list[Alert]:
        """Concept drift: alerts for a batch of outcomes (1 = the model was wrong)."""
        n = len(errors)
        if n == 0:
            return []
        errors = np.asarray(errors, dtype=float)
        alerts = self._drift_watch.observe(
            errors, ts, sources, model_version, event_ids, self.n_outcomes
        )
        self.n_drifts += self._count(alerts)
        self.n_outcomes += n
        return alerts

    def observe_features(
        self,
        X: np.ndarray,
        event_ids: Sequence[str],
        entities: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
    ) -> list[Alert]:
        """Data drift and anomalies: alerts for a batch of feature vectors, in event order."""
        if len(X) == 0:
            return []
        X = np.asarray(X, dtype=float)
        found: list[tuple[int, Alert]] = []
        if self._data_watch is not None:
            found += self._data_watch.observe(X, event_ids, ts, sources, self.n_vectors)
            self.n_data_drifts += self._count(a for _, a in found)
        scored = X if self.anomaly_columns is None else X[:, self.anomaly_columns]
        anomalies = self._anomaly_watch.observe(scored, event_ids, entities, ts, sources)
        self.n_anomalies += self._count(a for _, a in anomalies)
        found += anomalies
        self.n_vectors += len(X)
        found.sort(key=lambda pair: pair[0])  # in event order (stable)
        return [a for _, a in found]

    def _count(self, alerts: Iterable[Alert]) -> int:
        """Count the resolved records in ``n_resolved``; return the number of firing alerts."""
        statuses = [a.status for a in alerts]
        firing = statuses.count("firing")
        self.n_resolved += len(statuses) - firing
        return firing

    # -- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        drift_ep = self._drift_watch.episode
        data_ep = None if self._data_watch is None else self._data_watch.episode
        return {
            "drift": self.drift.state_dict(),
            "anomaly": self.anomaly.state_dict(),
            "threshold": self.threshold_policy.state_dict(),
            "data_drift": None if self.data_drift is None else self.data_drift.state_dict(),
            "recent": list(self._drift_watch.recent),
            "drift_episode": None if drift_ep is None else drift_ep.state(),
            "data_episode": None if data_ep is None else data_ep.state(),
            "anomaly_episodes": [[s, *ep] for s, ep in self._anomaly_watch.open.items()],
            "counters": [
                self.n_outcomes,
                self.n_vectors,
                self.n_drifts,
                self.n_data_drifts,
                self.n_anomalies,
                self.n_resolved,
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.drift.load_state_dict(state["drift"])
        self.anomaly.load_state_dict(state["anomaly"])
        self.threshold_policy.load_state_dict(state["threshold"])
        if (state["data_drift"] is None) != (self.data_drift is None):
            raise ValueError("the state's data-drift detector does not match this monitor's")
        if self.data_drift is not None:
            self.data_drift.load_state_dict(state["data_drift"])
        self._drift_watch.load_recent(state["recent"])
        self._drift_watch.episode = Episode.load(state["drift_episode"])
        data_ep = Episode.load(state["data_episode"])
        if self._data_watch is not None:
            self._data_watch.episode = data_ep
        self._anomaly_watch.open = OrderedDict(
            (str(e[0]), list(e[1:])) for e in state["anomaly_episodes"]
        )
        (
            self.n_outcomes,
            self.n_vectors,
            self.n_drifts,
            self.n_data_drifts,
            self.n_anomalies,
            self.n_resolved,
        ) = (int(v) for v in state["counters"])
