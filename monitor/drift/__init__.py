"""Drift detectors: ``update(value)`` / ``update_many(values)`` plus ``drift_detected``.

Concept drift on an error or loss stream: `ADWIN`, `PageHinkley`, `DDM`, `EDDM`, `HDDM_A`,
`KSWIN`. Data drift per feature against a reference window, calibrated to an expected run
length between false alarms (``ert``): `KSDrift`, `CVMDrift`, `PSIDrift`.
"""

from __future__ import annotations

from monitor.drift.adwin import ADWIN
from monitor.drift.base import DriftDetector
from monitor.drift.cvm_drift import CVMDrift
from monitor.drift.data_drift import DataDriftDetector
from monitor.drift.ddm import DDM
from monitor.drift.eddm import EDDM
from monitor.drift.hddm_a import HDDM_A
from monitor.drift.ks_drift import KSDrift
from monitor.drift.kswin import KSWIN
from monitor.drift.page_hinkley import PageHinkley
from monitor.drift.psi_drift import PSIDrift

__all__ = [
    "ADWIN",
    "DDM",
    "EDDM",
    "HDDM_A",
    "KSWIN",
    "CVMDrift",
    "DataDriftDetector",
    "DriftDetector",
    "KSDrift",
    "PSIDrift",
    "PageHinkley",
]
