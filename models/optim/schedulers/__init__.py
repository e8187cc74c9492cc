"""Learning-rate schedules: anywhere a learning rate is expected, a float means `Constant`."""

from __future__ import annotations

from models.optim.schedulers.constant import Constant
from models.optim.schedulers.inverse_scaling import InverseScaling
from models.optim.schedulers.optimal import Optimal
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["Constant", "InverseScaling", "Optimal", "Scheduler"]
