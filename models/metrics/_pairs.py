"""Validation of (y_true, y_pred) batches shared by the metrics (internal).

Inputs that are not numpy arrays (lists, tuples) become object arrays, so a list like
`["a", 1]` keeps its types instead of being turned into strings by numpy.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError

__all__ = [
    "as_float",
    "as_floats",
    "binary_label",
    "binary_labels",
    "hits",
    "label",
    "one",
    "pair",
    "positive",
]

ClassLabel = int | str | bool | None

_LABEL_KINDS = "biuU"


def _array(values: object) -> npt.NDArray[Any]:
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, list | tuple):
        array = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            array[i] = value
        return array
    return np.asarray(values)


def one(value: object) -> npt.NDArray[Any]:
    """A one-element object array holding `value` as is."""
    array = np.empty(1, dtype=object)
    array[0] = value
    return array


def pair(y_true: object, y_pred: object) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Both sides as 1-D arrays of the same length."""
    truth, pred = _array(y_true), _array(y_pred)
    if truth.ndim != 1 or truth.shape != pred.shape:
        raise InvalidInputError(
            f"y_true and y_pred must be 1-D arrays of the same length, "
            f"got shapes {truth.shape} and {pred.shape}"
        )
    return truth, pred


def hits(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Boolean array: whether each prediction equals its label."""
    truth, pred = pair(y_true, y_pred)
    result: npt.NDArray[np.bool_] = np.asarray(truth == pred, dtype=bool)
    return result


def label(value: object) -> ClassLabel:
    """A class label: an int, str, bool or None (numpy scalars are unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    raise InvalidInputError(f"class label must be an int, str, bool or None, got {value!r}")


def labels(values: npt.NDArray[Any]) -> list[ClassLabel]:
    """Validated class labels of an object array."""
    return [label(v) for v in values.tolist()]


def check_label_array(values: npt.NDArray[Any]) -> None:
    """Raise unless the array can hold class labels (an empty array always can)."""
    if values.size and values.dtype.kind not in _LABEL_KINDS + "O":
        raise InvalidInputError(
            f"class labels must be ints, strs, bools or None, got an array of dtype {values.dtype}"
        )


def positive(values: npt.NDArray[Any], pos_label: ClassLabel) -> npt.NDArray[np.bool_]:
    """Whether each label equals `pos_label` (Python equality, so True == 1)."""
    check_label_array(values)
    kind = values.dtype.kind
    if kind == "O":
        return np.array([v == pos_label for v in labels(values)], dtype=bool)
    if (kind == "U") != isinstance(pos_label, str) or pos_label is None:
        return np.zeros(values.shape[0], dtype=bool)
    result: npt.NDArray[np.bool_] = np.asarray(values == pos_label, dtype=bool)
    return result


def binary_label(value: object) -> bool:
    """One binary label (0/1, False/True, 0.0/1.0) as a bool."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, numbers.Real) or value not in (0, 1):
        raise InvalidInputError(f"row 0: label must be 0 or 1, got {value!r}")
    return value == 1


def binary_labels(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Binary labels (0/1, False/True) as booleans."""
    if values.dtype.kind == "O":
        out = np.zeros(values.shape[0], dtype=bool)
        for i, value in enumerate(values.tolist()):
            if not isinstance(value, numbers.Real) or value not in (0, 1):
                raise InvalidInputError(f"row {i}: label must be 0 or 1, got {value!r}")
            out[i] = value == 1
        return out
    if values.dtype.kind not in "biuf":
        raise InvalidInputError(f"labels must be 0 or 1, got an array of dtype {values.dtype}")
    truth = values == 1
    valid = truth | (values == 0)
    if not valid.all():
        i = int(np.argmin(valid))
        raise InvalidInputError(f"row {i}: label must be 0 or 1, got {values[i].item()!r}")
    result: npt.NDArray[np.bool_] = np.asarray(truth, dtype=bool)
    return result


def as_float(value: object, what: str) -> float:
    """One finite real number (not a bool) as a float."""
    if type(value) is float and math.isfinite(value):  # the common case, fast
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"row 0: {what} must be a real number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise InvalidInputError(f"row 0: {what} must be finite, got {result}")
    return result


def as_floats(values: npt.NDArray[Any], what: str) -> npt.NDArray[np.float64]:
    """Finite real numbers (not bools) as a float64 array (a copy)."""
    kind = values.dtype.kind
    if kind == "O":
        out = np.empty(values.shape[0], dtype=np.float64)
        for i, value in enumerate(values.tolist()):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InvalidInputError(f"row {i}: {what} must be a real number, got {value!r}")
            try:
                out[i] = float(value)
            except OverflowError:
                out[i] = math.inf
    elif kind in "iuf":
        out = values.astype(np.float64)
    else:
        raise InvalidInputError(
            f"{what} must be real numbers, got an array of dtype {values.dtype}"
        )
    finite = np.isfinite(out)
    if not finite.all():
        i = int(np.argmin(finite))
        raise InvalidInputError(f"row {i}: {what} must be finite, got {out[i]}")
    return out
