"""Counts of (true label, predicted label) pairs, the state of the label metrics (internal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._labels import LabelIndex
from models.metrics._pairs import ClassLabel, label, positive
from models.metrics.base import Codes, Metric

__all__ = ["ConfusionCounts"]

T = TypeVar("T")


class ConfusionCounts(Metric[T]):
    """A confusion matrix of integer counts, rows = true labels, columns = predictions.

    In multiclass mode (`_binary` false) labels are numbered in the order they were first seen
    and the matrix grows with them. In binary mode it is 2 x 2 over (not `_pos_label`,
    `_pos_label`), labels being compared with `==` as River's `BinaryMetric` does.
    Subclasses set `_binary` and `_pos_label` and then call `_reset()`.
    """

    _code_dtypes: ClassVar[tuple[str, ...]] = ("int64", "int64")
    _binary: bool
    _pos_label: ClassLabel

    def _reset(self) -> None:
        self._labels: LabelIndex | None = None if self._binary else LabelIndex()
        self._counts = np.zeros((self._width(), self._width()), dtype=np.int64)

    def _width(self) -> int:
        return 2 if self._labels is None else len(self._labels)

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        if self._labels is None:
            truth = positive(y_true, self._pos_label)
            pred = positive(y_pred, self._pos_label)
            return truth.astype(np.int64), pred.astype(np.int64)
        return self._labels.encode(y_true, y_pred, register)

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        if self._labels is None:
            pos = self._pos_label
            return np.array([int(label(y_true) == pos)]), np.array([int(label(y_pred) == pos)])
        row, col = self._labels.encode_one(y_true, y_pred, register)
        return np.array([row]), np.array([col])

    def _add(self, codes: Codes, sign: int) -> None:
        rows, cols = codes
        k = self._width()
        if self._counts.shape[0] < k:
            grown = np.zeros((k, k), dtype=np.int64)
            grown[: self._counts.shape[0], : self._counts.shape[1]] = self._counts
            self._counts = grown
        if rows.shape[0] == 1:
            cell = (int(rows[0]), int(cols[0]))
            if sign < 0 and not self._counts[cell]:
                raise InvalidInputError("cannot revert pairs that were not counted")
            self._counts[cell] += sign
            return
        delta = np.bincount(rows * k + cols, minlength=k * k).reshape(k, k)
        if sign < 0:
            if (delta > self._counts).any():
                raise InvalidInputError("cannot revert pairs that were not counted")
            self._counts -= delta
        else:
            self._counts += delta

    def _check_codes(self, codes: Codes) -> None:
        k = self._width()
        for column in codes:
            if column.size and (column.min() < 0 or column.max() >= k):
                raise InvalidInputError(f"label numbers must be in [0, {k})")

    def _empty_like(self) -> Self:
        empty = self.clone()
        if self._labels is not None:
            empty._labels = self._labels.copy()
        empty._counts = np.zeros_like(self._counts)
        return empty

    def _table(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """Active classes (a non-zero row or column, River's `ConfusionMatrix.classes`), and
        the diagonal, row sums and column sums, as Python ints."""
        counts = self._counts
        diagonal: list[int] = counts.diagonal().tolist()
        rows: list[int] = counts.sum(axis=1).tolist()
        cols: list[int] = counts.sum(axis=0).tolist()
        active = [k for k in range(len(rows)) if rows[k] or cols[k]]
        return active, diagonal, rows, cols

    def state_dict(self) -> dict[str, Any]:
        """`labels` (a list in order of first appearance; None in binary mode) and `counts`,
        rows = true labels, columns = predictions."""
        labels = None if self._labels is None else self._labels.state()
        return {"labels": labels, "counts": self._counts.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != {"labels", "counts"}:
            raise InvalidInputError(
                f"expected state keys ['counts', 'labels'], got {sorted(state)}"
            )
        if self._binary:
            if state["labels"] is not None:
                raise InvalidInputError("a binary metric's state has labels None")
            labels = None
        else:
            labels = LabelIndex.from_state(state["labels"])
        k = 2 if labels is None else len(labels)
        counts = np.asarray(state["counts"])
        if counts.dtype.kind not in "iu" or counts.shape != (k, k):
            raise InvalidInputError(
                f"counts must be an int array of shape ({k}, {k}), "
                f"got {counts.dtype} of shape {counts.shape}"
            )
        if (counts < 0).any():
            raise InvalidInputError("counts must be >= 0")
        self._labels = labels
        self._counts = counts.astype(np.int64)
