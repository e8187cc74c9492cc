"""The protocol of online regressors."""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace, check_mask, check_target, check_targets
from models.base.estimator import Estimator

__all__ = ["Regressor"]


class Regressor(Estimator):
    """An online regressor: River's dict methods and array twins with the same results.

    Subclasses implement `_run` (the sequential kernel) and `predict_many`; they may override
    the array methods with faster code that gives identical results.

    Examples
    --------
    A regressor that predicts the running mean of the targets it learned:

    >>> import numpy as np
    >>> from models._validation import FeatureSpace
    >>> from models.base import Regressor
    >>> class Mean(Regressor):
    ...     def __init__(self):
    ...         self._reset()
    ...     def _reset(self):
    ...         self._space, self._n, self._m = FeatureSpace(), 0, 0.0
    ...     def _allocate(self):
    ...         pass
    ...     def clone(self):
    ...         return Mean()
    ...     def state_dict(self):
    ...         return {"n": self._n, "m": self._m}
    ...     def load_state_dict(self, state):
    ...         self._n, self._m = state["n"], state["m"]
    ...     def predict_many(self, X):
    ...         return np.full(len(np.asarray(X)), self._m)
    ...     def _run(self, rows, targets, mask, preds):
    ...         for target, learn in zip(targets, mask):
    ...             if preds is not None:
    ...                 preds.append(self._m)
    ...             if learn:
    ...                 self._n += 1
    ...                 self._m += (target - self._m) / self._n
    >>> Mean().predict_learn_many(np.zeros((3, 1)), np.array([2.0, 4.0, 6.0])).tolist()
    [0.0, 2.0, 3.0]
    """

    def learn_one(self, x: Mapping[str, float], y: float) -> None:
        """Learn one row with target `y`."""
        row = self._space.encode_one(x)
        target = check_target(y)
        if self._space.names is None:
            self._adopt(FeatureSpace(tuple(x)))
        self._run([row], [target], [True], None)

    def predict_one(self, x: Mapping[str, float]) -> float:
        """The prediction for one row; the state is not changed."""
        preds: list[float] = []
        self._run([self._space.encode_one(x)], [0.0], [False], preds)
        return preds[0]

    def learn_many(self, X: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Learn each row of `X` (n, d) in order, exactly as `learn_one` would."""
        matrix = self._space.encode_many(X)
        targets = check_targets(y, matrix.shape[0])
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._run(matrix.tolist(), targets, itertools.repeat(True), None)

    @abc.abstractmethod
    def predict_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """`(n,)` predictions; the state is not changed."""

    def predict_learn_many(
        self, X: npt.ArrayLike, y: npt.ArrayLike, learn_mask: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        """Test-then-train over `X` in order: each row is predicted with the state before it is
        learned (if `learn_mask[i]`, default every row). Rows not learned may carry any target."""
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        targets = check_targets(y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        preds: list[float] = []
        self._run(matrix.tolist(), targets, itertools.repeat(True) if mask is None else mask, preds)
        return np.array(preds, dtype=np.float64)

    @abc.abstractmethod
    def _run(
        self,
        rows: list[list[float]],
        targets: Iterable[float],
        mask: Iterable[bool],
        preds: list[float] | None,
    ) -> None:
        """For each validated row in order: append the prediction to `preds` (when given), then
        learn the row if its `mask` entry is true (the state is already allocated)."""
