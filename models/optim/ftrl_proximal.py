"""The FTRL-Proximal optimizer."""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence
from typing import Any

from models._params import check_real
from models.optim.optimizer import Optimizer

__all__ = ["FTRLProximal"]


class FTRLProximal(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013), as River's `optim.FTRLProximal`.

    Per weight, before using the gradient: if `|z| > l1`, set
    `w = -(z - sign(z) l1) / ((beta + sqrt(n)) / alpha + l2)` (else `w` keeps its value, as in
    River); then `s = (sqrt(n + g²) - sqrt(n)) / alpha`, `z += g - s w`, `n += g²`. It has its own
    L1/L2 penalties and no learning-rate schedule, so `learning_rate` is not defined (a linear
    model's `l1` cannot be combined with it).

    Parameters
    ----------
    alpha
        Step-size numerator, > 0.
    beta
        Step-size smoothing, >= 0.
    l1
        L1 penalty, >= 0.
    l2
        L2 penalty, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from models.optim import FTRLProximal
    >>> optimizer = FTRLProximal(alpha=0.5, l2=0.0)
    >>> w = np.zeros(2)
    >>> for g in ([1.0, 0.1], [1.0, -0.1]):
    ...     w = optimizer.step(w, np.array(g))
    >>> w.round(4).tolist(), optimizer.state_dict()["n"].round(4).tolist()
    ([-0.25, -0.0455], [2.0, 0.02])
    """

    _slots = ("z", "n")
    _nonnegative = frozenset({"n"})
    _z: list[float]
    _n: list[float]

    def __init__(
        self, alpha: float = 0.05, beta: float = 1.0, l1: float = 0.0, l2: float = 1.0
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.l1 = l1
        self.l2 = l2
        self._hyper = (
            check_real("alpha", alpha, strict=True),
            check_real("beta", beta),
            check_real("l1", l1),
            check_real("l2", l2),
        )
        self._reset()

    @property
    def learning_rate(self) -> float:
        raise AttributeError("FTRLProximal has no learning rate (it is driven by alpha and beta)")

    def _step(self, w: MutableSequence[float], g: Sequence[float]) -> None:
        alpha, beta, l1, l2 = self._hyper
        z, n = self._z, self._n
        for j in range(len(g)):
            zj = z[j]
            if abs(zj) > l1:
                w[j] = -(((beta + n[j] ** 0.5) / alpha + l2) ** -1) * (zj - math.copysign(l1, zj))
        for j, gj in enumerate(g):
            nj = n[j]
            s = ((nj + gj**2) ** 0.5 - nj**0.5) / alpha
            z[j] += gj - s * w[j]
            n[j] = nj + gj**2
        self._n_iterations += 1

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "l1": self.l1, "l2": self.l2}
