"""Metrics that are the mean of a per-pair value, kept as an exact sum (internal)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from models.exceptions import InvalidInputError
from models.metrics._exact import SCALE, decode, encode, ratio, sum_scaled
from models.metrics.base import Codes, Metric, finite_codes

__all__ = ["MeanMetric"]


class MeanMetric(Metric[float]):
    """The mean of a per-pair value (an error, a loss), River's `metrics.base.MeanMetric`.

    The sum is exact (`models.metrics._exact`), so the mean is correctly rounded, batches and
    reverts are exact, and the value equals River's running mean up to its rounding. Subclasses
    implement `_encode` returning one float64 column of finite values >= 0.
    """

    bigger_is_better: ClassVar[bool | None] = False
    _fmt: ClassVar[str] = ",.6f"
    _code_dtypes: ClassVar[tuple[str, ...]] = ("float64",)

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._sum = 0  # sum of the values * 2**SCALE

    def _add(self, codes: Codes, sign: int) -> None:
        (values,) = codes
        if sign < 0:
            self._check_revert(self._n, values.shape[0])
        total = self._sum + sign * sum_scaled(values)
        if total < 0:
            raise InvalidInputError("cannot revert pairs that were not counted")
        self._n += sign * values.shape[0]
        self._sum = total

    def _check_codes(self, codes: Codes) -> None:
        finite_codes(codes, "window values")

    def _mean(self) -> float:
        return ratio(self._sum, self._n << SCALE) if self._n else 0.0

    def get(self) -> float:
        """The mean (0.0 before any update)."""
        return self._mean()

    def clone(self) -> Self:
        return type(self)()

    def state_dict(self) -> dict[str, Any]:
        """`n` pairs and their exact `sum` (times 2**1127, as a hexadecimal string)."""
        return {"n": self._n, "sum": encode(self._sum)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != {"n", "sum"}:
            raise InvalidInputError(f"expected state keys ['n', 'sum'], got {sorted(state)}")
        n = state["n"]
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise InvalidInputError(f"n must be an int >= 0, got {n!r}")
        total = decode(state["sum"], "sum")
        if n == 0 and total:
            raise InvalidInputError("sum must be 0 when n is 0")
        self._n, self._sum = int(n), total
