"""Page-Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift.base import (
    DriftDetector,
    _bool_field,
    _check_float,
    _check_int,
    _float_field,
    _optional_float_field,
)

__all__ = ["PageHinkley"]

_MODES = ("up", "down", "both")


class PageHinkley(DriftDetector):
    """Page-Hinkley test (a CUSUM chart on a fading mean) for drift in a real-valued stream.

    A bit-for-bit port of River 0.26's ``river.drift.PageHinkley``. With ``mean_i`` the
    running mean of the inputs, it keeps ``u_i = alpha * u_{i-1} + (x_i - mean_i) - delta``
    and ``l_i = alpha * l_{i-1} + (x_i - mean_i) + delta`` and signals a drift once at least
    ``min_instances`` values have been seen and ``u_i - min(u) > threshold`` (an increase,
    ``mode="up"``) or ``max(l) - l_i > threshold`` (a decrease, ``mode="down"``), or either
    (``mode="both"``). After an update that flags a drift, the next update first resets the
    detector, exactly as River does. There is no warning zone.

    Parameters
    ----------
    min_instances
        Number of values to see before a drift can be signalled.
    delta
        Magnitude of change tolerated without accumulating evidence.
    threshold
        The detection threshold (lambda).
    alpha
        Forgetting factor of the cumulative sums, in (0, 1].
    mode
        ``"up"`` (increases), ``"down"`` (decreases) or ``"both"``.

    Examples
    --------
    The stream of River's own example gives River's answer:

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> ph = PageHinkley()
    >>> for i, x in enumerate(stream):
    ...     ph.update(x)
    ...     if ph.drift_detected:
    ...         print(f"Change detected at index {i}, input value: {x}")
    Change detected at index 1006, input value: 5
    >>> PageHinkley().update_many(stream).tolist()
    [1006]

    References
    ----------
    E. S. Page. 1954. Continuous Inspection Schemes. Biometrika 41, 1/2 (1954), 100-115.

    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        _check_int("min_instances", min_instances, 0)
        _check_float("delta", delta, 0.0, inclusive=True)
        _check_float("threshold", threshold, 0.0, inclusive=False)
        _check_float("alpha", alpha, 0.0, inclusive=False)
        if alpha > 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._n = 0.0  # number of values seen (a float, as River's stats.Mean.n)
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0  # River starts it at the int -1; the comparisons agree

    def update(self, value: float) -> None:
        """Update with one value."""
        x = self._check_value(value)
        if self._drift_detected:
            self._reset()
        n = self._n + 1.0
        mean = self._mean
        mean += (1.0 / n) * (x - mean)
        self._n = n
        self._mean = mean
        dev = x - mean
        s_inc = self.alpha * self._sum_increase + dev - self.delta
        s_dec = self.alpha * self._sum_decrease + dev + self.delta
        self._sum_increase = s_inc
        self._sum_decrease = s_dec
        if s_inc < self._min_increase:
            self._min_increase = s_inc
        if s_dec > self._max_decrease:
            self._max_decrease = s_dec
        if n >= self.min_instances:
            up = s_inc - self._min_increase > self.threshold
            down = self._max_decrease - s_dec > self.threshold
            if self.mode == "up":
                self._drift_detected = up
            elif self.mode == "down":
                self._drift_detected = down
            else:
                self._drift_detected = up or down

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values).tolist()
        hits: list[int] = []
        min_instances = float(self.min_instances)
        delta = self.delta
        alpha = self.alpha
        # A direction that is not watched gets an infinite threshold: its test is never true.
        up_threshold = self.threshold if self.mode != "down" else math.inf
        down_threshold = self.threshold if self.mode != "up" else math.inf
        drift = self._drift_detected
        n = self._n
        mean = self._mean
        s_inc = self._sum_increase
        s_dec = self._sum_decrease
        min_inc = self._min_increase
        max_dec = self._max_decrease
        for i, x in enumerate(xs):
            if drift:
                drift = False
                n = mean = s_inc = s_dec = 0.0
                min_inc = math.inf
                max_dec = -1.0
            n += 1.0
            mean += (1.0 / n) * (x - mean)
            dev = x - mean
            s_inc = alpha * s_inc + dev - delta
            s_dec = alpha * s_dec + dev + delta
            if s_inc < min_inc:
                min_inc = s_inc
            if s_dec > max_dec:
                max_dec = s_dec
            if n >= min_instances and (
                s_inc - min_inc > up_threshold or max_dec - s_dec > down_threshold
            ):
                drift = True
                hits.append(i)
        self._drift_detected = drift
        self._n = n
        self._mean = mean
        self._sum_increase = s_inc
        self._sum_decrease = s_dec
        self._min_increase = min_inc
        self._max_decrease = max_dec
        return np.asarray(hits, dtype=np.intp)

    def _get_state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "sum_increase": self._sum_increase,
            "sum_decrease": self._sum_decrease,
            # +inf (nothing seen yet) is stored as None: JSON has no infinity.
            "min_increase": None if self._min_increase == math.inf else self._min_increase,
            "max_decrease": self._max_decrease,
            "drift_detected": self._drift_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = _float_field(state, "n")
        mean = _float_field(state, "mean")
        s_inc = _float_field(state, "sum_increase")
        s_dec = _float_field(state, "sum_decrease")
        min_inc = _optional_float_field(state, "min_increase")
        max_dec = _float_field(state, "max_decrease")
        drift = _bool_field(state, "drift_detected")
        self._n = n
        self._mean = mean
        self._sum_increase = s_inc
        self._sum_decrease = s_dec
        self._min_increase = math.inf if min_inc is None else min_inc
        self._max_decrease = max_dec
        self._drift_detected = drift

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"min_instances": 10, "threshold": 8.0, "mode": "up"}
        yield {"min_instances": 10, "threshold": 8.0, "alpha": 0.99, "mode": "down"}
