"""Input validation shared by every estimator (internal).

Every check here raises `InvalidInputError` and never mutates anything, so estimators can
validate a whole call before they touch their state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError

__all__ = ["FeatureSpace", "check_label", "check_labels", "check_mask"]

_NUMERIC_KINDS = "biuf"


def _number(value: object, where: str) -> float:
    if not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{where}: expected a real number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise InvalidInputError(f"{where}: value is {result}, expected a finite number")
    return result


class FeatureSpace:
    """The features an estimator was fitted on: their number and, once known, their names.

    The first dict learned fixes the names (in insertion order); the first array learned fixes the
    number of columns. Array columns follow the name order when both are known.
    """

    __slots__ = ("names", "width")

    def __init__(self, names: tuple[str, ...] | None = None, width: int | None = None) -> None:
        self.names = names
        self.width = len(names) if names is not None else width

    def _label(self, j: int) -> str:
        if self.names is not None:
            return f"feature {self.names[j]!r} (column {j})"
        return f"column {j}"

    def encode_one(self, x: Mapping[str, Any]) -> list[float]:
        """Return the values of `x` in feature order, as floats."""
        if not isinstance(x, dict | Mapping):
            raise InvalidInputError(f"expected a dict of feature values, got {type(x).__name__}")
        names = self.names
        if names is None:
            if not all(isinstance(key, str) for key in x):
                raise InvalidInputError(f"feature names must be str, got {list(x)}")
            if self.width is not None and len(x) != self.width:
                raise InvalidInputError(f"expected {self.width} features, got {len(x)}")
            names = tuple(x)
        elif len(x) != len(names) or not all(name in x for name in names):
            missing = [name for name in names if name not in x]
            unknown = [key for key in x if key not in set(names)]
            raise InvalidInputError(
                f"feature names do not match the fitted ones: missing {missing}, unknown {unknown}"
            )
        values = [x[name] for name in names]
        if set(map(type, values)) <= {float} and all(map(math.isfinite, values)):
            return values  # the common case, checked in C
        return [
            _number(value, f"feature {name!r}") for name, value in zip(names, values, strict=True)
        ]

    def encode_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return `X` as a float64 matrix with one column per feature (never a view to mutate)."""
        array = np.asarray(X)
        if array.ndim != 2:
            raise InvalidInputError(
                f"expected a 2-D array (n_samples, n_features), got shape {array.shape}"
            )
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise InvalidInputError(f"expected a numeric array, got dtype {array.dtype}")
        if self.width is not None and array.shape[1] != self.width:
            raise InvalidInputError(f"expected {self.width} columns, got {array.shape[1]}")
        matrix = array.astype(np.float64, copy=False)
        finite = np.isfinite(matrix)
        if not finite.all():
            i, j = (int(k) for k in np.argwhere(~finite)[0])
            raise InvalidInputError(
                f"row {i}, {self._label(j)}: value is {matrix[i, j]}, expected a finite number"
            )
        return matrix

    def fit_one(self, x: Mapping[str, Any]) -> None:
        """Fix the names (and width) from a dict that `encode_one` accepted."""
        if self.names is None:
            self.names = tuple(x)
            self.width = len(self.names)

    def fit_width(self, width: int) -> None:
        """Fix the width from a matrix that `encode_many` accepted."""
        if self.width is None:
            self.width = width

    def fit(self, other: FeatureSpace) -> None:
        """Adopt what `other` knows and this space does not (the two must be compatible)."""
        if self.names is None and other.names is not None:
            self.names = other.names
        if self.width is None:
            self.width = other.width

    def compatible(self, other: FeatureSpace) -> bool:
        """Whether both spaces can describe the same features."""
        if self.width is not None and other.width is not None and self.width != other.width:
            return False
        return self.names is None or other.names is None or self.names == other.names

    def copy(self) -> FeatureSpace:
        """A detached copy."""
        return FeatureSpace(self.names, self.width)

    def state(self) -> dict[str, Any]:
        """JSON-able description, merged into the owner's state dict."""
        return {
            "feature_names": None if self.names is None else list(self.names),
            "n_features": self.width,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureSpace:
        """Inverse of `state`, validated."""
        names, width = state.get("feature_names"), state.get("n_features")
        if width is not None and (
            isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 0
        ):
            raise InvalidInputError(f"n_features must be None or an int >= 0, got {width!r}")
        if names is None:
            return cls(None, None if width is None else int(width))
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise InvalidInputError("feature_names must be None or a list of str")
        if width is None or len(names) != width or len(set(names)) != len(names):
            raise InvalidInputError("feature_names must be n_features distinct names")
        return cls(tuple(names))


def check_label(y: object) -> bool:
    """Return a binary label as a bool; 0/1 and False/True are accepted."""
    if isinstance(y, numbers.Real | np.bool_) and (y == 0 or y == 1):
        return bool(y == 1)
    raise InvalidInputError(f"label must be 0 or 1 (or a bool), got {y!r}")


def check_mask(learn_mask: npt.ArrayLike | None, n: int) -> list[bool] | None:
    """Return the learn mask as a list of bools (None means every row)."""
    if learn_mask is None:
        return None
    mask = np.asarray(learn_mask)
    if mask.shape != (n,) or mask.dtype.kind != "b":
        raise InvalidInputError(
            f"learn_mask must be a boolean array of shape ({n},), "
            f"got {mask.dtype} of shape {mask.shape}"
        )
    result: list[bool] = mask.tolist()
    return result


def check_labels(y: npt.ArrayLike, n: int, mask: list[bool] | None = None) -> list[bool]:
    """Return binary labels as bools; rows outside `mask` may hold anything numeric."""
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise InvalidInputError(f"expected {n} labels of shape ({n},), got shape {labels.shape}")
    if labels.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidInputError(f"labels must be numeric or bool, got dtype {labels.dtype}")
    positive = labels == 1
    valid = positive | (labels == 0)
    if mask is not None:
        valid |= ~np.asarray(mask, dtype=bool)
    if not valid.all():
        i = int(np.argmin(valid))
        raise InvalidInputError(f"row {i}: label must be 0 or 1, got {labels[i].item()!r}")
    result: list[bool] = positive.tolist()
    return result


def check_target(y: object) -> float:
    """Return a regression target as a finite float."""
    if isinstance(y, numbers.Real | np.number) and not isinstance(y, bool | np.bool_):
        value = float(y)
        if math.isfinite(value):
            return value
    raise InvalidInputError(f"target must be a finite number, got {y!r}")


def check_targets(y: npt.ArrayLike, n: int, mask: list[bool] | None = None) -> list[float]:
    """Return regression targets as floats; rows outside `mask` may hold any number."""
    targets = np.asarray(y)
    if targets.shape != (n,):
        raise InvalidInputError(f"expected {n} targets of shape ({n},), got shape {targets.shape}")
    if targets.dtype.kind not in "iuf":
        raise InvalidInputError(f"targets must be numeric, got dtype {targets.dtype}")
    values = targets.astype(np.float64)
    finite = np.isfinite(values)
    if mask is not None:
        finite |= ~np.asarray(mask, dtype=bool)
        values = np.where(finite, values, 0.0)
    if not finite.all():
        i = int(np.argmin(finite))
        raise InvalidInputError(f"row {i}: target must be finite, got {targets[i].item()!r}")
    result: list[float] = values.tolist()
    return result


Label = int | str | bool


def check_class_label(y: object) -> Label:
    """Return a multiclass label: an int, str or bool (JSON-able, so states stay portable)."""
    if isinstance(y, np.generic):
        y = y.item()
    if isinstance(y, bool | int | str):
        return y
    raise InvalidInputError(f"class label must be an int, str or bool, got {y!r}")
