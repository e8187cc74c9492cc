"""Drift detection with Hoeffding's bounds and the moving-average test (Frías-Blanco et al.)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift.base import DriftDetector, _bool_field, _float_field
from monitor.exceptions import IncompatibleStateError

__all__ = ["HDDM_A"]


def _check_confidence(name: str, value: float) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and 0.0 < value < 1.0
    if not ok:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")


class HDDM_A(DriftDetector):
    """Hoeffding's-bound drift detection with the moving-average test (HDDM_A).

    A bit-for-bit port of River 0.26's ``river.drift.binary.HDDMA``. The running mean ``z``
    of the inputs over ``n`` values is compared with the mean at a cut point: the prefix
    whose mean plus Hoeffding bound ``sqrt(log(1 / drift_confidence) / (2 n))`` was the
    smallest. If ``z`` exceeds the prefix mean by at least
    ``sqrt(m / 2 * log(2 / confidence))``, with ``m = (n - n_cut) / (n_cut n)``, a drift
    (``confidence = drift_confidence``) or a warning (``warning_confidence``) is flagged.
    With ``two_sided_test`` a decrease, against a second cut point, is flagged as well.

    After an update that flags a drift, the next update first resets the detector, exactly
    as River does.

    Parameters
    ----------
    drift_confidence
        Confidence level of the drift test, in (0, 1); the smaller, the more conservative.
    warning_confidence
        Confidence level of the warning test, in (0, 1).
    two_sided_test
        If True, decreases of the mean are flagged too; by default only increases are.

    Input: one value per event, 1 (or True) when the model was wrong and 0 when it was right;
    any value in [0, 1] is accepted (a soft loss), anything else raises ``InvalidInputError``.

    Examples
    --------
    River's own example gives River's answers:

    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> hddm_a = HDDM_A()
    >>> warned = False
    >>> for i, x in enumerate(stream):
    ...     hddm_a.update(x)
    ...     if hddm_a.warning_detected and not warned:
    ...         print(f"Warning detected at index {i}")
    ...         warned = True
    ...     if hddm_a.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         warned = False
    Warning detected at index 451
    Change detected at index 1206
    >>> HDDM_A().update_many(stream).tolist()
    [1206]

    References
    ----------
    Isvani Frías-Blanco, José del Campo-Ávila, Gonzalo Ramos-Jiménez, Rafael Morales-Bueno,
    Agustín Ortiz-Díaz, Yailé Caballero-Mota: Online and Non-Parametric Drift Detection
    Methods Based on Hoeffding's Bounds. IEEE TKDE 27(3): 810-823, 2015.

    """

    binary_input = True

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        two_sided_test: bool = False,
    ) -> None:
        _check_confidence("drift_confidence", drift_confidence)
        _check_confidence("warning_confidence", warning_confidence)
        if not isinstance(two_sided_test, bool):
            raise ValueError(f"two_sided_test must be a bool, got {two_sided_test!r}")
        self.drift_confidence = drift_confidence
        self.warning_confidence = warning_confidence
        self.two_sided_test = two_sided_test
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0.0  # number of values seen (a float, as River's stats.Mean.n)
        self._mean = 0.0
        self._n_min = 0.0  # cut point for an increase: its count and mean
        self._mean_min = 0.0
        self._n_max = 0.0  # cut point for a decrease
        self._mean_max = 0.0

    @property
    def warning_detected(self) -> bool:
        """Whether the last update flagged a warning."""
        return self._warning_detected

    def update(self, value: float) -> None:
        """Update with one error indicator (1/True = wrong, 0/False = right)."""
        x = self._check_value(value)
        self.update_many([x])

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values).tolist()
        if not xs:
            return np.zeros(0, dtype=np.intp)
        hits: list[int] = []
        sqrt = math.sqrt
        # The same floats River computes on every update, worked out once.
        log_bound = math.log(1.0 / self.drift_confidence)
        log_drift = math.log(2.0 / self.drift_confidence)
        log_warning = math.log(2.0 / self.warning_confidence)
        two_sided = self.two_sided_test
        drift = self._drift_detected
        warning = self._warning_detected
        n = self._n
        mean = self._mean
        n_min = self._n_min
        mean_min = self._mean_min
        n_max = self._n_max
        mean_max = self._mean_max
        # Hoeffding bounds of the cut points, recomputed only when a cut point moves.
        eps_min = sqrt(1.0 / (2 * n_min) * log_bound) if n_min else 0.0
        eps_max = sqrt(1.0 / (2 * n_max) * log_bound) if n_max else 0.0
        for i, x in enumerate(xs):
            if drift:
                n = mean = n_min = mean_min = n_max = mean_max = 0.0
            n += 1.0
            mean += (1.0 / n) * (x - mean)
            eps = sqrt(1.0 / (2 * n) * log_bound)
            if n_min == 0.0 or mean_min + eps_min >= mean + eps:
                n_min = n
                mean_min = mean
                eps_min = eps
            if n_max == 0.0 or mean_max - eps_max <= mean - eps:
                n_max = n
                mean_max = mean
                eps_max = eps
            drift = warning = False
            if n_min != n:
                diff = mean - mean_min
                if diff >= 0.0:
                    m = (n - n_min) / n_min * (1.0 / n)
                    if diff >= sqrt(m / 2 * log_drift):
                        drift = True
                    elif diff >= sqrt(m / 2 * log_warning):
                        warning = True
            if two_sided and n_max != n:
                diff = mean_max - mean
                if diff >= 0.0:
                    m = (n - n_max) / n_max * (1.0 / n)
                    if diff >= sqrt(m / 2 * log_drift):
                        drift = True
                    elif diff >= sqrt(m / 2 * log_warning):
                        warning = True
            if drift:
                hits.append(i)
        self._drift_detected = drift
        self._warning_detected = warning
        self._n = n
        self._mean = mean
        self._n_min = n_min
        self._mean_min = mean_min
        self._n_max = n_max
        self._mean_max = mean_max
        return np.asarray(hits, dtype=np.intp)

    def _get_state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "n_min": self._n_min,
            "mean_min": self._mean_min,
            "n_max": self._n_max,
            "mean_max": self._mean_max,
            "drift_detected": self._drift_detected,
            "warning_detected": self._warning_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = _float_field(state, "n")
        mean = _float_field(state, "mean")
        n_min = _float_field(state, "n_min")
        mean_min = _float_field(state, "mean_min")
        n_max = _float_field(state, "n_max")
        mean_max = _float_field(state, "mean_max")
        drift = _bool_field(state, "drift_detected")
        warning = _bool_field(state, "warning_detected")
        if not (0.0 <= n_min <= n and 0.0 <= n_max <= n):
            raise IncompatibleStateError("the cut point counts must be in [0, n]")
        if n and not (n_min and n_max):
            raise IncompatibleStateError("the cut points are set from the first value on")
        self._n = n
        self._mean = mean
        self._n_min = n_min
        self._mean_min = mean_min
        self._n_max = n_max
        self._mean_max = mean_max
        self._drift_detected = drift
        self._warning_detected = warning

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"drift_confidence": 0.0001, "warning_confidence": 0.01, "two_sided_test": True}
