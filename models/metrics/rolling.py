"""Any metric over the most recent pairs."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import pair
from models.metrics.base import Codes, Metric

__all__ = ["Rolling"]

T = TypeVar("T")


def _check_window_size(window_size: object) -> int:
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
        raise ValueError(f"window_size must be an int >= 1, got {window_size!r}")
    return window_size


def _same_state(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
            if not np.array_equal(np.asarray(value), np.asarray(other)):
                return False
        elif value != other:
            return False
    return True


class Rolling(Generic[T]):
    """A metric over the last `window_size` pairs, River's `utils.Rolling(metric, window_size)`.

    A ring buffer keeps the window's pairs, reduced to the metric's codes (a hit flag, label
    numbers, an error...), so memory is `window_size` rows whatever the labels; each new pair
    beyond the window reverts the oldest one. `update_many` reverts and adds whole slices at
    once; as every metric counts exactly, it equals `update` in order. Values equal River's
    (up to River's floating-point drift for the mean-based metrics: here reverts are exact).

    Parameters
    ----------
    metric
        The metric to compute, used as a template: the window works on a fresh clone, so the
        object passed in is never updated.
    window_size
        How many of the most recent pairs count.

    Examples
    --------
    >>> from models.metrics import MAE, Rolling
    >>> metric = Rolling(MAE(), window_size=2)
    >>> for y_true, y_pred in [(1.0, 2.0), (3.0, 3.0), (5.0, 1.0), (0.0, 0.5)]:
    ...     metric.update(y_true, y_pred)
    ...     print(metric.get())
    1.0
    0.5
    2.0
    2.25
    >>> metric
    Rolling(MAE, window_size=2): 2.250000
    """

    def __init__(self, metric: Metric[T], window_size: int = 1000) -> None:
        if not isinstance(metric, Metric):
            raise ValueError(f"metric must be a models.metrics Metric, got {metric!r}")
        self.metric = metric
        self.window_size = _check_window_size(window_size)
        self._reset()

    def _reset(self) -> None:
        self._metric = self.metric.clone()
        dtypes = self._metric._code_dtypes
        self._window = tuple(np.zeros(self.window_size, dtype=d) for d in dtypes)
        self._start = 0  # slot of the oldest pair
        self._n = 0  # pairs in the window

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Count one pair, forgetting the oldest if the window is full."""
        self._push(self._metric._encode_one(y_true, y_pred, True))

    def update_many(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> None:
        """Count each pair of two 1-D arrays of the same length, as `update` in order would."""
        truth, pred = pair(y_true, y_pred)
        self._push(self._metric._encode(truth, pred, True))

    def _push(self, codes: Codes) -> None:
        size, n = self.window_size, self._n
        k = codes[0].shape[0]
        if k == 1:  # the one-by-one path, without index arrays
            if n == size:
                slot = self._start
                self._metric._add(tuple(column[slot : slot + 1] for column in self._window), -1)
            self._metric._add(codes, 1)
            slot = (self._start + n) % size
            for column, values in zip(self._window, codes, strict=True):
                column[slot] = values[0]
            if n == size:
                self._start = (slot + 1) % size
            else:
                self._n = n + 1
            return
        kept = min(k, size)
        evicted = max(0, n + kept - size)
        if evicted:
            slots = (self._start + np.arange(evicted)) % size
            self._metric._add(tuple(column[slots] for column in self._window), -1)
        new = tuple(column[k - kept :] for column in codes)
        self._metric._add(new, 1)
        slots = (self._start + n + np.arange(kept)) % size
        for column, values in zip(self._window, new, strict=True):
            column[slots] = values
        self._start = (self._start + evicted) % size
        self._n = min(size, n + kept)

    def get(self) -> T:
        """The metric over the window (its value before any update when empty)."""
        return self._metric.get()

    @property
    def bigger_is_better(self) -> bool | None:
        """Whether a higher value is better, as for the metric."""
        return self._metric.bigger_is_better

    def clone(self) -> Self:
        """A fresh, empty window over the same metric."""
        return type(self)(self.metric.clone(), self.window_size)

    def _codes(self) -> Codes:
        """The window's codes, oldest first (copies)."""
        slots = (self._start + np.arange(self._n)) % self.window_size
        return tuple(column[slots] for column in self._window)

    def state_dict(self) -> dict[str, Any]:
        """`window_size`, the window's codes oldest first (`window.0`, `window.1`, ...) and the
        metric's state (`metric.<key>`)."""
        state: dict[str, Any] = {"window_size": self.window_size}
        for c, column in enumerate(self._codes()):
            state[f"window.{c}"] = column
        for key, value in self._metric.state_dict().items():
            state[f"metric.{key}"] = value
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; the window must hold exactly what the metric counted."""
        size = state.get("window_size")
        if (
            isinstance(size, bool)
            or not isinstance(size, numbers.Integral)
            or size != self.window_size
        ):
            raise InvalidInputError(f"state has window_size {size!r}, expected {self.window_size}")
        dtypes = self._metric._code_dtypes
        names = {f"window.{c}" for c in range(len(dtypes))}
        inner = {k[len("metric.") :]: v for k, v in state.items() if k.startswith("metric.")}
        unknown = set(state) - names - {"window_size"} - {f"metric.{k}" for k in inner}
        if unknown or not names <= set(state):
            raise InvalidInputError(f"expected state keys window_size, {sorted(names)}, metric.*")
        metric = self.metric.clone()
        metric.load_state_dict(inner)
        codes = tuple(np.asarray(state[f"window.{c}"]) for c in range(len(dtypes)))
        self._check_codes(metric, codes)
        rebuilt = metric._empty_like()
        rebuilt._add(codes, 1)
        if not _same_state(rebuilt.state_dict(), metric.state_dict()):
            raise InvalidInputError("the metric's state does not match the pairs in the window")
        self._install(metric, codes)

    def _check_codes(self, metric: Metric[T], codes: Codes) -> None:
        lengths = {column.shape for column in codes}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise InvalidInputError("the window's columns must be 1-D arrays of the same length")
        if codes[0].shape[0] > self.window_size:
            raise InvalidInputError(f"the window holds more than {self.window_size} pairs")
        for column, dtype in zip(codes, metric._code_dtypes, strict=True):
            if column.dtype != np.dtype(dtype):
                raise InvalidInputError(f"window columns must be {dtype}, got {column.dtype}")
        metric._check_codes(codes)

    def _install(self, metric: Metric[T], codes: Codes) -> None:
        self._reset()
        self._metric = metric
        n = codes[0].shape[0]
        for column, values in zip(self._window, codes, strict=True):
            column[:n] = values
        self._n = n

    def __repr__(self) -> str:
        name = type(self._metric).__name__
        value = self._metric.get()
        text = format(value, self._metric._fmt) if isinstance(value, float) else repr(value)
        return f"{type(self).__name__}({name}, window_size={self.window_size}): {text}"
