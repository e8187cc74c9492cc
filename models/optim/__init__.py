"""Optimizers and learning-rate schedules for the linear models, with River's update rules.

A model given an optimizer works on a clone of it and checkpoints that clone's state with its
own, so one optimizer object can configure several models.
"""

from __future__ import annotations

from models.optim import schedulers
from models.optim.ada_grad import AdaGrad
from models.optim.adam import Adam
from models.optim.ftrl_proximal import FTRLProximal
from models.optim.optimizer import Optimizer
from models.optim.sgd import SGD

__all__ = ["SGD", "AdaGrad", "Adam", "FTRLProximal", "Optimizer", "schedulers"]
