"""The protocol of learning-rate schedules."""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Scheduler"]


class Scheduler(abc.ABC):
    """A learning rate as a function of the optimizer's iteration count `t` (0 before the
    first step), as River's `optim.base.Scheduler`.

    Schedules hold hyperparameters only, so one object can be shared by several optimizers.

    Examples
    --------
    >>> from models.optim.schedulers import InverseScaling, Scheduler
    >>> schedule = InverseScaling(0.5, power=1.0)
    >>> isinstance(schedule, Scheduler), schedule.get(0), schedule.get(4)
    (True, 0.5, 0.1)
    >>> schedule
    InverseScaling(learning_rate=0.5, power=1.0)
    """

    @abc.abstractmethod
    def get(self, t: int) -> float:
        """The learning rate at iteration `t`."""

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor's arguments, for `repr`."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"
