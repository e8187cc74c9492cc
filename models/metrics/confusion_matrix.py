"""Confusion matrix over the labels seen."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from models.metrics._counts import ConfusionCounts
from models.metrics._pairs import ClassLabel

__all__ = ["ConfusionMatrix"]


class ConfusionMatrix(ConfusionCounts[dict[ClassLabel, dict[ClassLabel, int]]]):
    """Counts of each (true label, predicted label) pair, River's `metrics.ConfusionMatrix`.

    `get()` returns a nested dict `{true label: {predicted label: count}}`, dense over
    `labels`; `matrix` is the same as a `(k, k)` int array (rows = true labels, columns =
    predictions, in the order of `labels`). `labels` are the classes with a non-zero row or
    column (River's `ConfusionMatrix.classes`), in the order they were first seen; a label
    whose pairs were all reverted (e.g. by `Rolling`) drops out of them. Labels are ints,
    strs, bools or None, compared like dict keys (True and 1 are one label).

    Examples
    --------
    >>> from models.metrics import ConfusionMatrix
    >>> cm = ConfusionMatrix()
    >>> cm.update_many(["cat", "ant", "cat", "cat", "ant", "bird"],
    ...                ["ant", "ant", "cat", "cat", "ant", "cat"])
    >>> cm.labels
    ('cat', 'ant', 'bird')
    >>> cm.matrix.tolist()
    [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    >>> cm.get()["bird"]
    {'cat': 1, 'ant': 0, 'bird': 0}
    """

    def __init__(self) -> None:
        self._binary = False
        self._pos_label = None
        self._reset()

    def clone(self) -> Self:
        return type(self)()

    def _active(self) -> list[int]:
        return self._table()[0]

    @property
    def labels(self) -> tuple[ClassLabel, ...]:
        """The classes with at least one pair counted, in the order first seen."""
        assert self._labels is not None
        names = self._labels.labels
        return tuple(names[k] for k in self._active())

    @property
    def matrix(self) -> npt.NDArray[np.int64]:
        """`(k, k)` counts over `labels`: rows = true labels, columns = predictions (a copy)."""
        active = self._active()
        result: npt.NDArray[np.int64] = self._counts[np.ix_(active, active)].copy()
        return result

    def get(self) -> dict[ClassLabel, dict[ClassLabel, int]]:
        """`{true label: {predicted label: count}}` over `labels`."""
        labels, rows = self.labels, self.matrix.tolist()
        return {t: dict(zip(labels, row, strict=True)) for t, row in zip(labels, rows, strict=True)}

    def __repr__(self) -> str:
        labels = [str(label) for label in self.labels]
        if not labels:
            return "ConfusionMatrix: empty"
        rows = self.matrix.tolist()
        width = max(len(s) for s in labels + [str(c) for row in rows for c in row])
        lines = [" " * width + " " + " ".join(s.rjust(width) for s in labels)]
        for name, row in zip(labels, rows, strict=True):
            lines.append(name.rjust(width) + " " + " ".join(str(c).rjust(width) for c in row))
        return "\n".join(lines)
