"""The protocol every drift detector follows."""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from monitor._state import hyperparameters, unwrap_state
from monitor.exceptions import IncompatibleStateError, InvalidInputError

__all__ = ["DriftDetector"]


class DriftDetector(abc.ABC):
    """Base class of drift detectors.

    A drift detector watches a univariate stream. ``update(value)`` consumes one value and
    ``drift_detected`` tells whether that update signalled a drift; the next update after a
    drift starts from a fresh state (as in River). ``update_many(values)`` is the vectorised
    twin: it returns the 0-based positions in ``values`` where a drift was signalled and leaves
    the detector exactly as the same calls to ``update`` would.

    Subclasses take hyperparameters only in ``__init__`` (stored under the same names), keep
    learned state in private attributes set up in ``_reset()``, and implement ``update``,
    ``_get_state`` and ``_set_state``; they override ``update_many`` with a fast loop.

    ``binary_input`` is True for detectors that read an error indicator (0 = right, 1 = wrong,
    values in [0, 1]) rather than an arbitrary real value.

    Examples
    --------
    >>> from monitor.drift import DDM, PageHinkley
    >>> detector: DriftDetector = PageHinkley(threshold=5.0)
    >>> detector.update_many([0.0] * 50 + [3.0] * 10).tolist()
    [51]
    >>> detector.drift_detected, DDM.binary_input, PageHinkley.binary_input
    (False, True, False)

    """

    binary_input: ClassVar[bool] = False

    _drift_detected: bool

    @property
    def drift_detected(self) -> bool:
        """Whether the last update signalled a drift."""
        return self._drift_detected

    @abc.abstractmethod
    def _reset(self) -> None:
        """Set up the learned state as for a detector that has seen nothing."""

    def reset(self) -> None:
        """Forget everything learned; the hyperparameters are kept."""
        self._reset()

    @abc.abstractmethod
    def update(self, value: float) -> None:
        """Update the detector with one value."""

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values).tolist()
        hits: list[int] = []
        for i, x in enumerate(xs):
            self.update(x)
            if self._drift_detected:
                hits.append(i)
        return np.asarray(hits, dtype=np.intp)

    def clone(self) -> Self:
        """Return a fresh detector with the same hyperparameters."""
        return type(self)(**self._get_params())

    def state_dict(self) -> dict[str, Any]:
        """Return the full state as JSON-able scalars (``{"type", "params", "state"}``)."""
        return {
            "type": type(self).__name__,
            "params": self._get_params(),
            "state": self._get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by ``state_dict`` of a detector with equal hyperparameters.

        Raises ``IncompatibleStateError`` (and changes nothing) if the state is malformed or
        was produced by another detector type or other hyperparameters.
        """
        inner = unwrap_state(self, state, self._get_params())
        self._set_state(inner)

    @abc.abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Return the learned state as JSON-able scalars."""

    @abc.abstractmethod
    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Validate ``state`` completely, then install it."""

    def _get_params(self) -> dict[str, Any]:
        return hyperparameters(self)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        """Hyperparameter sets the conformance suite runs this detector with."""
        yield {}

    @classmethod
    def _check_value(cls, value: float) -> float:
        """Return ``value`` as a float, or raise ``InvalidInputError`` if it is not acceptable."""
        kind = type(value)
        if kind is float:
            x = value
        elif kind is not int and kind is not bool and isinstance(value, str | bytes):
            raise InvalidInputError(f"expected a number, got {value!r}")
        else:
            try:
                x = float(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise InvalidInputError(f"expected a number, got {value!r}") from exc
        if x - x != 0.0:  # NaN or infinity
            raise InvalidInputError(f"expected a finite number, got {value!r}")
        if cls.binary_input and not 0.0 <= x <= 1.0:
            raise InvalidInputError(f"expected an error indicator in [0, 1], got {value!r}")
        return x

    @classmethod
    def _check_values(cls, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return ``values`` as a 1-D float64 array (never a view to write into) or raise."""
        try:
            arr = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"expected a 1-D sequence of numbers: {exc}") from exc
        if arr.ndim != 1:
            raise InvalidInputError(f"expected a 1-D sequence of numbers, got shape {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"expected numbers, got dtype {arr.dtype}")
        xs = arr.astype(np.float64, copy=False)
        if not np.isfinite(xs).all():
            raise InvalidInputError("values contain NaN or infinity")
        if cls.binary_input and not ((xs >= 0.0) & (xs <= 1.0)).all():
            raise InvalidInputError("error indicators must be in [0, 1]")
        return xs

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({params})"


def _float_field(state: Mapping[str, Any], key: str) -> float:
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IncompatibleStateError(f"state[{key!r}] must be a number, got {value!r}")
    if not math.isfinite(value):
        raise IncompatibleStateError(f"state[{key!r}] must be finite, got {value!r}")
    return float(value)


def _optional_float_field(state: Mapping[str, Any], key: str) -> float | None:
    if key in state and state[key] is None:
        return None
    return _float_field(state, key)


def _bool_field(state: Mapping[str, Any], key: str) -> bool:
    value = state.get(key)
    if not isinstance(value, bool):
        raise IncompatibleStateError(f"state[{key!r}] must be a bool, got {value!r}")
    return value


def _check_int(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_float(name: str, value: float, low: float, *, inclusive: bool) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value >= low if inclusive else value > low)
    )
    if not ok:
        op = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be a finite number {op} {low}, got {value!r}")
