"""Online evaluation metrics."""

from __future__ import annotations

from models.metrics.accuracy import Accuracy
from models.metrics.rolling_accuracy import RollingAccuracy

__all__ = ["Accuracy", "RollingAccuracy"]
