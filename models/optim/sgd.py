"""Plain stochastic gradient descent."""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import Any

from models.optim._rates import as_scheduler
from models.optim.optimizer import Optimizer
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["SGD"]


class SGD(Optimizer):
    """Plain SGD: `w -= lr * g` (River's `optim.SGD`).

    Parameters
    ----------
    lr
        Learning rate: a float > 0 or a `Scheduler` of the iteration count.

    Examples
    --------
    >>> import numpy as np
    >>> from models.optim import SGD
    >>> from models.optim.schedulers import InverseScaling
    >>> optimizer = SGD(InverseScaling(1.0, power=1.0))
    >>> w = np.zeros(2)
    >>> for _ in range(3):
    ...     w = optimizer.step(w, np.array([1.0, -2.0]))
    >>> w.round(4).tolist(), round(optimizer.learning_rate, 4)
    ([-1.8333, 3.6667], 0.25)
    """

    def __init__(self, lr: float | Scheduler = 0.01) -> None:
        self.lr = lr
        self._rate = as_scheduler("lr", lr, positive=True)
        self._reset()

    def _step(self, w: MutableSequence[float], g: Sequence[float]) -> None:
        lr = self._rate.get(self._n_iterations)
        for j, gj in enumerate(g):
            w[j] -= lr * gj
        self._n_iterations += 1

    def _params(self) -> dict[str, Any]:
        return {"lr": self.lr}
