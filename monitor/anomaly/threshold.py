"""The protocol every threshold policy follows: anomaly scores in, alert flags out."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor._state import hyperparameters, unwrap_state
from monitor.exceptions import InvalidInputError

__all__ = ["ThresholdPolicy"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class ThresholdPolicy(abc.ABC):
    """Base class of policies that turn a stream of anomaly scores into alerts.

    ``update(score)`` compares one score with the threshold as of before it (an alert is
    ``score > threshold``), then learns the score (a policy may move its threshold) and tells
    whether it alerted. ``update_many(scores)`` does the same for each score in order and
    returns the flags as a boolean array; it equals ``update`` called score by score.
    ``threshold`` is the current threshold (``inf`` while a policy cannot alert yet). Scores
    must be finite numbers; a bad one raises ``InvalidInputError`` before any state changes.

    Subclasses take hyperparameters only in ``__init__`` (readable under the same names),
    keep learned state in private attributes set up in ``_reset()``, and implement
    ``update_many``, ``threshold``, ``_get_state`` and ``_set_state``.

    Examples
    --------
    >>> from monitor.anomaly import FixedThreshold
    >>> policy: ThresholdPolicy = FixedThreshold(3.0)
    >>> policy.update_many([1.0, 3.0, 3.5, 0.2]).tolist(), policy.update(9.0), policy.threshold
    ([False, False, True, False], True, 3.0)

    """

    @abc.abstractmethod
    def _reset(self) -> None:
        """Set up the learned state as for a policy that has seen nothing."""

    def reset(self) -> None:
        """Forget every score learned; the hyperparameters are kept."""
        self._reset()

    @property
    @abc.abstractmethod
    def threshold(self) -> float:
        """The threshold the next score is compared with."""

    @abc.abstractmethod
    def update_many(self, scores: npt.ArrayLike) -> BoolArray:
        """For each score in order: flag it if above the threshold, then learn it."""

    def update(self, score: float) -> bool:
        """Flag ``score`` if it is above the threshold, then learn it; return the flag."""
        if isinstance(score, bool) or not isinstance(score, int | float | np.number):
            raise InvalidInputError(f"a score must be a real number, got {score!r}")
        return bool(self.update_many(np.array([score], dtype=np.float64))[0])

    def clone(self) -> Self:
        """Return a fresh policy with the same hyperparameters."""
        return type(self)(**self._get_params())

    def state_dict(self) -> dict[str, Any]:
        """Return the full state: JSON-able scalars and numpy arrays only."""
        return {
            "type": type(self).__name__,
            "params": self._get_params(),
            "state": self._get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by ``state_dict`` of a policy with equal hyperparameters.

        Arrays may come back as nested lists (e.g. after JSON). Raises
        ``IncompatibleStateError`` (and changes nothing) if the state does not fit.
        """
        inner = unwrap_state(self, state, self._get_params())
        self._set_state(inner)

    @abc.abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Return the learned state (JSON-able scalars and numpy arrays)."""

    @abc.abstractmethod
    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Validate ``state`` completely, then install it."""

    def _get_params(self) -> dict[str, Any]:
        return hyperparameters(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({params})"

    @staticmethod
    def _check_scores(scores: npt.ArrayLike) -> FloatArray:
        """Return ``scores`` as a finite 1-D float64 array, or raise ``InvalidInputError``."""
        try:
            arr = np.asarray(scores)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"expected a 1-D array of scores: {exc}") from exc
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise InvalidInputError(f"expected a 1-D array of numbers, got {arr.dtype} {arr.shape}")
        values = arr.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            raise InvalidInputError("scores contain NaN or infinity")
        return values
