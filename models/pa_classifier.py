"""Online passive-aggressive binary classification (Crammer et al., 2006), as River runs it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._kernels import sigmoid
from models._validation import FeatureSpace
from models.base.classifier import Classifier
from models.pa_regressor import (
    _check_pa_hyperparameters,
    _linear_many,
    _linear_state,
    _load_linear_state,
    _merge_linear,
    _squared_norm,
    _step_size,
)

__all__ = ["PAClassifier"]


def _pa_classification(
    model: PAClassifier,
    rows: Iterable[Sequence[float]],
    labels: Iterable[bool],
    mask: Iterable[bool],
    probas: list[float] | None,
) -> None:
    weights = model._weights
    intercept = model._intercept
    C, mode, learn_intercept = model._hyper
    for row, y, learn in zip(rows, labels, mask, strict=False):
        t = 0.0
        for wj, xj in zip(weights, row, strict=False):
            t += xj * wj
        t += intercept
        if probas is not None:
            probas.append(sigmoid(t))
        if not learn:
            continue
        loss = 1.0 - t if y else 1.0 + t  # River's hinge loss, max(1 - y_pm * t, 0)
        if not loss > 0.0:
            continue  # a zero step: River adds 0.0 to every weight, which changes nothing
        step = _step_size(mode, C, loss, _squared_norm(row))
        if not y:
            step = -step
        for j, xj in enumerate(row):
            weights[j] += step * xj
        if learn_intercept:
            intercept += step
    model._intercept = intercept


class PAClassifier(Classifier):
    """Passive-aggressive binary classification: a linear model corrected just enough on each
    sample to classify it with a margin of 1.

    Reproduces River 0.26's `linear_model.PAClassifier` one row at a time. With the label
    mapped to `s = +1` (for 1) or `-1` (for 0) and the margin `t = w . x + b`, the hinge loss is
    `max(1 - s * t, 0)`; a row with loss 0 leaves the model alone (passive), otherwise the
    weights (and the intercept) move by `s * tau * x` (aggressive), where `tau` is
    `loss / |x|^2` (mode 0), `min(C, loss / |x|^2)` (mode 1) or `loss / (|x|^2 + 1 / (2 C))`
    (mode 2), and `|x|` does not count the intercept. P(y=1) is River's sigmoid of the margin,
    so it is 0.5 for every row before any learning.

    Parameters
    ----------
    C
        Aggressiveness: the largest step (mode 1) or the inverse slack penalty (mode 2).
    mode
        0 (PA), 1 (PA-I) or 2 (PA-II).
    learn_intercept
        Whether the intercept takes steps too (otherwise it stays 0).

    Examples
    --------
    >>> import random
    >>> from models.pa_classifier import PAClassifier
    >>> rng = random.Random(7)
    >>> model = PAClassifier(C=0.1, mode=1)
    >>> model.predict_proba_one({"a": 1.0, "b": -1.0})
    {0: 0.5, 1: 0.5}
    >>> correct = 0
    >>> for _ in range(1000):
    ...     x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}
    ...     y = int(x["a"] - x["b"] > 0.2)
    ...     correct += model.predict_one(x) == y
    ...     model.learn_one(x, y)
    >>> correct
    962
    >>> round(model.predict_proba_one({"a": 1.0, "b": -1.0})[1], 3)
    0.999
    """

    _hyper: tuple[float, int, bool]

    def __init__(self, C: float = 1.0, mode: int = 1, learn_intercept: bool = True) -> None:
        C_, mode_ = _check_pa_hyperparameters(C, mode, learn_intercept)
        self.C: float = C
        self.mode: int = mode
        self.learn_intercept: bool = learn_intercept
        self._hyper = (C_, mode_, learn_intercept)
        self._reset()

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"mode": 0}
        yield {"C": 0.01, "mode": 2, "learn_intercept": False}

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._weights: list[float] = []
        self._intercept = 0.0

    def clone(self) -> Self:
        return type(self)(C=self.C, mode=self.mode, learn_intercept=self.learn_intercept)

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        margins = _linear_many(self, X)
        p = np.array([sigmoid(t) for t in margins.tolist()], dtype=np.float64)
        return np.column_stack([1.0 - p, p])

    def merge(self, others: Sequence[Self], weights: Sequence[float] | None = None) -> Self:
        """A new model whose weights and intercept are the weighted average of this model's and
        `others`' (e.g. models learned on different partitions of a stream).

        `weights` holds one weight per model, this one first (default: equal). Models not
        fitted yet count as all zeros; the others must all be of this type and fitted on the
        same features, else `InvalidInputError`. The hyperparameters are this model's; no model
        is changed.
        """
        return _merge_linear(self, others, weights, self.clone())

    def state_dict(self) -> dict[str, Any]:
        return _linear_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _load_linear_state(self, state)

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None and len(self._weights) != width:
            self._weights = [0.0] * width

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[bool],
        mask: Iterable[bool],
        probas: list[float] | None,
    ) -> None:
        _pa_classification(self, rows, labels, mask, probas)
