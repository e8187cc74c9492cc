"""The protocol every anomaly detector follows."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor._state import hyperparameters, unwrap_state
from monitor.exceptions import IncompatibleStateError, InvalidInputError

__all__ = ["AnomalyDetector"]

FloatArray = npt.NDArray[np.float64]


class AnomalyDetector(abc.ABC):
    """Base class of unsupervised anomaly detectors on feature vectors (higher = more anomalous).

    One-by-one methods take a ``dict`` of feature name to value; batch methods take an
    ``(n, d)`` array whose columns are the features in the fixed order. The order is fixed by
    the first input learned from: the insertion order of the first dict, or the column count
    of the first array (then the first dict learned from names the columns, in its insertion
    order). A later input with other feature names or another width raises
    ``InvalidInputError``; so does a NaN or infinite value. Inputs are validated before any
    state changes and are never modified.

    * ``score_one(x)`` / ``score_many(X)`` score with the current state and learn nothing;
    * ``learn_one(x)`` / ``learn_many(X)`` learn and return nothing;
    * ``score_learn_many(X)`` is the streaming hot path: each row is scored with the state
      before it, then learned; it equals ``score_one`` followed by ``learn_one`` row by row.

    Subclasses take hyperparameters only in ``__init__``, keep learned state in private
    attributes set up in ``_reset()`` (which must call ``super()._reset()``) and implement
    ``score_many``, ``learn_many``, ``_get_state`` and ``_set_state``; the other methods have
    correct (slow) defaults built on those.

    Examples
    --------
    >>> import numpy as np
    >>> from monitor.anomaly import RobustZScore
    >>> detector: AnomalyDetector = RobustZScore(warm_up=10)
    >>> detector.learn_many(np.random.default_rng(7).normal(size=(50, 2)))
    >>> detector.n_features, detector.feature_names
    (2, None)
    >>> detector.learn_one({"a": 0.1, "b": -0.2})
    >>> detector.feature_names
    ('a', 'b')

    """

    _feature_names: tuple[str, ...] | None
    _n_features: int

    def _reset(self) -> None:
        """Set up the learned state as for a detector that has seen nothing."""
        self._feature_names = None
        self._n_features = 0

    def reset(self) -> None:
        """Forget everything learned, including the feature order; hyperparameters are kept."""
        self._reset()

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """Feature names in column order, once a dict has been learned from (else None)."""
        return self._feature_names

    @property
    def n_features(self) -> int | None:
        """Number of features, once fixed by the first input learned from (else None)."""
        return self._n_features or None

    @abc.abstractmethod
    def score_many(self, X: npt.ArrayLike) -> FloatArray:
        """Score each row of ``X`` (n, d) with the current state; learn nothing."""

    @abc.abstractmethod
    def learn_many(self, X: npt.ArrayLike) -> None:
        """Learn the rows of ``X`` (n, d) in order."""

    def score_one(self, x: Mapping[str, float]) -> float:
        """Score one feature dict with the current state; learn nothing."""
        return float(self.score_many(self._check_dict(x)[None, :])[0])

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Learn one feature dict."""
        row = self._check_dict(x)
        self.learn_many(row[None, :])
        self._adopt_names(x)

    def score_learn_many(self, X: npt.ArrayLike) -> FloatArray:
        """For each row in order: score it with the state before it, then learn it."""
        M = self._check_matrix(X)
        scores = np.empty(M.shape[0], dtype=np.float64)
        for i in range(M.shape[0]):
            row = M[i : i + 1]
            scores[i] = self.score_many(row)[0]
            self.learn_many(row)
        return scores

    def clone(self) -> Self:
        """Return a fresh detector with the same hyperparameters."""
        return type(self)(**self._get_params())

    def state_dict(self) -> dict[str, Any]:
        """Return the full state: JSON-able scalars and numpy arrays only."""
        state = {
            "feature_names": None if self._feature_names is None else list(self._feature_names),
            "n_features": self._n_features,
        }
        state.update(self._get_state())
        return {"type": type(self).__name__, "params": self._get_params(), "state": state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by ``state_dict`` of a detector with equal hyperparameters.

        Arrays may come back as nested lists (e.g. after JSON). Raises
        ``IncompatibleStateError`` (and changes nothing) if the state does not fit.
        """
        inner = unwrap_state(self, state, self._get_params())
        n_features = inner.get("n_features")
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 0:
            raise IncompatibleStateError(f"bad n_features {n_features!r}")
        names = inner.get("feature_names")
        if names is not None:
            if not isinstance(names, list | tuple) or not all(isinstance(k, str) for k in names):
                raise IncompatibleStateError("feature_names must be a list of str or None")
            if len(names) != n_features or len(set(names)) != n_features:
                raise IncompatibleStateError("feature_names must be n_features distinct names")
            names = tuple(names)
        self._set_state(inner, n_features)
        self._n_features = n_features
        self._feature_names = names

    @abc.abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Return the subclass's learned state (JSON-able scalars and numpy arrays)."""

    @abc.abstractmethod
    def _set_state(self, state: Mapping[str, Any], n_features: int) -> None:
        """Validate the subclass's part of ``state`` completely, then install it."""

    def _get_params(self) -> dict[str, Any]:
        return hyperparameters(self)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        """Hyperparameter sets the conformance suite runs this detector with."""
        yield {}

    def _check_dict(self, x: Mapping[str, float]) -> FloatArray:
        """Return the values of ``x`` in feature order as a float64 vector, or raise."""
        if not (type(x) is dict or isinstance(x, Mapping)) or not x:
            raise InvalidInputError(f"expected a non-empty dict of features, got {x!r}")
        names = self._feature_names
        if names is None:
            if self._n_features and len(x) != self._n_features:
                raise InvalidInputError(f"expected {self._n_features} features, got {len(x)}")
            if not all(isinstance(k, str) for k in x):
                raise InvalidInputError("feature names must be str")
            values = list(x.values())
        else:
            try:
                values = [x[k] for k in names]
            except KeyError:
                values = []
            if len(values) != len(x):  # a missing name, or an extra one
                raise InvalidInputError(f"expected features {list(names)}, got {list(x)}")
        try:
            arr = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"feature values must be numbers: {exc}") from exc
        if arr.ndim != 1 or arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"feature values must be numbers, got {values!r}")
        vec = arr.astype(np.float64, copy=False)
        if not np.isfinite(vec).all():
            raise InvalidInputError("feature values contain NaN or infinity")
        return vec

    def _check_matrix(self, X: npt.ArrayLike) -> FloatArray:
        """Return ``X`` as a finite (n, d) float64 array of the fixed width, or raise."""
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"expected an (n, d) array of numbers: {exc}") from exc
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise InvalidInputError(f"expected an (n, d) array with d >= 1, got shape {arr.shape}")
        if self._n_features and arr.shape[1] != self._n_features:
            raise InvalidInputError(f"expected {self._n_features} columns, got {arr.shape[1]}")
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"expected numbers, got dtype {arr.dtype}")
        M = arr.astype(np.float64, copy=False)
        if not np.isfinite(M).all():
            raise InvalidInputError("X contains NaN or infinity")
        return M

    def _adopt_names(self, x: Mapping[str, float]) -> None:
        """Fix the feature names from a dict that has just been learned from."""
        if self._feature_names is None:
            self._feature_names = tuple(x)
            self._n_features = len(x)
