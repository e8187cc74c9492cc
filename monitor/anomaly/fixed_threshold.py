"""A constant alert threshold on anomaly scores."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy.typing as npt

from monitor.anomaly.threshold import BoolArray, ThresholdPolicy
from monitor.exceptions import IncompatibleStateError

__all__ = ["FixedThreshold"]


class FixedThreshold(ThresholdPolicy):
    """Alert on every score strictly above a constant ``threshold``; nothing is learned.

    Parameters
    ----------
    threshold
        The constant threshold (a finite number).

    Examples
    --------
    >>> import numpy as np
    >>> from monitor.anomaly import RobustZScore
    >>> X = np.random.default_rng(3).normal(size=(300, 2))
    >>> X[250, 0] = 12.0
    >>> policy = FixedThreshold(threshold=6.0)
    >>> alerts = policy.update_many(RobustZScore().score_learn_many(X))
    >>> np.flatnonzero(alerts).tolist(), policy.threshold
    ([250], 6.0)

    """

    def __init__(self, threshold: float) -> None:
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
        ):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        self._threshold = threshold
        self._reset()

    def _reset(self) -> None:
        pass  # nothing is learned

    @property
    def threshold(self) -> float:
        """The constant threshold."""
        return self._threshold

    def update_many(self, scores: npt.ArrayLike) -> BoolArray:
        """Flag each score above the threshold."""
        alerts: BoolArray = self._check_scores(scores) > self._threshold
        return alerts

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        if state:
            raise IncompatibleStateError(f"FixedThreshold has no state, got keys {list(state)}")
