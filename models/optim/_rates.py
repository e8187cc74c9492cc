"""Turning a learning-rate argument into a schedule (internal)."""

from __future__ import annotations

import numbers

from models._params import check_real
from models.optim.schedulers.constant import Constant
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["as_scheduler"]


def as_scheduler(name: str, value: object, *, positive: bool) -> Scheduler:
    """`value` itself if it is a `Scheduler`, else `Constant(value)` after checking that it is
    a finite real number >= 0 (> 0 if `positive`); raises `ValueError` naming `name`."""
    if isinstance(value, Scheduler):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number or a Scheduler, got {value!r}")
    return Constant(check_real(name, value, strict=positive))
