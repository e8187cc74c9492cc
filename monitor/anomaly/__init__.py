"""Anomaly detectors (``score_*`` higher = more anomalous, ``learn_*``) and alert thresholds."""

from __future__ import annotations

from monitor.anomaly.base import AnomalyDetector
from monitor.anomaly.fixed_threshold import FixedThreshold
from monitor.anomaly.half_space_trees import HalfSpaceTrees
from monitor.anomaly.quantile_threshold import QuantileThreshold
from monitor.anomaly.robust_zscore import RobustZScore
from monitor.anomaly.threshold import ThresholdPolicy

__all__ = [
    "AnomalyDetector",
    "FixedThreshold",
    "HalfSpaceTrees",
    "QuantileThreshold",
    "RobustZScore",
    "ThresholdPolicy",
]
