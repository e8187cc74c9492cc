"""Root mean squared error."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._mean import MeanMetric
from models.metrics._pairs import as_float, as_floats
from models.metrics.base import Codes

__all__ = ["RMSE"]


class RMSE(MeanMetric):
    """Root mean squared error `sqrt(mean((y_true - y_pred) ** 2))`, River's `metrics.RMSE`.

    The sum of the squared errors is kept exactly, so `update_many` equals `update` in order
    bit for bit and `revert` undoes `update` exactly.

    Examples
    --------
    >>> from models.metrics import RMSE
    >>> metric = RMSE()
    >>> for y_true, y_pred in [(3, 2.5), (-0.5, 0.0), (2, 2), (7, 8)]:
    ...     metric.update(y_true, y_pred)
    ...     print(round(metric.get(), 6))
    0.5
    0.5
    0.408248
    0.612372
    """

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        truth, pred = as_floats(y_true, "y_true"), as_floats(y_pred, "y_pred")
        with np.errstate(over="ignore", invalid="ignore"):
            residuals = truth - pred
            squares = residuals * residuals
        if not np.isfinite(squares).all():
            raise InvalidInputError("a squared error overflows to inf")
        return (squares,)

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        residual = as_float(y_true, "y_true") - as_float(y_pred, "y_pred")
        square = residual * residual
        if square == float("inf"):
            raise InvalidInputError("a squared error overflows to inf")
        return (np.array([square]),)

    def get(self) -> float:
        """The root mean squared error (0.0 before any update)."""
        return float(self._mean() ** 0.5)
