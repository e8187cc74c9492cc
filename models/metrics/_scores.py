"""Precision, recall and F1 share their hyperparameters and averaging (internal)."""

from __future__ import annotations

import abc
from typing import ClassVar, Literal, Self

from models.metrics._counts import ConfusionCounts
from models.metrics._pairs import ClassLabel

__all__ = ["Average", "ClassScore", "f_beta"]

Average = Literal["binary", "macro", "micro"]
_AVERAGES = ("binary", "macro", "micro")


def f_beta(p: float, r: float, beta: float = 1.0) -> float | None:
    """River's `FBeta` combination of a precision and a recall (None when 0 / 0)."""
    b2 = beta**2
    try:
        return (1 + b2) * p * r / (b2 * p + r)
    except ZeroDivisionError:
        return None


class ClassScore(ConfusionCounts[float]):
    """A score of a label classifier averaged like River's binary / `Macro*` / `Micro*` metrics.

    `average="binary"` scores the class `pos_label` (labels are compared with `==`);
    `"macro"` averages the per-class scores over the classes seen (River's `Macro*`: classes
    with a non-zero row or column of the confusion matrix, unscored classes counting as 0);
    `"micro"` pools every class (River's `Micro*`; equal to accuracy for precision and recall).
    """

    bigger_is_better: ClassVar[bool | None] = True

    def __init__(self, average: Average = "binary", pos_label: ClassLabel = True) -> None:
        if average not in _AVERAGES:
            raise ValueError(f"average must be one of {list(_AVERAGES)}, got {average!r}")
        if pos_label is None or not isinstance(pos_label, bool | int | str):
            raise ValueError(f"pos_label must be an int, str or bool, got {pos_label!r}")
        self.average = average
        self.pos_label = pos_label
        self._binary = average == "binary"
        self._pos_label = pos_label
        self._reset()

    def clone(self) -> Self:
        return type(self)(average=self.average, pos_label=self.pos_label)

    def get(self) -> float:
        """The score in [0, 1] (0.0 before any update)."""
        if self._binary:
            (_, fp), (fn, tp) = self._counts.tolist()
            return self._binary_score(tp, fp, fn)
        active, diagonal, rows, cols = self._table()
        if self.average == "micro":
            n = sum(rows)
            return self._micro_score(sum(diagonal), n)
        total = 0.0
        for c in active:
            term = self._class_score(diagonal[c], rows[c], cols[c])
            if term is not None:
                total += term
        return total / len(active) if active else 0.0

    @abc.abstractmethod
    def _binary_score(self, tp: int, fp: int, fn: int) -> float:
        """The score of the positive class."""

    @abc.abstractmethod
    def _class_score(self, tp: int, support: int, predicted: int) -> float | None:
        """One class's term of the macro average (None: skipped, i.e. counts as 0)."""

    @abc.abstractmethod
    def _micro_score(self, tp: int, n: int) -> float:
        """The pooled score: `tp` correct out of `n` pairs."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(average={self.average!r}): {self.get():{self._fmt}}"
