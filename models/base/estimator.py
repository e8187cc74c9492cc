"""The base every estimator of `models` shares."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Self

from models._validation import FeatureSpace

__all__ = ["Estimator"]


class Estimator(abc.ABC):
    """Hyperparameters in the constructor, learned state behind `state_dict`.

    Subclasses store their hyperparameters under the constructor's argument names and their
    learned state in private attributes set up in `_reset()`, starting with `_space`, the
    `FeatureSpace` fixed by the first input learned.

    Examples
    --------
    >>> from models import LogisticRegression
    >>> from models.optim import SGD
    >>> from models.base import Estimator
    >>> model = LogisticRegression(optimizer=SGD(0.1))
    >>> isinstance(model, Estimator), model.n_features_in_
    (True, None)
    >>> model.learn_one({"a": 1.0, "b": 2.0}, 1)
    >>> model.n_features_in_, model.feature_names_in_
    (2, ('a', 'b'))
    >>> model.clone().n_features_in_ is None
    True
    """

    _space: FeatureSpace

    @property
    def n_features_in_(self) -> int | None:
        """Number of features fixed by the first input learned (None before)."""
        return self._space.width

    @property
    def feature_names_in_(self) -> tuple[str, ...] | None:
        """Feature names fixed by the first dict learned (None before, or if only arrays)."""
        return self._space.names

    @abc.abstractmethod
    def clone(self) -> Self:
        """A fresh, unfitted estimator with the same hyperparameters."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Learned state as numpy arrays and JSON-able scalars and lists (a copy)."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; the state is validated before anything is replaced."""

    @abc.abstractmethod
    def _allocate(self) -> None:
        """Size the learned state to `_space.width` if it is not sized yet."""

    def _adopt(self, space: FeatureSpace) -> None:
        """Fix the feature space from an input that passed validation."""
        self._space.fit(space)
        self._allocate()
