"""The AdaGrad optimizer."""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import Any

from models._params import check_real
from models.optim._rates import as_scheduler
from models.optim.optimizer import Optimizer
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["AdaGrad"]


class AdaGrad(Optimizer):
    """AdaGrad: `G += g²`, `w -= lr / sqrt(G + eps) * g` per weight (River's `optim.AdaGrad`).

    Parameters
    ----------
    lr
        Learning rate: a float > 0 or a `Scheduler` of the iteration count.
    eps
        Added to the sum of squared gradients, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from models.optim import AdaGrad
    >>> optimizer = AdaGrad(lr=0.1)
    >>> w = np.zeros(2)
    >>> for g in ([3.0, 0.0], [4.0, 1.0]):
    ...     w = optimizer.step(w, np.array(g))
    >>> w.round(4).tolist(), optimizer.state_dict()["g2"].tolist()
    ([-0.18, -0.1], [25.0, 1.0])
    """

    _slots = ("g2",)
    _nonnegative = frozenset({"g2"})
    _g2: list[float]

    def __init__(self, lr: float | Scheduler = 0.1, eps: float = 1e-8) -> None:
        self.lr = lr
        self.eps = eps
        self._rate = as_scheduler("lr", lr, positive=True)
        self._eps = check_real("eps", eps, strict=True)
        self._reset()

    def _step(self, w: MutableSequence[float], g: Sequence[float]) -> None:
        lr = self._rate.get(self._n_iterations)
        eps = self._eps
        g2 = self._g2
        for j, gj in enumerate(g):
            total = g2[j] + gj**2
            g2[j] = total
            w[j] -= lr / (total + eps) ** 0.5 * gj
        self._n_iterations += 1

    def _params(self) -> dict[str, Any]:
        return {"lr": self.lr, "eps": self.eps}
