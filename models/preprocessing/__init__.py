"""Online feature preprocessing."""

from __future__ import annotations

from models.preprocessing.standard_scaler import StandardScaler

__all__ = ["StandardScaler"]
