"""A constant learning rate."""

from __future__ import annotations

from typing import Any

from models._params import check_real
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["Constant"]


class Constant(Scheduler):
    """Always the same learning rate (River's `optim.schedulers.Constant`).

    A float given where a schedule is expected (an optimizer's `lr`, a model's `intercept_lr`)
    means `Constant(value)`.

    Parameters
    ----------
    learning_rate
        The rate, >= 0 (0 freezes what it drives, e.g. the intercept).

    Examples
    --------
    >>> from models.optim.schedulers import Constant
    >>> Constant(0.1).get(0), Constant(0.1).get(1000)
    (0.1, 0.1)
    """

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self._rate = check_real("learning_rate", learning_rate)

    def get(self, t: int) -> float:
        return self._rate

    def _params(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}
