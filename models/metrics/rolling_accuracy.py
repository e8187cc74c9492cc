"""Accuracy over the most recent pairs."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from models.exceptions import InvalidInputError
from models.metrics.accuracy import Accuracy
from models.metrics.rolling import Rolling

__all__ = ["RollingAccuracy"]


class RollingAccuracy(Rolling[float]):
    """Accuracy over the last `window_size` (label, prediction) pairs.

    `Rolling(Accuracy(), window_size)` with a compact state: matches River's
    `utils.Rolling(metrics.Accuracy, window_size=window_size)`. Memory is one ring buffer of
    `window_size` booleans. `update_many` equals calling `update` on each pair in order.

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
        super().__init__(Accuracy(), window_size)

    def update(self, y_true: object, y_pred: object) -> None:
        """Count one (label, prediction) pair, forgetting the oldest if the window is full."""
        self._push((np.array([bool(y_true == y_pred)]),))

    def clone(self) -> Self:
        return type(self)(window_size=self.window_size)

    def state_dict(self) -> dict[str, Any]:
        """`window_size` and the window's hits, oldest first."""
        return {"window_size": self.window_size, "window": self._codes()[0]}

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
        metric = Accuracy()
        metric._add((window,), 1)
        self._install(metric, (window,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.get():.2%}"
