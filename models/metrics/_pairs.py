"""Validation of (y_true, y_pred) batches shared by the metrics (internal)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError

__all__ = ["hits"]


def hits(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Boolean array: whether each prediction equals its label."""
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if truth.ndim != 1 or truth.shape != pred.shape:
        raise InvalidInputError(
            f"y_true and y_pred must be 1-D arrays of the same length, "
            f"got shapes {truth.shape} and {pred.shape}"
        )
    result: npt.NDArray[np.bool_] = np.asarray(truth == pred, dtype=bool)
    return result
