"""Drift detectors: ``update(value)`` / ``update_many(values)`` plus ``drift_detected``."""

from __future__ import annotations

from monitor.drift.base import DriftDetector
from monitor.drift.ddm import DDM
from monitor.drift.eddm import EDDM
from monitor.drift.hddm_a import HDDM_A
from monitor.drift.page_hinkley import PageHinkley

__all__ = ["DDM", "EDDM", "HDDM_A", "DriftDetector", "PageHinkley"]
