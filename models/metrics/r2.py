"""Coefficient of determination."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._exact import SCALE, decode, encode, ratio, sum_scaled, sum_squares_scaled
from models.metrics._pairs import as_float, as_floats
from models.metrics.base import Codes, Metric

__all__ = ["R2"]

_KEYS = ("n", "sum_y", "sum_y2", "sum_squared_residuals")


class R2(Metric[float]):
    """Coefficient of determination `1 - RSS / TSS`, River's `metrics.R2`.

    `RSS` sums the squared residuals `(y_true - y_pred) ** 2`; `TSS` is the sum of squared
    deviations of `y_true` from its mean. 0.0 until two pairs were counted, and while every
    `y_true` is equal. River tracks `TSS` with Welford's running variance; here the sums of
    `y_true`, of its exact squares and of the squared residuals are kept exactly, so `TSS` has
    no cancellation error, `update_many` equals `update` in order bit for bit and `revert`
    undoes `update` exactly.

    Examples
    --------
    >>> from models.metrics import R2
    >>> metric = R2()
    >>> for y_true, y_pred in [(3, 2.5), (-0.5, 0.0), (2, 2), (7, 8)]:
    ...     metric.update(y_true, y_pred)
    ...     print(round(metric.get(), 4))
    0.0
    0.9184
    0.9231
    0.9486
    """

    bigger_is_better: ClassVar[bool | None] = True
    _fmt: ClassVar[str] = ",.6f"
    _code_dtypes: ClassVar[tuple[str, ...]] = ("float64", "float64")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._sum_y = 0  # * 2**SCALE
        self._sum_y2 = 0  # * 2**(2 * SCALE)
        self._rss = 0  # * 2**SCALE

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        truth, pred = as_floats(y_true, "y_true"), as_floats(y_pred, "y_pred")
        with np.errstate(over="ignore", invalid="ignore"):
            residuals = truth - pred
            squares = residuals * residuals
        if not np.isfinite(squares).all():
            raise InvalidInputError("a squared residual overflows to inf")
        return truth, squares

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        truth = as_float(y_true, "y_true")
        residual = truth - as_float(y_pred, "y_pred")
        square = residual * residual
        if square == float("inf"):
            raise InvalidInputError("a squared residual overflows to inf")
        return np.array([truth]), np.array([square])

    def _add(self, codes: Codes, sign: int) -> None:
        truth, squares = codes
        if sign < 0:
            self._check_revert(self._n, truth.shape[0])
        sum_y2 = self._sum_y2 + sign * sum_squares_scaled(truth)
        rss = self._rss + sign * sum_scaled(squares)
        if sum_y2 < 0 or rss < 0:
            raise InvalidInputError("cannot revert pairs that were not counted")
        self._n += sign * truth.shape[0]
        self._sum_y += sign * sum_scaled(truth)
        self._sum_y2, self._rss = sum_y2, rss

    def _check_codes(self, codes: Codes) -> None:
        truth, squares = codes
        if not (np.isfinite(truth).all() and np.isfinite(squares).all() and (squares >= 0).all()):
            raise InvalidInputError("window values must be finite (squared residuals >= 0)")

    def get(self) -> float:
        """R2 (at most 1, can be negative; 0.0 before two pairs or without variance)."""
        n = self._n
        # TSS * n * 2**(2 * SCALE), exact and >= 0 (Cauchy-Schwarz).
        tss = n * self._sum_y2 - self._sum_y * self._sum_y
        if n < 2 or tss <= 0:
            return 0.0
        # RSS / TSS = rss * 2**-SCALE / (tss / (n * 2**(2 * SCALE)))
        return 1.0 - ratio((self._rss * n) << SCALE, tss)

    def clone(self) -> Self:
        return type(self)()

    def state_dict(self) -> dict[str, Any]:
        """`n` and the exact sums of `y_true` (times 2**1127), of its squares (times 2**2254)
        and of the squared residuals (times 2**1127), as hexadecimal strings."""
        return {
            "n": self._n,
            "sum_y": encode(self._sum_y),
            "sum_y2": encode(self._sum_y2),
            "sum_squared_residuals": encode(self._rss),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != set(_KEYS):
            raise InvalidInputError(f"expected state keys {sorted(_KEYS)}, got {sorted(state)}")
        n = state["n"]
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise InvalidInputError(f"n must be an int >= 0, got {n!r}")
        n = int(n)
        sum_y = decode(state["sum_y"], "sum_y", nonnegative=False)
        sum_y2 = decode(state["sum_y2"], "sum_y2")
        rss = decode(state["sum_squared_residuals"], "sum_squared_residuals")
        if n * sum_y2 < sum_y * sum_y or (n == 0 and (sum_y or sum_y2 or rss)):
            raise InvalidInputError("the sums are inconsistent with n")
        self._n, self._sum_y, self._sum_y2, self._rss = n, sum_y, sum_y2, rss
