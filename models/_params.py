"""Hyperparameter checks shared by the constructors (internal).

Constructors validate their arguments with these and raise `ValueError` naming the argument, as
River's estimators and the house style expect.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_bool", "check_real"]


def check_real(
    name: str,
    value: object,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    allow_inf: bool = False,
    maximum: float | None = None,
) -> float:
    """Return `value` as a float after checking it is a real number in range.

    The range is `value >= minimum` (`>` if `strict`) and, when given, `value < maximum`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if number < minimum or (strict and number == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    if maximum is not None and number >= maximum:
        raise ValueError(f"{name} must be < {maximum:g}, got {value!r}")
    return number


def check_bool(name: str, value: object) -> bool:
    """Return `value` if it is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return value
