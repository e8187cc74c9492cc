"""A learning rate that decays as a power of the iteration count."""

from __future__ import annotations

import math
from typing import Any

from models._params import check_real
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["InverseScaling"]


class InverseScaling(Scheduler):
    """`learning_rate / (t + 1) ** power` (River's `optim.schedulers.InverseScaling`).

    Parameters
    ----------
    learning_rate
        The rate at iteration 0, >= 0.
    power
        The decay exponent, >= 0.

    Examples
    --------
    >>> from models.optim.schedulers import InverseScaling
    >>> schedule = InverseScaling(1.0)
    >>> [round(schedule.get(t), 4) for t in range(4)]
    [1.0, 0.7071, 0.5774, 0.5]
    """

    def __init__(self, learning_rate: float, power: float = 0.5) -> None:
        self.learning_rate = learning_rate
        self.power = power
        self._rate = check_real("learning_rate", learning_rate)
        self._power = check_real("power", power)

    def get(self, t: int) -> float:
        return self._rate / math.pow(t + 1, self._power)

    def _params(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "power": self.power}
