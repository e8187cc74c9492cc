"""The protocol of online binary classifiers."""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace, check_label, check_labels, check_mask
from models.base.estimator import Estimator

__all__ = ["Classifier"]


class Classifier(Estimator):
    """An online binary classifier with labels 0 and 1.

    The dict methods (`learn_one`, `predict_proba_one`, `predict_one`) mirror River's; the array
    methods give the same results as calling them row by row in order. `predict_learn_many` is
    the streaming hot path: each row is predicted with the state before it is learned
    (test-then-train).

    Examples
    --------
    >>> import numpy as np
    >>> from models import LogisticRegression
    >>> from models.optim import SGD
    >>> from models.base import Classifier
    >>> model = LogisticRegression(optimizer=SGD(0.5))
    >>> isinstance(model, Classifier)
    True
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> y = np.array([1, 0, 1, 0])
    >>> model.predict_learn_many(X, y).round(3).tolist()
    [0.5, 0.501, 0.562, 0.439]
    >>> model.predict_many(X).tolist()
    [1, 0, 1, 0]
    """

    def learn_one(self, x: Mapping[str, float], y: int | bool) -> None:
        """Learn one row with binary label `y` (0/1 or False/True)."""
        row = self._space.encode_one(x)
        label = check_label(y)
        if self._space.names is None:
            self._adopt(FeatureSpace(tuple(x)))
        self._run([row], [label], [True], None)

    def predict_proba_one(self, x: Mapping[str, float]) -> dict[int, float]:
        """`{0: P(y=0), 1: P(y=1)}` for one row; the state is not changed."""
        probas: list[float] = []
        self._run([self._space.encode_one(x)], [False], [False], probas)
        return {0: 1.0 - probas[0], 1: probas[0]}

    def predict_one(self, x: Mapping[str, float]) -> int:
        """The most probable label (0 on a tie)."""
        proba = self.predict_proba_one(x)
        return 1 if proba[1] > proba[0] else 0

    def learn_many(self, X: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Learn each row of `X` (n, d) in order, exactly as `learn_one` would."""
        matrix = self._space.encode_many(X)
        labels = check_labels(y, matrix.shape[0])
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._run(matrix.tolist(), labels, itertools.repeat(True), None)

    @abc.abstractmethod
    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """`(n, 2)` array of `[P(y=0), P(y=1)]` per row; the state is not changed."""

    def predict_many(self, X: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The most probable label of each row (0 on a tie)."""
        proba = self.predict_proba_many(X)
        return (proba[:, 1] > proba[:, 0]).astype(np.int64)

    def predict_learn_many(
        self, X: npt.ArrayLike, y: npt.ArrayLike, learn_mask: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        """Test-then-train over `X` (n, d) in order; returns P(y=1) of each row.

        Row `i` is predicted with the state before learning it; it is then learned if
        `learn_mask[i]` (default: every row). Rows not learned may carry any numeric label,
        e.g. a -1 placeholder. Equal to `predict_proba_one` then `learn_one` row by row.
        """
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        labels = check_labels(y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        probas: list[float] = []
        self._run(matrix.tolist(), labels, itertools.repeat(True) if mask is None else mask, probas)
        return np.array(probas, dtype=np.float64)

    @abc.abstractmethod
    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[bool],
        mask: Iterable[bool],
        probas: list[float] | None,
    ) -> None:
        """For each validated row in order: append P(y=1) to `probas` (when given), then learn
        the row if its `mask` entry is true (the state is already allocated)."""
