"""Accuracy over the most recent pairs."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import hits

__all__ = ["RollingAccuracy"]


class RollingAccuracy:
    """Accuracy over the last `window_size` (label, prediction) pairs.

    Matches River's `utils.Rolling(metrics.Accuracy, window_size=window_size)`. Memory is one
    ring buffer of `window_size` booleans. `update_many` equals calling `update` on each pair
    in order.

    Parameters
    ----------
    window_size
        How many of the most recent pairs count.

    Examples
    --------
    >>> from models.metrics import RollingAccuracy
    >>> metric = RollingAccuracy(window_size=3)
    >>> for y_true, y_pred in [(1, 1), (0, 1), (1, 1), (0, 0), (1, 0)]:
    ...     metric.update(y_true, y_pred)
    ...     print(round(metric.get(), 3))
    1.0
    0.5
    0.667
    0.667
    0.667
    """

    def __init__(self, window_size: int = 1000) -> None:
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"window_size must be an int >= 1, got {window_size!r}")
        self.window_size = window_size
        self._reset()

    def _reset(self) -> None:
        self._window = np.zeros(self.window_size, dtype=bool)
        self._pos = 0  # next slot to write; the oldest pair once the window is full
        self._n = 0
        self._n_correct = 0

    def update(self, y_true: object, y_pred: object) -> None:
        """Count one (label, prediction) pair, forgetting the oldest if the window is full."""
        hit = bool(y_true == y_pred)
        if self._n == self.window_size:
            self._n_correct -= int(self._window[self._pos])
        else:
            self._n += 1
        self._window[self._pos] = hit
        self._n_correct += hit
        self._pos = (self._pos + 1) % self.window_size

    def update_many(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> None:
        """Count each pair of two 1-D arrays of the same length, in order."""
        matches = hits(y_true, y_pred)
        k, size = matches.shape[0], self.window_size
        if k >= size:
            self._window[:] = matches[k - size :]
            self._pos = 0
        else:
            self._window[(self._pos + np.arange(k)) % size] = matches
            self._pos = (self._pos + k) % size
        # Until the window is full the filled slots are exactly [0, n).
        self._n = min(self._n + k, size)
        self._n_correct = int(np.count_nonzero(self._window[: self._n]))

    def get(self) -> float:
        """The accuracy over the window in [0, 1] (0.0 before any update)."""
        return self._n_correct / self._n if self._n else 0.0

    def state_dict(self) -> dict[str, Any]:
        """`window_size` and the window's hits, oldest first."""
        if self._n < self.window_size:
            window = self._window[: self._n].copy()
        else:
            window = np.roll(self._window, -self._pos)
        return {"window_size": self.window_size, "window": window}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()` of a metric with the same `window_size`."""
        if set(state) != {"window_size", "window"}:
            raise InvalidInputError("expected state keys ['window', 'window_size']")
        size = state["window_size"]
        if not isinstance(size, numbers.Integral) or size != self.window_size:
            raise InvalidInputError(f"state has window_size {size!r}, expected {self.window_size}")
        window = np.asarray(state["window"])
        if window.dtype.kind != "b" or window.ndim != 1 or window.shape[0] > self.window_size:
            raise InvalidInputError("window must be a 1-D bool array no longer than window_size")
        self._reset()
        n = window.shape[0]
        self._window[:n] = window
        self._n = n
        self._pos = n % self.window_size
        self._n_correct = int(np.count_nonzero(window))

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.get():.2%}"
