"""Léon Bottou's "optimal" learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from models._params import check_real
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["Optimal"]


def _log_gradient(y_pred: float) -> float:
    # River's `optim.losses.Log().gradient(True, y_pred)`.
    if y_pred > 18.0:
        return -math.exp(-y_pred)
    if y_pred < -18.0:
        return -1.0
    return -1.0 / (math.exp(y_pred) + 1.0)


# d loss / d y_pred at y_true = True, for the losses River's schedule is usually given.
_GRADIENTS: dict[str, Callable[[float], float]] = {
    "log": _log_gradient,
    "squared": lambda y_pred: 2.0 * (y_pred - 1.0),
    "hinge": lambda y_pred: -1.0 if y_pred <= 1.0 else 0.0,
}


class Optimal(Scheduler):
    """`1 / (alpha * (t0 + t))`, Bottou's schedule (River's `optim.schedulers.Optimal`).

    As in River (and scikit-learn's `learning_rate="optimal"`), `t0` comes from a typical weight
    `typw = sqrt(1 / sqrt(alpha))`: `eta0 = typw / max(1, loss'(True, -typw))` and
    `t0 = 1 / (eta0 * alpha)`. For the losses offered that derivative is negative, so
    `eta0 = typw` whatever the loss; the loss is kept for fidelity with River's signature.

    Parameters
    ----------
    loss
        The loss the model minimises: `"log"` (LogisticRegression, SoftmaxRegression),
        `"squared"` (LinearRegression) or `"hinge"`.
    alpha
        The regularisation strength the schedule is tuned for, > 0.

    Examples
    --------
    >>> from models.optim.schedulers import Optimal
    >>> schedule = Optimal("log", alpha=1e-4)
    >>> schedule.get(0), round(schedule.get(10_000), 6)
    (10.0, 0.909091)
    """

    def __init__(self, loss: str, alpha: float = 1e-4) -> None:
        if not isinstance(loss, str) or loss not in _GRADIENTS:
            raise ValueError(f"loss must be one of {sorted(_GRADIENTS)}, got {loss!r}")
        self.loss = loss
        self.alpha = alpha
        self._alpha = check_real("alpha", alpha, strict=True)
        typw = math.sqrt(1.0 / math.sqrt(self._alpha))
        eta0 = typw / max(1.0, _GRADIENTS[loss](-typw))
        self._t0 = 1.0 / (eta0 * self._alpha)

    def get(self, t: int) -> float:
        return 1.0 / (self._alpha * (self._t0 + t))

    def _params(self) -> dict[str, Any]:
        return {"loss": self.loss, "alpha": self.alpha}
