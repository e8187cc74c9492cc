"""Online model selection."""

from __future__ import annotations

from models.selection.successive_halving import SuccessiveHalving

__all__ = ["SuccessiveHalving"]
