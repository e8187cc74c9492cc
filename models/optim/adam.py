"""The Adam optimizer."""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import Any

from models._params import check_real
from models.optim._rates import as_scheduler
from models.optim.optimizer import Optimizer
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, with River's bias correction folded into the step size (River's `optim.Adam`).

    At step `t` (1-based): `m = beta_1 m + (1 - beta_1) g`, `v = beta_2 v + (1 - beta_2) g²`,
    `w -= lr_t m / (sqrt(v) + eps)` with `lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    `g²` is computed as `g * g`, as River's vector path (used by its linear models) does.

    Parameters
    ----------
    lr
        Learning rate: a float > 0 or a `Scheduler` of the iteration count.
    beta_1
        Decay of the first moment, in [0, 1).
    beta_2
        Decay of the second moment, in [0, 1).
    eps
        Added to `sqrt(v)`, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from models.optim import Adam
    >>> optimizer = Adam(lr=0.1)
    >>> w = optimizer.step(np.zeros(2), np.array([0.5, -3.0]))
    >>> w.round(6).tolist(), optimizer.state_dict()["m"].round(6).tolist()
    ([-0.1, 0.1], [0.05, -0.3])
    """

    _slots = ("m", "v")
    _nonnegative = frozenset({"v"})
    _m: list[float]
    _v: list[float]

    def __init__(
        self,
        lr: float | Scheduler = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.lr = lr
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.eps = eps
        self._rate = as_scheduler("lr", lr, positive=True)
        self._hyper = (
            check_real("beta_1", beta_1, maximum=1.0),
            check_real("beta_2", beta_2, maximum=1.0),
            check_real("eps", eps, strict=True),
        )
        self._reset()

    def _step(self, w: MutableSequence[float], g: Sequence[float]) -> None:
        beta_1, beta_2, eps = self._hyper
        t = self._n_iterations + 1
        lr = self._rate.get(self._n_iterations) * (1 - beta_2**t) ** 0.5
        lr /= 1 - beta_1**t
        keep_1, keep_2 = 1 - beta_1, 1 - beta_2
        m, v = self._m, self._v
        for j, gj in enumerate(g):
            mj = beta_1 * m[j] + keep_1 * gj
            vj = beta_2 * v[j] + keep_2 * (gj * gj)
            m[j] = mj
            v[j] = vj
            w[j] -= lr * mj / (vj**0.5 + eps)
        self._n_iterations = t

    def _params(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta_1": self.beta_1, "beta_2": self.beta_2, "eps": self.eps}
