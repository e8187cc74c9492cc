"""Accuracy over the whole stream."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import hits
from models.metrics.base import Codes, Metric

__all__ = ["Accuracy"]


class Accuracy(Metric[float]):
    """Fraction of predictions equal to their label, over every pair seen.

    Matches River's `metrics.Accuracy` (0.0 before any update). Labels of any type compare
    with `==`. `update_many` equals calling `update` on each pair in order.

    Examples
    --------
    >>> from models.metrics import Accuracy
    >>> metric = Accuracy()
    >>> for y_true, y_pred in [(1, 1), (0, 1), (1, 1), (0, 0), (1, 0)]:
    ...     metric.update(y_true, y_pred)
    >>> metric.get()
    0.6
    >>> metric
    Accuracy: 60.00%
    """

    bigger_is_better: ClassVar[bool | None] = True
    _code_dtypes: ClassVar[tuple[str, ...]] = ("bool",)

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._n_correct = 0

    def update(self, y_true: object, y_pred: object) -> None:
        """Count one (label, prediction) pair."""
        self._n += 1
        self._n_correct += bool(y_true == y_pred)

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        return (hits(y_true, y_pred),)

    def _add(self, codes: Codes, sign: int) -> None:
        (matches,) = codes
        k, correct = matches.shape[0], int(np.count_nonzero(matches))
        if sign < 0:
            self._check_revert(self._n, k)
            if correct > self._n_correct or k - correct > self._n - self._n_correct:
                raise InvalidInputError("cannot revert pairs that were not counted")
        self._n += sign * k
        self._n_correct += sign * correct

    def get(self) -> float:
        """The current accuracy in [0, 1]."""
        return self._n_correct / self._n if self._n else 0.0

    def clone(self) -> Self:
        return type(self)()

    def state_dict(self) -> dict[str, Any]:
        """Counts, JSON-able."""
        return {"n": self._n, "n_correct": self._n_correct}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`, validated first."""
        if set(state) != {"n", "n_correct"}:
            raise InvalidInputError("expected state keys ['n', 'n_correct']")
        counts = [state["n"], state["n_correct"]]
        if any(isinstance(c, bool) or not isinstance(c, numbers.Integral) for c in counts):
            raise InvalidInputError(f"n and n_correct must be ints, got {counts}")
        n, n_correct = (int(c) for c in counts)
        if not 0 <= n_correct <= n:
            raise InvalidInputError(f"need 0 <= n_correct <= n, got {n_correct} and {n}")
        self._n, self._n_correct = n, n_correct
