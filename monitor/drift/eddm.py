"""Early Drift Detection Method (Baena-García et al., 2006)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift.base import DriftDetector, _bool_field, _check_int, _float_field
from monitor.exceptions import IncompatibleStateError

__all__ = ["EDDM"]


def _check_fraction(name: str, value: float) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and 0.0 < value <= 1.0
    if not ok:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")


def _int_field(state: Mapping[str, Any], key: str) -> int:
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IncompatibleStateError(f"state[{key!r}] must be an integer >= 0, got {value!r}")
    return value


class EDDM(DriftDetector):
    """Early Drift Detection Method on a stream of error indicators.

    A bit-for-bit port of River 0.26's ``river.drift.binary.EDDM``. Instead of the error
    rate, EDDM follows the distance (in updates) between consecutive errors: its running mean
    ``p'`` and standard deviation ``s'``. The largest ``p' + 2 s'`` seen once more than
    ``warm_start`` values have been seen is remembered as ``m``; then, at each error after
    more than ``warm_start`` errors, with ``level = (p' + 2 s') / m``,

    * ``level < beta`` signals a drift,
    * ``beta <= level < alpha`` flags a warning, ``level >= alpha`` clears it.

    The flags only change on errors; as in River, the warning flag is left as it was when a
    drift is signalled. After an update that flags a drift, the next update first resets the
    detector, exactly as River does.

    Parameters
    ----------
    warm_start
        Number of values, and of errors, to see before a warning or drift can be flagged.
    alpha
        Warning threshold on ``level``, in (0, 1]; the smaller, the more conservative.
    beta
        Drift threshold on ``level``, in (0, ``alpha``]; the smaller, the more conservative.

    Input: one value per event, 1 (or True) when the model was wrong and 0 when it was right.
    Any value in [0, 1] is accepted, but as in River only a value equal to 1 counts as an
    error; anything outside [0, 1] raises ``InvalidInputError``.

    Examples
    --------
    River's own example gives River's answers:

    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> eddm = EDDM(alpha=0.8, beta=0.75)
    >>> warned = False
    >>> for i, x in enumerate(stream):
    ...     eddm.update(x)
    ...     if eddm.warning_detected and not warned:
    ...         print(f"Warning detected at index {i}")
    ...         warned = True
    ...     if eddm.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         warned = False
    Warning detected at index 1059
    Change detected at index 1278
    >>> EDDM(alpha=0.8, beta=0.75).update_many(stream).tolist()
    [1278]

    References
    ----------
    Manuel Baena-García, José del Campo-Ávila, Raúl Fidalgo, Albert Bifet, Ricard Gavaldà,
    Rafael Morales-Bueno: Early Drift Detection Method. Fourth International Workshop on
    Knowledge Discovery from Data Streams, 2006.

    """

    binary_input = True

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        _check_int("warm_start", warm_start, 0)
        _check_fraction("alpha", alpha)
        _check_fraction("beta", beta)
        if alpha < beta:
            raise ValueError(f"alpha must be >= beta, got alpha={alpha!r} < beta={beta!r}")
        self.warm_start = warm_start
        self.alpha = alpha
        self.beta = beta
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0  # number of values seen
        self._last_error = 0  # value of _n at the last error
        self._n_errors = 0  # number of errors seen (also River's Var.n, as a float)
        self._mean = 0.0  # running mean of the distances between errors
        self._s = 0.0  # Welford's sum of squared deviations of those distances
        self._p2s_max = -1.0  # largest p' + 2 s' seen after the warm start

    @property
    def warning_detected(self) -> bool:
        """Whether the detector is in the warning zone (only errors update it)."""
        return self._warning_detected

    def update(self, value: float) -> None:
        """Update with one error indicator (1/True = wrong, anything else = right)."""
        x = self._check_value(value)
        if self._drift_detected:
            self._reset()
        self._n += 1
        if x != 1.0:
            return
        n = self._n
        self._n_errors += 1
        distance = n - self._last_error
        count = float(self._n_errors)
        mean_old = self._mean
        mean = mean_old + (1.0 / count) * (distance - mean_old)
        s = self._s + (distance - mean_old) * (distance - mean)
        self._mean = mean
        self._s = s
        if n > self.warm_start:
            var = s / (count - 1) if count > 1 else 0.0
            p2s = mean + 2 * var**0.5
            if p2s > self._p2s_max:
                self._p2s_max = p2s
            elif self._n_errors > self.warm_start:
                level = p2s / self._p2s_max
                if level < self.beta:
                    self._drift_detected = True
                else:
                    self._warning_detected = level < self.alpha
        self._last_error = n

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values)
        length = len(xs)
        if not length:
            return np.zeros(0, dtype=np.intp)
        # Only errors change anything but the counter, so the loop visits the errors alone: the
        # counter at position i is ``offset + i``. A drift flagged at position j resets the
        # detector at position j + 1, after which the counter at position i is ``i - j``.
        errors: list[int] = np.flatnonzero(xs == 1.0).tolist()
        hits: list[int] = []
        warm_start = self.warm_start
        alpha = self.alpha
        beta = self.beta
        warning = self._warning_detected
        last_error = self._last_error
        n_errors = self._n_errors
        mean = self._mean
        s = self._s
        p2s_max = self._p2s_max
        drift = self._drift_detected
        last_hit = -1
        offset = self._n + 1
        if drift:  # the reset pending from a previous call happens at position 0
            drift = warning = False
            last_error = n_errors = 0
            mean = s = 0.0
            p2s_max = -1.0
            offset = 1
        for i in errors:
            if drift:
                drift = warning = False
                last_error = n_errors = 0
                mean = s = 0.0
                p2s_max = -1.0
                offset = -last_hit
            n = offset + i
            n_errors += 1
            distance = n - last_error
            count = float(n_errors)
            mean_old = mean
            mean += (1.0 / count) * (distance - mean_old)
            s += (distance - mean_old) * (distance - mean)
            if n > warm_start:
                p2s = mean + 2 * (s / (count - 1) if count > 1 else 0.0) ** 0.5
                if p2s > p2s_max:
                    p2s_max = p2s
                elif n_errors > warm_start:
                    level = p2s / p2s_max
                    if level < beta:
                        drift = True
                        last_hit = i
                        hits.append(i)
                    else:
                        warning = level < alpha
            last_error = n
        if drift and last_hit < length - 1:  # the reset happens inside this batch
            drift = warning = False
            last_error = n_errors = 0
            mean = s = 0.0
            p2s_max = -1.0
            offset = -last_hit
        self._drift_detected = drift
        self._warning_detected = warning
        self._n = offset + length - 1
        self._last_error = last_error
        self._n_errors = n_errors
        self._mean = mean
        self._s = s
        self._p2s_max = p2s_max
        return np.asarray(hits, dtype=np.intp)

    def _get_state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "last_error": self._last_error,
            "n_errors": self._n_errors,
            "mean": self._mean,
            "s": self._s,
            "p2s_max": self._p2s_max,
            "drift_detected": self._drift_detected,
            "warning_detected": self._warning_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = _int_field(state, "n")
        last_error = _int_field(state, "last_error")
        n_errors = _int_field(state, "n_errors")
        mean = _float_field(state, "mean")
        s = _float_field(state, "s")
        p2s_max = _float_field(state, "p2s_max")
        drift = _bool_field(state, "drift_detected")
        warning = _bool_field(state, "warning_detected")
        if last_error > n or n_errors > n:
            raise IncompatibleStateError("last_error and n_errors cannot exceed n")
        self._n = n
        self._last_error = last_error
        self._n_errors = n_errors
        self._mean = mean
        self._s = s
        self._p2s_max = p2s_max
        self._drift_detected = drift
        self._warning_detected = warning

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"warm_start": 10, "alpha": 0.8, "beta": 0.75}
