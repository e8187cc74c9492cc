"""Exceptions raised by the ``monitor`` package.

Every error the package raises on purpose derives from :class:`MonitorError`, so a caller can
catch the whole family at once. Bad inputs are refused before any detector state changes:

>>> import math
>>> from monitor.drift import PageHinkley
>>> ph = PageHinkley()
>>> try:
...     ph.update(math.nan)
... except InvalidInputError as exc:
...     print(type(exc).__name__, isinstance(exc, ValueError))
InvalidInputError True

"""

from __future__ import annotations

__all__ = ["IncompatibleStateError", "InvalidInputError", "MonitorError"]


class MonitorError(Exception):
    """Root of every error raised by the monitor package."""


class InvalidInputError(MonitorError, ValueError):
    """An input is NaN/inf, non-numeric, out of range or of the wrong length/shape."""


class IncompatibleStateError(MonitorError, ValueError):
    """A state dict is malformed or belongs to another detector type or hyperparameters."""
