"""The monitor's alerting rules: detector outputs in, firing and resolved alerts out."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from monitor.alert import Alert
from monitor.anomaly import FixedThreshold, ThresholdPolicy
from monitor.drift import DataDriftDetector

__all__ = ["MAX_OPEN_ANOMALIES", "StreamMonitor"]

Source = tuple[str, int, int]
MAX_OPEN_ANOMALIES = 10_000  # subjects in an anomaly episode at once; the oldest ends first
_RECENT = 200  # outcomes behind the error rate quoted in drift alerts


class _Drift(Protocol):
    def update_many(self, values: Any) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Anomaly(Protocol):
    def score_learn_many(self, X: np.ndarray) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Episode:
    """An open stream-level episode: its firing alert, the index of its last detection, how
    many detections it had and (data drift) every feature that drifted in it."""

    __slots__ = ("alert", "detections", "features", "first", "last")

    def __init__(self, alert: Alert, first: int, features: Sequence[str] = ()) -> None:
        self.alert = alert
        self.first = self.last = first
        self.detections = 1
        self.features = list(features)

    def state(self) -> list[Any]:
        return [self.alert.to_dict(), self.first, self.last, self.detections, self.features]

    @classmethod
    def load(cls, state: list[Any] | None) -> _Episode | None:
        if state is None:
            return None
        alert, first, last, detections, features = state
        ep = cls(Alert.from_dict(alert), int(first), [str(f) for f in features])
        ep.last, ep.detections = int(last), int(detections)
        return ep


# an open anomaly episode of one subject: firing id, ts, score, threshold, severity, event id,
# then normal events since the last flagged one, flagged events, highest score
_ID, _TS, _SCORE, _THR, _SEV, _EVENT, _NORMAL, _FLAGGED, _MAX = range(9)


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
        self.feature_names = None if feature_names is None else list(feature_names)
        self._recent: deque[float] = deque(maxlen=_RECENT)
        self._drift_episode: _Episode | None = None
        self._data_episode: _Episode | None = None
        self._open: OrderedDict[str, list[Any]] = OrderedDict()  # anomaly episodes by subject
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
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    @property
    def in_drift_episode(self) -> bool:
        return self._drift_episode is not None

    @property
    def in_data_drift_episode(self) -> bool:
        return self._data_episode is not None

    @property
    def open_anomaly_episodes(self) -> int:
        return len(self._open)

    @property
    def data_drift_features(self) -> list[str]:
        """Names of the features tested for data drift, once known (else empty)."""
        det = self.data_drift
        return [] if det is None or not det.n_features else self._column_names(det.n_features)

    # -- concept drift ------------------------------------------------------------------------

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
        hits = self.drift.update_many(errors).tolist()
        base = self.n_outcomes
        alerts: list[Alert] = []
        done = 0  # outcomes of this batch already in the error-rate window

        def upto(i: int) -> None:
            nonlocal done
            self._recent.extend(errors[done : i + 1].tolist())
            done = max(done, i + 1)

        def end_before(limit: int) -> None:
            ep = self._drift_episode
            if ep is not None and ep.last + self.drift_cooldown - base < limit:
                j = ep.last + self.drift_cooldown - base
                upto(j)
                details = {
                    "event_id": event_ids[j] if event_ids is not None else None,
                    "outcomes_seen": base + j + 1,
                    "detections": ep.detections,
                    "episode_outcomes": base + j - ep.first,
                    "error_rate_window": len(self._recent),
                }
                alerts.append(
                    ep.alert.resolve(
                        int(ts[j]), sources[j], self.error_rate, details, model_version
                    )
                )
                self._drift_episode = None
                self.n_resolved += 1

        for i in hits:
            end_before(i)
            upto(i)
            ep = self._drift_episode
            if ep is not None:
                ep.last = base + i
                ep.detections += 1
                continue
            alert = Alert.create(
                self.stream,
                "drift",
                self.drift_name,
                "error_rate",
                self.error_rate,
                0.0,
                "critical",
                int(ts[i]),
                sources[i],
                model_version=model_version,
                view_version=self.view_version,
                details={
                    "outcomes_seen": base + i + 1,
                    "event_id": event_ids[i] if event_ids is not None else None,
                    "error_rate_window": len(self._recent),
                },
            )
            alerts.append(alert)
            self._drift_episode = _Episode(alert, base + i)
            self.n_drifts += 1
        end_before(n)
        upto(n - 1)
        self.n_outcomes += n
        return alerts

    # -- feature vectors: data drift and anomalies ------------------------------------------------

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
        X = np.asarray(X, dtype=float)
        found: list[tuple[int, Alert]] = []
        if self.data_drift is not None:
            found += self._observe_data_drift(self.data_drift, X, event_ids, ts, sources)
        found += self._observe_anomalies(X, event_ids, entities, ts, sources)
        self.n_vectors += len(X)
        found.sort(key=lambda pair: pair[0])  # in event order (stable)
        return [a for _, a in found]

    def _observe_data_drift(
        self,
        det: DataDriftDetector,
        X: np.ndarray,
        event_ids: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
    ) -> list[tuple[int, Alert]]:
        cols = self.data_drift_columns
        rows = X if cols is None else X[:, cols]
        names = self._column_names(rows.shape[1])
        quiet = 2 * det.window_size + (det.n_reference if det.on_drift == "refit" else 0)
        base, n, out = self.n_vectors, len(rows), []
        start = 0
        while start < n:
            # Pieces of at most window_size rows hold at most one detection (the window must
            # refill after one), so the detector's drifted features and statistics after a
            # piece are those of its detection; a piece also stops where the episode would end.
            stop = min(start + det.window_size, n)
            if self._data_episode is not None:
                stop = min(stop, max(start + 1, self._data_episode.last + quiet - base + 1))
            # after a detection, "refit" drops the reference (and its thresholds) at once
            before = det.thresholds
            for h in det.update_many(rows[start:stop]).tolist():
                i = start + h
                drifted = [names[int(j)] for j in det.drifted_features]
                stats = det.statistics
                ep = self._data_episode
                if ep is not None:
                    ep.last, ep.detections = base + i, ep.detections + 1
                    ep.features += [f for f in drifted if f not in ep.features]
                    continue
                thresholds = before if before is not None else det.thresholds
                by_name = _stats(names, stats, drifted)
                alert = Alert.create(
                    self.stream,
                    "data_drift",
                    self.data_drift_name,
                    ",".join(drifted),
                    max(by_name.values(), default=0.0),
                    float(thresholds[0]) if thresholds is not None else 0.0,
                    "warning",
                    int(ts[i]),
                    sources[i],
                    view_version=self.view_version,
                    details={
                        "event_id": event_ids[i],
                        "features": drifted,
                        "statistics": by_name,
                        "vectors_seen": base + i + 1,
                        "window_size": det.window_size,
                    },
                )
                out.append((i, alert))
                self._data_episode = _Episode(alert, base + i, drifted)
                self.n_data_drifts += 1
            ep = self._data_episode
            if ep is not None and ep.last + quiet <= base + stop - 1:
                j = ep.last + quiet - base
                by_name = _stats(names, det.statistics, ep.features)
                details = {
                    "event_id": event_ids[j],
                    "features": ep.features,
                    "statistics": by_name,
                    "detections": ep.detections,
                    "episode_vectors": base + j - ep.first,
                }
                score = max(by_name.values(), default=0.0)
                out.append((j, ep.alert.resolve(int(ts[j]), sources[j], score, details)))
                self._data_episode = None
                self.n_resolved += 1
            start = stop
        return out

    def _observe_anomalies(
        self,
        X: np.ndarray,
        event_ids: Sequence[str],
        entities: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
    ) -> list[tuple[int, Alert]]:
        scores = self.anomaly.score_learn_many(X)
        flags, thresholds = self._flag(scores)
        flagged = np.flatnonzero(flags)
        opened = self._open
        out: list[tuple[int, Alert]] = []
        if not opened and not flagged.size:
            return out
        for i in range(0 if opened else int(flagged[0]), len(X)):
            subject = str(entities[i])
            ep = opened.get(subject)
            score = float(scores[i])
            if flags[i]:
                if ep is not None:
                    ep[_NORMAL], ep[_FLAGGED], ep[_MAX] = 0, ep[_FLAGGED] + 1, max(ep[_MAX], score)
                    continue
                thr = float(thresholds[i])
                alert = Alert.create(
                    self.stream,
                    "anomaly",
                    self.anomaly_name,
                    subject,
                    score,
                    thr,
                    "critical" if score > 2 * thr else "warning",
                    int(ts[i]),
                    sources[i],
                    view_version=self.view_version,
                    details={"event_id": event_ids[i]},
                )
                out.append((i, alert))
                self.n_anomalies += 1
                if len(opened) >= MAX_OPEN_ANOMALIES:
                    oldest, entry = opened.popitem(last=False)
                    out.append(
                        (
                            i,
                            self._end_anomaly(
                                oldest, entry, i, score, "capacity", ts, sources, event_ids
                            ),
                        )
                    )
                opened[subject] = [
                    alert.id,
                    alert.ts,
                    score,
                    thr,
                    alert.severity,
                    event_ids[i],
                    0,
                    1,
                    score,
                ]
            elif ep is not None:
                ep[_NORMAL] += 1
                if ep[_NORMAL] >= self.anomaly_resolve_after:
                    del opened[subject]
                    out.append(
                        (
                            i,
                            self._end_anomaly(
                                subject, ep, i, score, "normal", ts, sources, event_ids
                            ),
                        )
                    )
        return out

    def _end_anomaly(
        self,
        subject: str,
        ep: list[Any],
        i: int,
        score: float,
        reason: str,
        ts: Sequence[int],
        sources: Sequence[Source],
        event_ids: Sequence[str],
    ) -> Alert:
        firing = Alert(
            ep[_ID],
            ep[_TS],
            self.stream,
            "anomaly",
            self.anomaly_name,
            subject,
            ep[_SCORE],
            ep[_THR],
            ep[_SEV],
            view_version=self.view_version,
        )
        details = {
            "event_id": event_ids[i],
            "reason": reason,
            "firing_event_id": ep[_EVENT],
            "flagged_events": ep[_FLAGGED],
            "max_score": ep[_MAX],
        }
        self.n_resolved += 1
        return firing.resolve(int(ts[i]), sources[i], score, details)

    def _flag(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flags from the threshold policy, and the threshold each flagged score was above."""
        policy = self.threshold_policy
        if isinstance(policy, FixedThreshold):
            return policy.update_many(scores), np.full(len(scores), policy.threshold)
        snapshot = policy.state_dict()
        flags = policy.update_many(scores)
        thresholds = np.full(len(scores), math.nan)
        hit = np.flatnonzero(flags).tolist()
        if hit:  # replay the batch from the snapshot, reading the threshold before each flag
            policy.load_state_dict(snapshot)
            pos = 0
            for i in hit:
                policy.update_many(scores[pos:i])
                thresholds[i] = policy.threshold
                policy.update_many(scores[i : i + 1])
                pos = i + 1
            policy.update_many(scores[pos:])
        return flags, thresholds

    def _column_names(self, d: int) -> list[str]:
        names = self.feature_names
        cols = self.data_drift_columns
        if names is None:
            return [f"x{j}" for j in (cols if cols is not None else range(d))]
        return [names[j] for j in cols] if cols is not None else names[:d]

    # -- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift.state_dict(),
            "anomaly": self.anomaly.state_dict(),
            "threshold": self.threshold_policy.state_dict(),
            "data_drift": None if self.data_drift is None else self.data_drift.state_dict(),
            "recent": list(self._recent),
            "drift_episode": None if self._drift_episode is None else self._drift_episode.state(),
            "data_episode": None if self._data_episode is None else self._data_episode.state(),
            "anomaly_episodes": [[s, *ep] for s, ep in self._open.items()],
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
        self._recent = deque((float(v) for v in state["recent"]), maxlen=_RECENT)
        self._drift_episode = _Episode.load(state["drift_episode"])
        self._data_episode = _Episode.load(state["data_episode"])
        self._open = OrderedDict((str(e[0]), list(e[1:])) for e in state["anomaly_episodes"])
        (
            self.n_outcomes,
            self.n_vectors,
            self.n_drifts,
            self.n_data_drifts,
            self.n_anomalies,
            self.n_resolved,
        ) = (int(v) for v in state["counters"])


def _stats(
    names: Sequence[str], stats: np.ndarray | None, features: Sequence[str]
) -> dict[str, float]:
    """The statistic of each of `features` in the detector's last tested window."""
    if stats is None:
        return {}
    index = {name: j for j, name in enumerate(names)}
    return {f: round(float(stats[index[f]]), 6) for f in features if f in index}
