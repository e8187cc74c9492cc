"""The monitor stage as the drivers see it: feature records, predictions and delayed labels in,
alerts out. Joins delayed labels to earlier predictions, then hands outcomes to `StreamMonitor`.

The detectors are built here from `MonitorConfig` (the config validates with the same
builders, so a bad setting fails at load)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurestore import FeatureRecord, FeatureView
from models.pending import PendingBuffer
from monitor.alert import Alert
from monitor.anomaly import (
    FixedThreshold,
    HalfSpaceTrees,
    QuantileThreshold,
    RobustZScore,
    ThresholdPolicy,
)
from monitor.drift import (
    ADWIN,
    DDM,
    EDDM,
    HDDM_A,
    KSWIN,
    CVMDrift,
    DataDriftDetector,
    KSDrift,
    PageHinkley,
    PSIDrift,
)
from monitor.stream_monitor import StreamMonitor
from streams.config import MonitorConfig, StreamConfig
from streams.records import Prediction

__all__ = [
    "ANOMALY_DETECTORS",
    "DATA_DRIFT_DETECTORS",
    "DRIFT_DETECTORS",
    "MonitorStage",
    "anomaly_columns",
    "build_anomaly",
    "build_data_drift",
    "build_drift",
    "build_threshold",
    "data_drift_columns",
]

DRIFT_DETECTORS: dict[str, Any] = {
    "ddm": DDM,
    "eddm": EDDM,
    "hddm_a": HDDM_A,
    "page_hinkley": PageHinkley,
    "adwin": ADWIN,
    "kswin": KSWIN,
}
DATA_DRIFT_DETECTORS: dict[str, Any] = {
    "none": None,
    "ks": KSDrift,
    "psi": PSIDrift,
    "cvm": CVMDrift,
}
ANOMALY_DETECTORS = ("robust_zscore", "half_space_trees")
DEFAULT_ZSCORE_THRESHOLD = 8.0

Source = tuple[str, int, int]


def build_drift(mon: MonitorConfig) -> Any:
    """The concept-drift detector (`kswin` is seeded with 0 unless `drift_params` seeds it)."""
    params = dict(mon.drift_params)
    if mon.drift_detector == "kswin":
        params.setdefault("seed", 0)
    return DRIFT_DETECTORS[mon.drift_detector](**params)


def build_data_drift(mon: MonitorConfig) -> DataDriftDetector | None:
    cls = DATA_DRIFT_DETECTORS[mon.data_drift_detector]
    return None if cls is None else cls(**dict(mon.data_drift_params))


def build_anomaly(mon: MonitorConfig) -> Any:
    """The anomaly detector: `RobustZScore(alpha=anomaly_alpha, warm_up=anomaly_warm_up,
    **anomaly_params)`, or `HalfSpaceTrees(**anomaly_params)` (seeded with 0 unless the params
    seed it) whose limits, unless given, come from the first `anomaly_warm_up` vectors."""
    params = dict(mon.anomaly_params)
    if mon.anomaly_detector == "robust_zscore":
        return RobustZScore(
            **{"alpha": mon.anomaly_alpha, "warm_up": mon.anomaly_warm_up, **params}
        )
    if mon.anomaly_detector != "half_space_trees":
        raise ValueError(f"unknown anomaly detector {mon.anomaly_detector!r}")
    params.setdefault("seed", 0)
    if "limits" in params:
        return HalfSpaceTrees(**params)
    HalfSpaceTrees(**params)  # validates the other hyperparameters now
    return _WarmUpLimits(params, mon.anomaly_warm_up)


def build_threshold(mon: MonitorConfig) -> ThresholdPolicy:
    """`QuantileThreshold` if `anomaly_quantile` is set, else `FixedThreshold` at
    `anomaly_threshold` (default 8.0 for robust_zscore; half_space_trees needs one of them)."""
    if mon.anomaly_quantile is not None:
        return QuantileThreshold(
            mon.anomaly_quantile, mon.anomaly_quantile_window, mon.anomaly_quantile_warm_up
        )
    threshold = mon.anomaly_threshold
    if threshold is None:
        if mon.anomaly_detector != "robust_zscore":
            raise ValueError(
                f"{mon.anomaly_detector} scores are in [0, 1]: set anomaly_threshold below 1 "
                "or anomaly_quantile"
            )
        threshold = DEFAULT_ZSCORE_THRESHOLD
    return FixedThreshold(float(threshold))


def data_drift_columns(mon: MonitorConfig, view: FeatureView) -> list[int]:
    """Columns of the view's vectors tested for data drift: `data_drift_features`, else the
    view's aggregate features (else every feature, for a view without aggregates)."""
    default = tuple(s.name for s in view.specs) or view.feature_names
    return _columns(mon.data_drift_features or default, view)


def anomaly_columns(mon: MonitorConfig, view: FeatureView) -> list[int]:
    """Columns the anomaly detector scores: `anomaly_features`, else every feature."""
    return _columns(mon.anomaly_features or view.feature_names, view)


def _columns(wanted: Sequence[str], view: FeatureView) -> list[int]:
    names = view.feature_names
    missing = [f for f in wanted if f not in names]
    if missing:
        raise ValueError(f"{missing} are not features of view {view.name!r}")
    return [names.index(f) for f in wanted]


class _WarmUpLimits:
    """`HalfSpaceTrees` with per-feature limits taken from the stream.

    The first `warm_up` vectors score 0 and are kept; then each column's [min, max], widened
    by 10% of its range on both sides (by 0.5 if the column was constant), becomes that
    feature's limits, and the trees learn the kept vectors, in order, before scoring the rest.
    """

    def __init__(self, params: Mapping[str, Any], warm_up: int) -> None:
        self.params = dict(params)
        self.warm_up = warm_up
        self.trees: HalfSpaceTrees | None = None
        self._rows: list[list[float]] = []

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.trees is not None:
            return self.trees.score_learn_many(X)
        out = np.zeros(len(X))
        take = min(self.warm_up - len(self._rows), len(X))
        self._rows.extend(X[:take].tolist())
        if len(self._rows) < self.warm_up:
            return out
        kept = np.array(self._rows)
        lo, hi = kept.min(axis=0), kept.max(axis=0)
        pad = np.where(hi > lo, 0.1 * (hi - lo), 0.5)
        limits = [(float(a), float(b)) for a, b in zip(lo - pad, hi + pad, strict=True)]
        self.trees = HalfSpaceTrees(**{**self.params, "limits": limits})
        self.trees.learn_many(kept)
        self._rows = []
        if take < len(X):
            out[take:] = self.trees.score_learn_many(X[take:])
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "rows": self._rows,
            "trees": None if self.trees is None else self.trees.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        trees = state["trees"]
        self.trees = None
        if trees is not None:
            limits = [(float(lo), float(hi)) for lo, hi in trees["params"]["limits"]]
            self.trees = HalfSpaceTrees(**{**self.params, "limits": limits})
            self.trees.load_state_dict(trees)
        self._rows = [[float(v) for v in row] for row in state["rows"]]


class MonitorStage:
    """Watches one stream; see `monitor.StreamMonitor` for the alerting rules."""

    def __init__(self, cfg: StreamConfig, label_ttl_ms: int = 3_600_000) -> None:
        mon = cfg.monitor
        self.monitor = StreamMonitor(
            cfg.name,
            build_drift(mon),
            build_anomaly(mon),
            build_threshold(mon),
            mon.drift_cooldown,
            drift_name=mon.drift_detector,
            anomaly_name=mon.anomaly_detector,
            view_version=cfg.view.qualified_name,
            anomaly_resolve_after=mon.anomaly_resolve_after,
            data_drift=build_data_drift(mon),
            data_drift_name=mon.data_drift_detector,
            data_drift_columns=data_drift_columns(mon, cfg.view),
            anomaly_columns=anomaly_columns(mon, cfg.view),
            feature_names=cfg.view.feature_names,
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
