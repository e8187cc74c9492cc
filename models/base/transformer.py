"""The protocol of online feature transformers."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace
from models.base.estimator import Estimator

if TYPE_CHECKING:
    from models.base.classifier import Classifier
    from models.pipeline import Pipeline

__all__ = ["Transformer"]


class Transformer(Estimator):
    """An online transformer: `learn_one`/`transform_one` and their batch twins.

    The batch methods give the same results as the one-by-one methods called in order. Every
    transformer keeps the feature names of its input, so `transformer | classifier` builds a
    `Pipeline`.

    Examples
    --------
    >>> from models.base import Transformer
    >>> from models.preprocessing import StandardScaler
    >>> scaler = StandardScaler()
    >>> isinstance(scaler, Transformer)
    True
    >>> for value in (1.0, 2.0, 3.0):
    ...     scaler.learn_one({"a": value})
    >>> scaler.transform_one({"a": 3.0})
    {'a': 1.224744871391589}
    """

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Update the statistics with one row."""
        row = self._space.encode_one(x)
        if self._space.names is None:
            self._adopt(FeatureSpace(tuple(x)))
        self._learn_rows([row])

    def transform_one(self, x: Mapping[str, float]) -> dict[str, float]:
        """Transform one row with the current statistics (they are not updated)."""
        row = self._space.encode_one(x)
        names = self._space.names if self._space.names is not None else tuple(x)
        return dict(zip(names, self._transform_row(row), strict=True))

    def learn_many(self, X: npt.ArrayLike) -> None:
        """Learn each row of `X` (n, d) in order, exactly as `learn_one` would."""
        matrix = self._space.encode_many(X)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._learn_rows(matrix.tolist())

    def transform_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Transform each row of `X` (n, d) with the current statistics."""
        return self._transform_matrix(self._space.encode_many(X))

    def __or__(self, other: Transformer | Classifier) -> Pipeline:
        """`transformer | estimator` builds a `Pipeline`."""
        from models.pipeline import Pipeline

        return Pipeline(self, other)

    @abc.abstractmethod
    def _learn_rows(self, rows: list[list[float]]) -> None:
        """Learn validated rows in order (the state is already allocated)."""

    @abc.abstractmethod
    def _transform_row(self, row: list[float]) -> list[float]:
        """Transform one validated row."""

    @abc.abstractmethod
    def _transform_matrix(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Transform a validated matrix, exactly as `_transform_row` on each row."""
