"""Mean absolute error."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._mean import MeanMetric
from models.metrics._pairs import as_float, as_floats
from models.metrics.base import Codes

__all__ = ["MAE"]


class MAE(MeanMetric):
    """Mean absolute error `mean(|y_true - y_pred|)`, River's `metrics.MAE`.

    Targets and predictions are finite real numbers. The sum of the errors is kept exactly, so
    `update_many` equals `update` in order bit for bit and `revert` undoes `update` exactly.

    Examples
    --------
    >>> from models.metrics import MAE
    >>> metric = MAE()
    >>> for y_true, y_pred in [(3, 2.5), (-0.5, 0.0), (2, 2), (7, 8)]:
    ...     metric.update(y_true, y_pred)
    ...     print(round(metric.get(), 4))
    0.5
    0.5
    0.3333
    0.5
    >>> metric
    MAE: 0.500000
    """

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        truth, pred = as_floats(y_true, "y_true"), as_floats(y_pred, "y_pred")
        with np.errstate(over="ignore"):
            errors = np.abs(truth - pred)
        if not np.isfinite(errors).all():
            raise InvalidInputError("an absolute error overflows to inf")
        return (errors,)

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        error = abs(as_float(y_true, "y_true") - as_float(y_pred, "y_pred"))
        if error == float("inf"):
            raise InvalidInputError("an absolute error overflows to inf")
        return (np.array([error]),)
