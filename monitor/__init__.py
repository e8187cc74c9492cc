"""Drift and anomaly detection on the stream, and the alerts ops watch."""

from __future__ import annotations

from monitor import anomaly, drift
from monitor.alert import KINDS, SEVERITIES, STATUSES, Alert
from monitor.exceptions import InvalidInputError, MonitorError
from monitor.stream_monitor import StreamMonitor

__all__ = [
    "KINDS",
    "SEVERITIES",
    "STATUSES",
    "Alert",
    "InvalidInputError",
    "MonitorError",
    "StreamMonitor",
    "anomaly",
    "drift",
]
