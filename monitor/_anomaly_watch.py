"""Per-subject anomaly episodes of a `StreamMonitor`: scores in, anomaly alerts out."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from monitor._episode import Source
from monitor.alert import Alert
from monitor.anomaly import FixedThreshold, ThresholdPolicy

MAX_OPEN_ANOMALIES = 10_000  # subjects in an anomaly episode at once; the oldest ends first

# an open anomaly episode of one subject: firing id, ts, score, threshold, severity, event id,
# then normal events since the last flagged one, flagged events, highest score
_ID, _TS, _SCORE, _THR, _SEV, _EVENT, _NORMAL, _FLAGGED, _MAX = range(9)


class Anomaly(Protocol):
    def score_learn_many(self, X: np.ndarray) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class AnomalyWatch:
    """Scores feature vectors (before the detector learns them), flags those above the
    policy's threshold and keeps one episode per subject: its first flagged event fires, later
    ones extend it, its ``resolve_after``-th consecutive normal event ends it. At most
    `MAX_OPEN_ANOMALIES` episodes are open; beyond that the oldest ends (``"capacity"``)."""

    def __init__(
        self,
        stream: str,
        anomaly: Anomaly,
        policy: ThresholdPolicy,
        resolve_after: int,
        name: str,
        view_version: str | None,
    ) -> None:
        self.stream = stream
        self.anomaly = anomaly
        self.policy = policy
        self.resolve_after = resolve_after
        self.name = name
        self.view_version = view_version
        self.open: OrderedDict[str, list[Any]] = OrderedDict()  # episodes by subject

    def observe(
        self,
        X: np.ndarray,
        event_ids: Sequence[str],
        entities: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
    ) -> list[tuple[int, Alert]]:
        """Alerts, each with its row in ``X``."""
        scores = self.anomaly.score_learn_many(X)
        flags, thresholds = self._flag(scores)
        flagged = np.flatnonzero(flags)
        opened = self.open
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
                    self.name,
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
                if len(opened) >= MAX_OPEN_ANOMALIES:
                    oldest, entry = opened.popitem(last=False)
                    ended = self._end(oldest, entry, i, score, "capacity", ts, sources, event_ids)
                    out.append((i, ended))
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
                if ep[_NORMAL] >= self.resolve_after:
                    del opened[subject]
                    ended = self._end(subject, ep, i, score, "normal", ts, sources, event_ids)
                    out.append((i, ended))
        return out

    def _end(
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
            self.name,
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
        return firing.resolve(int(ts[i]), sources[i], score, details)

    def _flag(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flags from the threshold policy, and the threshold each flagged score was above."""
        policy = self.policy
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
