"""Online linear regression."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from models._kernels import squared_loss_gradient
from models._linear import GLM
from models._validation import check_targets
from models.base.regressor import Regressor
from models.optim.ada_grad import AdaGrad
from models.optim.adam import Adam
from models.optim.ftrl_proximal import FTRLProximal
from models.optim.optimizer import Optimizer
from models.optim.schedulers.inverse_scaling import InverseScaling
from models.optim.schedulers.scheduler import Scheduler
from models.optim.sgd import SGD

__all__ = ["LinearRegression"]


class LinearRegression(GLM, Regressor):
    """Linear regression on the squared loss, River's `linear_model.LinearRegression`.

    One row at a time, exactly as River: the prediction is `t = w . x + intercept`; learning
    takes the squared-loss derivative `g = 2 (t - y)` (clipped to `clip_gradient`), steps the
    intercept by `intercept_lr(n) * g` (`n` = optimizer steps so far), lets the optimizer step the
    weights on `x * g + l2 * w`, then applies River's cumulative L1 penalty when `l1 > 0`. Scale
    the features (e.g. with a `StandardScaler`) for SGD to converge.

    Mini-batch mode (`mini_batch=True`) changes `learn_many` and `predict_learn_many` only: every
    row of a call is predicted with the state before the call, then the model takes one
    optimizer step on the sum of the rows' gradients (intercept likewise; L2 and L1 penalties
    count once per row). With plain SGD this is the sequential run with the weights frozen for
    the call, so keep `lr * batch size` small enough for the features' scale. The dict methods
    are unchanged.

    `merge` averages models learned apart (e.g. on different partitions); `weights` and
    `intercept` expose the parameters.

    Parameters
    ----------
    optimizer
        Steps the weights (default `SGD(0.01)`); the model works on a clone of it.
    l2
        L2 penalty on the weights (not the intercept).
    l1
        L1 penalty on the weights, River's cumulative-penalty scheme; not with `l2`, nor with
        `FTRLProximal` (which has its own `l1`).
    intercept_init
        Initial intercept.
    intercept_lr
        Learning rate of the intercept, a float >= 0 or a `Scheduler`; 0 freezes it.
    clip_gradient
        Clips the loss derivative to `[-clip_gradient, clip_gradient]`.
    mini_batch
        Whether `learn_many` / `predict_learn_many` take one step per call (see above).

    Examples
    --------
    >>> import random
    >>> from models.linear_regression import LinearRegression
    >>> rng = random.Random(42)
    >>> model = LinearRegression(intercept_lr=0.1)
    >>> for _ in range(2000):
    ...     x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}
    ...     model.learn_one(x, 3.0 * x["a"] - x["b"] + 2.0 + rng.gauss(0, 0.1))
    >>> model.weights.round(1).tolist(), round(model.intercept, 1)
    ([3.0, -1.0], 2.0)
    >>> round(model.predict_one({"a": 1.0, "b": 1.0}), 1)
    4.0
    """

    _gradient = staticmethod(squared_loss_gradient)
    _mean = None
    _means = None

    def __init__(
        self,
        optimizer: Optimizer | None = None,
        l2: float = 0.0,
        l1: float = 0.0,
        intercept_init: float = 0.0,
        intercept_lr: float | Scheduler = 0.01,
        clip_gradient: float = 1e12,
        mini_batch: bool = False,
    ) -> None:
        super().__init__(optimizer, l2, l1, intercept_init, intercept_lr, clip_gradient, mini_batch)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {
            "optimizer": SGD(InverseScaling(0.05)),
            "l2": 0.01,
            "intercept_init": 1.0,
            "clip_gradient": 1.0,
        }
        yield {"optimizer": Adam(0.05), "l1": 0.001, "intercept_lr": 0.1}
        yield {"optimizer": AdaGrad(0.5)}
        yield {"optimizer": FTRLProximal(alpha=0.5)}

    def predict_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self._outputs(self._space.encode_many(X))

    def learn_many(self, X: npt.ArrayLike, y: npt.ArrayLike) -> None:
        if self.mini_batch:
            self._mini_batch(X, y, None, check_targets, predict=False)
        else:
            super().learn_many(X, y)

    def predict_learn_many(
        self, X: npt.ArrayLike, y: npt.ArrayLike, learn_mask: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        if self.mini_batch:
            return self._mini_batch(X, y, learn_mask, check_targets, predict=True)
        return super().predict_learn_many(X, y, learn_mask)

    def _gradients(
        self, t: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return 2.0 * (t - y)
