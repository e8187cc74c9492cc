"""Online binary logistic regression trained by plain SGD."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._kernels import logistic_sgd, sigmoid
from models._validation import FeatureSpace
from models.base.classifier import Classifier
from models.exceptions import InvalidInputError

__all__ = ["LogisticRegression"]

_STATE_KEYS = frozenset({"feature_names", "n_features", "weights", "intercept"})


def _hyperparameter(name: str, value: object, *, positive: bool, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if number < 0.0 or (positive and number == 0.0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return number


class LogisticRegression(Classifier):
    """Binary logistic regression learned online by SGD on the log loss.

    Reproduces River's `linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=l2,
    intercept_lr=intercept_lr, clip_gradient=clip_gradient)` one row at a time: the gradient is
    computed with the current weights, clipped, then the intercept and the weights take their
    steps. The L2 penalty applies to the weights, not the intercept. Before any learning every
    probability is 0.5.

    Parameters
    ----------
    lr
        Learning rate of the weights.
    l2
        L2 penalty added to each weight's gradient (`l2 * w`).
    intercept_lr
        Learning rate of the intercept; 0 keeps the intercept at 0.
    clip_gradient
        Clips the loss gradient to `[-clip_gradient, clip_gradient]`.

    Examples
    --------
    >>> import random
    >>> from models import LogisticRegression
    >>> rng = random.Random(42)
    >>> model = LogisticRegression(lr=0.1)
    >>> model.predict_proba_one({"a": 1.0, "b": 0.5})
    {0: 0.5, 1: 0.5}
    >>> for _ in range(1000):
    ...     x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}
    ...     model.learn_one(x, x["a"] + 0.5 * x["b"] > 0)
    >>> model.predict_one({"a": 1.0, "b": 0.5})
    1
    >>> round(model.predict_proba_one({"a": 1.0, "b": 0.5})[1], 4)
    0.9974
    """

    def __init__(
        self,
        lr: float = 0.01,
        l2: float = 0.0,
        intercept_lr: float = 0.01,
        clip_gradient: float = 1e12,
    ) -> None:
        self.lr = lr
        self.l2 = l2
        self.intercept_lr = intercept_lr
        self.clip_gradient = clip_gradient
        self._hyper = (
            _hyperparameter("lr", lr, positive=True),
            _hyperparameter("l2", l2, positive=False),
            _hyperparameter("intercept_lr", intercept_lr, positive=False),
            _hyperparameter("clip_gradient", clip_gradient, positive=True, allow_inf=True),
        )
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._weights: list[float] = []
        self._intercept = 0.0

    def clone(self) -> Self:
        return type(self)(
            lr=self.lr,
            l2=self.l2,
            intercept_lr=self.intercept_lr,
            clip_gradient=self.clip_gradient,
        )

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        # Column by column, the same additions in the same order as the one-by-one loop, and
        # the scalar sigmoid: the probabilities are bit-identical to `predict_proba_one`.
        logits = np.zeros(matrix.shape[0])
        for j, wj in enumerate(self._weights):
            logits += matrix[:, j] * wj
        logits += self._intercept
        p = np.array([sigmoid(t) for t in logits.tolist()], dtype=np.float64)
        return np.column_stack([1.0 - p, p])

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._space.state(),
            "weights": np.array(self._weights, dtype=np.float64),
            "intercept": self._intercept,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != _STATE_KEYS:
            raise InvalidInputError(
                f"expected state keys {sorted(_STATE_KEYS)}, got {sorted(state)}"
            )
        space = FeatureSpace.from_state(state)
        weights = np.asarray(state["weights"])
        if weights.dtype.kind not in "iuf" or weights.shape != (space.width or 0,):
            raise InvalidInputError(
                f"weights must be a float array of shape ({space.width or 0},), "
                f"got {weights.dtype} of shape {weights.shape}"
            )
        intercept = state["intercept"]
        if not isinstance(intercept, numbers.Real) or not math.isfinite(intercept):
            raise InvalidInputError(f"intercept must be a finite number, got {intercept!r}")
        if not np.isfinite(weights).all():
            raise InvalidInputError("weights must be finite")
        self._space = space
        self._weights = weights.astype(np.float64).tolist()
        self._intercept = float(intercept)

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
        self._intercept = logistic_sgd(
            self._weights, self._intercept, rows, labels, mask, self._hyper, probas
        )
