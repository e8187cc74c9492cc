"""Data-drift episodes of a `StreamMonitor`: feature vectors in, data-drift alerts out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monitor._episode import Episode, Source
from monitor.alert import Alert
from monitor.drift import DataDriftDetector


class DataDriftWatch:
    """Feeds the tested columns of feature vectors to a data-drift detector and turns its
    detections into episodes, counted in vectors: a detection outside an episode fires (naming
    the drifted features and their statistics), one inside extends it, and a quiet stretch long
    enough for the drifted features to test clean again resolves it (`quiet`)."""

    def __init__(
        self,
        stream: str,
        detector: DataDriftDetector,
        name: str,
        view_version: str | None,
        columns: list[int] | None,
        feature_names: list[str] | None,
    ) -> None:
        self.stream = stream
        self.detector = detector
        self.name = name
        self.view_version = view_version
        self.columns = columns
        self.feature_names = feature_names
        self.episode: Episode | None = None

    @property
    def quiet(self) -> int:
        """Vectors after the last detection that end an episode: the test window refills, a
        full window of tests passes, and ("refit") a new reference is taken."""
        det = self.detector
        return 2 * det.window_size + (det.n_reference if det.on_drift == "refit" else 0)

    def column_names(self, d: int) -> list[str]:
        names = self.feature_names
        cols = self.columns
        if names is None:
            return [f"x{j}" for j in (cols if cols is not None else range(d))]
        return [names[j] for j in cols] if cols is not None else names[:d]

    def observe(
        self,
        X: np.ndarray,
        event_ids: Sequence[str],
        ts: Sequence[int],
        sources: Sequence[Source],
        base: int,
    ) -> list[tuple[int, Alert]]:
        """Alerts, each with its row in ``X``, for a batch whose first vector is ``base``."""
        det = self.detector
        cols = self.columns
        rows = X if cols is None else X[:, cols]
        names = self.column_names(rows.shape[1])
        quiet = self.quiet
        n = len(rows)
        out: list[tuple[int, Alert]] = []
        start = 0
        while start < n:
            # Pieces of at most window_size rows hold at most one detection (the window must
            # refill after one), so the detector's drifted features and statistics after a
            # piece are those of its detection; a piece also stops where the episode would end.
            stop = min(start + det.window_size, n)
            if self.episode is not None:
                stop = min(stop, max(start + 1, self.episode.last + quiet - base + 1))
            # after a detection, "refit" drops the reference (and its thresholds) at once
            before = det.thresholds
            for h in det.update_many(rows[start:stop]).tolist():
                i = start + h
                drifted = [names[int(j)] for j in det.drifted_features]
                stats = det.statistics
                ep = self.episode
                if ep is not None:
                    ep.last, ep.detections = base + i, ep.detections + 1
                    ep.features += [f for f in drifted if f not in ep.features]
                    continue
                thresholds = before if before is not None else det.thresholds
                by_name = _stats(names, stats, drifted)
                alert = Alert.create(
                    self.stream,
                    "data_drift",
                    self.name,
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
                self.episode = Episode(alert, base + i, drifted)
            ep = self.episode
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
                self.episode = None
            start = stop
        return out


def _stats(
    names: Sequence[str], stats: np.ndarray | None, features: Sequence[str]
) -> dict[str, float]:
    """The statistic of each of `features` in the detector's last tested window."""
    if stats is None:
        return {}
    index = {name: j for j, name in enumerate(names)}
    return {f: round(float(stats[index[f]]), 6) for f in features if f in index}
