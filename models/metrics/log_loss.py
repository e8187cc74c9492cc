"""Binary logarithmic loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._mean import MeanMetric
from models.metrics._pairs import as_float, as_floats, binary_label, binary_labels
from models.metrics.base import Codes

__all__ = ["LogLoss"]

_EPS = 1e-15


class LogLoss(MeanMetric):
    """Mean binary log loss, River's `metrics.LogLoss`.

    `y_true` is 0/1 (or False/True); `y_pred` is the probability of 1, in [0, 1] (for
    `update` and `revert` also a `predict_proba_one` dict, read at key 1). Probabilities are
    clipped to `[1e-15, 1 - 1e-15]` as River does. The losses are summed exactly, so
    `update_many` equals `update` in order bit for bit.

    Examples
    --------
    >>> from models.metrics import LogLoss
    >>> metric = LogLoss()
    >>> for y_true, y_pred in [(True, 0.9), (False, 0.1), (False, 0.2), (True, 0.65)]:
    ...     metric.update(y_true, y_pred)
    ...     print(round(metric.get(), 6))
    0.105361
    0.105361
    0.144622
    0.216162
    >>> metric.update(1, {0: 0.5, 1: 0.5})
    >>> round(metric.get(), 6)
    0.311559
    """

    requires_proba: ClassVar[bool] = True

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        if isinstance(y_pred, Mapping):
            y_pred = y_pred.get(True, 0.0)
        truth = binary_label(y_true)
        proba = as_float(y_pred, "y_pred")
        if not 0.0 <= proba <= 1.0:
            raise InvalidInputError(f"row 0: y_pred must be a probability, got {proba}")
        clipped = min(max(proba, _EPS), 1.0 - _EPS)
        # np.log, not math.log: the batch path's logarithm, bit for bit.
        return (-np.log(np.array([clipped if truth else 1.0 - clipped])),)

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        truth = binary_labels(y_true)
        proba = as_floats(y_pred, "y_pred")
        outside = (proba < 0.0) | (proba > 1.0)
        if outside.any():
            i = int(np.argmax(outside))
            raise InvalidInputError(f"row {i}: y_pred must be a probability, got {proba[i]}")
        clipped = np.clip(proba, _EPS, 1.0 - _EPS)
        losses: npt.NDArray[np.float64] = -np.log(np.where(truth, clipped, 1.0 - clipped))
        return (losses,)
