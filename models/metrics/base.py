"""The protocol every metric of `models.metrics` follows."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import one, pair

__all__ = ["Codes", "Metric"]

T = TypeVar("T")

Codes = tuple[npt.NDArray[Any], ...]
"""A batch of pairs reduced to what the metric counts: one array per column, one row per pair."""


class Metric(abc.ABC, Generic[T]):
    """An online metric over (label, prediction) pairs, River's `metrics.base.Metric`.

    `update` counts a pair, `revert` takes a counted pair back out, `get` returns the value.
    The batch methods give exactly the results of the one-by-one methods called in order:
    every metric keeps integer counts or exact sums of floats (`models.metrics._exact`), so
    order and batching never change a result, and reverting is exact. `state_dict` holds numpy
    arrays and JSON-able values only.

    Subclasses reduce each pair to a row of *codes* (`_encode`; a hit flag, a label number, an
    absolute error, ...), add or subtract batches of codes (`_add`), and declare the codes'
    dtypes (`_code_dtypes`). `Rolling` keeps the codes of its window in a ring buffer and
    forgets the oldest pairs with `_add(codes, -1)`.

    Examples
    --------
    >>> from models.metrics import MAE
    >>> from models.metrics.base import Metric
    >>> metric = MAE()
    >>> isinstance(metric, Metric)
    True
    >>> for y_true, y_pred in [(3.0, 2.5), (-0.5, 0.0), (2.0, 2.0), (7.0, 8.0)]:
    ...     metric.update(y_true, y_pred)
    >>> metric.get()
    0.5
    >>> metric.revert(7.0, 8.0)
    >>> round(metric.get(), 6)
    0.333333
    """

    bigger_is_better: ClassVar[bool | None] = None
    # True for metrics scored on probabilities rather than labels (evaluate.progressive reads it)
    requires_proba: ClassVar[bool] = False
    """Whether a higher value is better (None where the value is not a score)."""

    _fmt: ClassVar[str] = ".2%"
    _code_dtypes: ClassVar[tuple[str, ...]]

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Count one (label, prediction) pair."""
        self._add(self._encode_one(y_true, y_pred, True), 1)

    def revert(self, y_true: Any, y_pred: Any) -> None:
        """Take back one pair counted earlier (an error if it cannot have been counted)."""
        self._add(self._encode_one(y_true, y_pred, False), -1)

    def update_many(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> None:
        """Count each pair of two 1-D arrays of the same length, as `update` in order would."""
        truth, pred = pair(y_true, y_pred)
        self._add(self._encode(truth, pred, True), 1)

    def revert_many(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> None:
        """Take back each pair of two 1-D arrays, as `revert` on each would."""
        truth, pred = pair(y_true, y_pred)
        self._add(self._encode(truth, pred, False), -1)

    @abc.abstractmethod
    def get(self) -> T:
        """The current value."""

    @abc.abstractmethod
    def clone(self) -> Self:
        """A fresh metric with the same hyperparameters."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The counts, as numpy arrays and JSON-able values (a copy)."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; it is validated before anything is replaced."""

    @abc.abstractmethod
    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        """Validate two 1-D arrays of the same length and reduce each pair to codes.

        Metrics that number labels add unseen ones only if `register` (else it is an error);
        nothing else changes, and nothing at all before the whole batch is valid."""

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        """`_encode` of one pair (metrics taking probability dicts unwrap them here)."""
        return self._encode(one(y_true), one(y_pred), register)

    @abc.abstractmethod
    def _add(self, codes: Codes, sign: int) -> None:
        """Add (`sign=1`) or subtract (`sign=-1`) the codes of a batch. Subtracting checks
        first that the pairs can have been counted, and changes nothing if not."""

    def _check_codes(self, codes: Codes) -> None:
        """Raise unless `codes` (of the declared dtypes and equal lengths) are valid for this
        metric in its current state; used when a `Rolling` state is loaded."""

    def _empty_like(self) -> Self:
        """A metric with no pairs counted that can take this metric's codes (labels kept)."""
        return self.clone()

    def _check_revert(self, n: int, k: int) -> None:
        if k > n:
            raise InvalidInputError(f"cannot revert {k} pairs: only {n} were counted")

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.get():{self._fmt}}"


def finite_codes(codes: Codes, what: str) -> None:
    """Raise unless every code is finite and >= 0 (errors, squared errors, losses)."""
    for column in codes:
        if not (np.isfinite(column).all() and (column >= 0).all()):
            raise InvalidInputError(f"{what} must be finite and >= 0")
