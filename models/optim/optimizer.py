"""The protocol of the optimizers that update a linear model's weights."""

from __future__ import annotations

import abc
import numbers
from collections.abc import Mapping, MutableSequence, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.optim.schedulers.scheduler import Scheduler

__all__ = ["Optimizer"]


class Optimizer(abc.ABC):
    """Updates a weight vector from a gradient, with River's update rules (`river.optim`).

    An optimizer holds hyperparameters (given to its constructor, stored under the same names)
    and learned state: the iteration count `n_iterations` and, for adaptive optimizers, one
    value per weight (e.g. Adam's moments), sized by the first step. `state_dict()` /
    `load_state_dict()` checkpoint that state (numpy arrays plus an int) and `clone()` gives a
    fresh optimizer with the same hyperparameters. Models never step the optimizer they are
    given: they work on a clone and checkpoint it with their own state.

    Examples
    --------
    >>> import numpy as np
    >>> from models.optim import SGD
    >>> optimizer = SGD(lr=0.5)
    >>> w = np.array([1.0, -1.0])
    >>> optimizer.step(w, np.array([0.2, -0.4])).tolist()
    [0.9, -0.8]
    >>> optimizer.n_iterations, optimizer.learning_rate
    (1, 0.5)
    >>> optimizer.clone().n_iterations
    0
    """

    # Names of the per-weight state lists, stored as `_<name>` attributes.
    _slots: tuple[str, ...] = ()
    # The slots that can never be negative (sums of squares).
    _nonnegative: frozenset[str] = frozenset()
    _rate: Scheduler

    def _reset(self) -> None:
        self._n_iterations = 0
        for name in self._slots:
            setattr(self, f"_{name}", [])

    @property
    def n_iterations(self) -> int:
        """How many steps were taken."""
        return self._n_iterations

    @property
    def learning_rate(self) -> float:
        """The learning rate at the current iteration (River's `Optimizer.learning_rate`)."""
        return self._rate.get(self._n_iterations)

    def step(self, w: npt.NDArray[np.float64], g: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Update the weights `w` (a float vector, modified in place and returned) with the
        gradient `g` of the same shape. The per-weight state is sized by the first step."""
        if not isinstance(w, np.ndarray) or w.ndim != 1 or w.dtype != np.float64:
            raise InvalidInputError("w must be a 1-D float64 numpy array")
        gradient = np.asarray(g)
        if gradient.shape != w.shape or gradient.dtype.kind not in "iuf":
            raise InvalidInputError(
                f"g must be a numeric array of shape {w.shape}, got shape {gradient.shape}"
            )
        if not np.isfinite(gradient).all():
            raise InvalidInputError("g must be finite")
        self._allocate(w.shape[0])
        values: list[float] = w.tolist()
        self._step(values, gradient.astype(np.float64).tolist())
        w[:] = values
        return w

    def clone(self) -> Self:
        """A fresh optimizer (no state) with the same hyperparameters."""
        return type(self)(**self._params())

    def state_dict(self) -> dict[str, Any]:
        """`n_iterations` and the per-weight state as float arrays (a copy)."""
        state: dict[str, Any] = {"n_iterations": self._n_iterations}
        for name in self._slots:
            state[name] = np.array(getattr(self, f"_{name}"), dtype=np.float64)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`; it is validated before anything is replaced."""
        expected = {"n_iterations", *self._slots}
        if set(state) != expected:
            raise InvalidInputError(
                f"expected optimizer state keys {sorted(expected)}, got {sorted(state)}"
            )
        count = state["n_iterations"]
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise InvalidInputError(f"n_iterations must be an int >= 0, got {count!r}")
        lists = {}
        for name in self._slots:
            array = np.asarray(state[name])
            if array.dtype.kind not in "iuf" or array.ndim != 1:
                raise InvalidInputError(f"optimizer state {name!r} must be a 1-D float array")
            if not np.isfinite(array).all() or (name in self._nonnegative and (array < 0).any()):
                raise InvalidInputError(
                    f"optimizer state {name!r} must be finite"
                    + (" and >= 0" if name in self._nonnegative else "")
                )
            lists[name] = array.astype(np.float64).tolist()
        if len({len(values) for values in lists.values()}) > 1:
            raise InvalidInputError("the optimizer state arrays must have the same length")
        self._n_iterations = int(count)
        for name, values in lists.items():
            setattr(self, f"_{name}", values)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _width(self) -> int | None:
        """The number of weights the per-weight state is sized for (0 before the first step;
        None if the optimizer keeps no per-weight state)."""
        if not self._slots:
            return None
        return len(getattr(self, f"_{self._slots[0]}"))

    def _allocate(self, width: int) -> None:
        """Size the per-weight state to `width` weights (zeros) if it is not sized yet."""
        for name in self._slots:
            values = getattr(self, f"_{name}")
            if len(values) != width:
                if values:
                    raise InvalidInputError(
                        f"the optimizer holds state for {len(values)} weights, got {width}"
                    )
                setattr(self, f"_{name}", [0.0] * width)

    @abc.abstractmethod
    def _step(self, w: MutableSequence[float], g: Sequence[float]) -> None:
        """One update of `w` in place (state already sized), then `n_iterations += 1`."""

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor's arguments."""
