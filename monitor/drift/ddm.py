"""Drift Detection Method (Gama et al., 2004)."""

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
from monitor.exceptions import IncompatibleStateError

__all__ = ["DDM"]

_INF = math.inf


class DDM(DriftDetector):
    """Drift Detection Method on a stream of error indicators.

    A bit-for-bit port of River 0.26's ``river.drift.binary.DDM``. The error rate
    ``p_i`` (running mean of the inputs) and its binomial standard deviation
    ``s_i = sqrt(p_i (1 - p_i) / i)`` are tracked; once more than ``warm_start`` values have
    been seen, the pair with the smallest ``p_i + s_i`` is remembered as ``(p_min, s_min)``
    and

    * ``p_i + s_i > p_min + warning_threshold * s_min`` flags a warning,
    * ``p_i + s_i > p_min + drift_threshold * s_min`` flags a drift (and clears the warning).

    After an update that flags a drift, the next update first resets the detector, exactly
    as River does.

    Parameters
    ----------
    warm_start
        Number of values to see before a warning or drift can be flagged.
    warning_threshold
        Multiple of ``s_min`` above ``p_min`` that enters the warning zone (about 95%).
    drift_threshold
        Multiple of ``s_min`` above ``p_min`` that signals a drift (about 99%).

    Input: one value per event, 1 (or True) when the model was wrong and 0 when it was right;
    any value in [0, 1] is accepted (a soft loss), anything else raises ``InvalidInputError``.

    Examples
    --------
    The stream of River's own example gives River's answers:

    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> ddm = DDM()
    >>> warned = False
    >>> for i, x in enumerate(stream):
    ...     ddm.update(x)
    ...     if ddm.warning_detected and not warned:
    ...         print(f"Warning detected at index {i}")
    ...         warned = True
    ...     if ddm.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         warned = False
    Warning detected at index 1084
    Change detected at index 1334
    Warning detected at index 1492
    >>> DDM().update_many(stream).tolist()
    [1334]

    References
    ----------
    João Gama, Pedro Medas, Gladys Castillo, Pedro Rodrigues: Learning with Drift Detection.
    SBIA 2004: 286-295.

    """

    binary_input = True

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        _check_int("warm_start", warm_start, 0)
        _check_float("warning_threshold", warning_threshold, 0.0, inclusive=False)
        _check_float("drift_threshold", drift_threshold, 0.0, inclusive=False)
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0.0  # number of values seen (a float, as River's stats.Mean.n)
        self._p = 0.0  # running error rate
        self._p_min: float | None = None
        self._s_min: float | None = None
        self._ps_min = _INF
        # p_min + threshold * s_min, cached: the same float River recomputes on every update.
        self._warning_level = _INF
        self._drift_level = _INF

    @property
    def warning_detected(self) -> bool:
        """Whether the last update left the detector in the warning zone."""
        return self._warning_detected

    def _set_minimum(self, p_min: float | None, s_min: float | None) -> None:
        self._p_min = p_min
        self._s_min = s_min
        if p_min is None or s_min is None:
            self._ps_min = self._warning_level = self._drift_level = _INF
        else:
            self._ps_min = p_min + s_min
            self._warning_level = p_min + self.warning_threshold * s_min
            self._drift_level = p_min + self.drift_threshold * s_min

    def update(self, value: float) -> None:
        """Update with one error indicator (1/True = wrong, 0/False = right)."""
        x = self._check_value(value)
        if self._drift_detected:
            self._reset()
        n = self._n + 1.0
        p = self._p
        p += (1.0 / n) * (x - p)
        self._n = n
        self._p = p
        if n > self.warm_start:
            s = math.sqrt(p * (1.0 - p) / n)
            ps = p + s
            if ps <= self._ps_min:
                self._set_minimum(p, s)
            if ps > self._drift_level:
                self._drift_detected = True
                self._warning_detected = False
            else:
                self._warning_detected = ps > self._warning_level

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values).tolist()
        if not xs:
            return np.zeros(0, dtype=np.intp)
        # The loop below is ``update`` with everything in local variables; the warning flag is
        # worked out once at the end, from the last update that could set it.
        hits: list[int] = []
        sqrt = math.sqrt
        warm_start = float(self.warm_start)
        warning_threshold = self.warning_threshold
        drift_threshold = self.drift_threshold
        started_with_drift = drift = self._drift_detected
        n = self._n
        p = self._p
        p_min = self._p_min
        s_min = self._s_min
        ps_min = self._ps_min
        warning_level = self._warning_level
        drift_level = self._drift_level
        ps = 0.0
        for i, x in enumerate(xs):
            if drift:
                drift = False
                n = p = 0.0
                p_min = s_min = None
                ps_min = warning_level = drift_level = _INF
            n += 1.0
            p += (1.0 / n) * (x - p)
            if n > warm_start:
                s = sqrt(p * (1.0 - p) / n)
                ps = p + s
                if ps <= ps_min:
                    p_min = p
                    s_min = s
                    ps_min = ps
                    warning_level = p + warning_threshold * s
                    drift_level = p + drift_threshold * s
                if ps > drift_level:
                    drift = True
                    hits.append(i)
        if drift:
            self._warning_detected = False
        elif n > warm_start:
            self._warning_detected = ps > warning_level
        elif started_with_drift or hits:
            self._warning_detected = False  # reset during the batch, warm start not yet over
        self._drift_detected = drift
        self._n = n
        self._p = p
        self._set_minimum(p_min, s_min)
        return np.asarray(hits, dtype=np.intp)

    def _get_state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "p": self._p,
            "p_min": self._p_min,
            "s_min": self._s_min,
            "drift_detected": self._drift_detected,
            "warning_detected": self._warning_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = _float_field(state, "n")
        p = _float_field(state, "p")
        p_min = _optional_float_field(state, "p_min")
        s_min = _optional_float_field(state, "s_min")
        drift = _bool_field(state, "drift_detected")
        warning = _bool_field(state, "warning_detected")
        if (p_min is None) != (s_min is None):
            raise IncompatibleStateError("p_min and s_min must both be set or both be None")
        self._n = n
        self._p = p
        self._set_minimum(p_min, s_min)
        self._drift_detected = drift
        self._warning_detected = warning

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"warm_start": 10, "warning_threshold": 1.5, "drift_threshold": 2.5}
