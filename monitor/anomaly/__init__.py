"""Anomaly detectors: ``score_one`` / ``score_many`` (higher = more anomalous) and ``learn_*``."""

from __future__ import annotations

from monitor.anomaly.base import AnomalyDetector
from monitor.anomaly.robust_zscore import RobustZScore

__all__ = ["AnomalyDetector", "RobustZScore"]
