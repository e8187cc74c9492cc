"""Online scaling to [0, 1] with running minima and maxima."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace
from models.base.transformer import Transformer
from models.exceptions import InvalidInputError

__all__ = ["MinMaxScaler"]

_COMMON_KEYS = frozenset({"feature_names", "n_features", "n_samples_seen"})
_SMALL = 8  # below this many rows a Python loop beats numpy


class MinMaxScaler(Transformer):
    """Scales each feature by its running range: `(x - min) / (max - min)`.

    Reproduces River's `preprocessing.MinMaxScaler` one row at a time: the minimum and maximum
    of the values learned so far (or of the last `window_size` rows), and a feature whose range
    is still 0 scales to 0.0. Transforming uses the current statistics and never updates them;
    values outside the learned range map outside [0, 1]. Before anything is learned every
    feature scales to 0.0 (River would give NaN).

    Parameters
    ----------
    window_size
        If set, the minimum and maximum are those of the last `window_size` rows learned
        (River's `RollingMin` / `RollingMax`); the state then holds those rows.

    Examples
    --------
    >>> import random
    >>> from models.preprocessing import MinMaxScaler
    >>> rng = random.Random(42)
    >>> scaler = MinMaxScaler()
    >>> for _ in range(5):
    ...     x = {"x": rng.uniform(8, 12)}
    ...     scaler.learn_one(x)
    ...     print(round(scaler.transform_one(x)["x"], 6))
    0.0
    0.0
    0.406921
    0.322583
    1.0
    """

    def __init__(self, window_size: int | None = None) -> None:
        if window_size is not None and (
            isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1
        ):
            raise ValueError(f"window_size must be None or an int >= 1, got {window_size!r}")
        self.window_size = window_size
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._count = 0
        self._mins: list[float] = []
        self._maxs: list[float] = []
        self._ranges: list[float] = []
        self._window = np.zeros((self.window_size or 0, 0))
        self._start = 0  # slot of the oldest row once the window is full

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"window_size": 50}
        yield {"window_size": 1}

    def clone(self) -> Self:
        return type(self)(window_size=self.window_size)

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None and len(self._mins) != width:
            self._mins, self._maxs, self._ranges = [0.0] * width, [0.0] * width, [0.0] * width
            if self.window_size is not None:
                self._window = np.zeros((self.window_size, width))

    def _rows(self) -> npt.NDArray[np.float64]:
        """The rows in the window, oldest first."""
        size = self.window_size or 0
        if self._count <= size:
            return self._window[: self._count].copy()
        return np.roll(self._window, -self._start, axis=0)

    def _learn_rows(self, rows: list[list[float]]) -> None:
        if not rows:
            return
        if self.window_size is not None:
            self._learn_window(np.array(rows, dtype=np.float64))
        elif len(rows) < _SMALL:
            mins, maxs = self._mins, self._maxs
            if self._count == 0:
                mins[:], maxs[:] = rows[0], rows[0]
            for row in rows:
                for j, xj in enumerate(row):
                    if xj < mins[j]:
                        mins[j] = xj
                    if xj > maxs[j]:
                        maxs[j] = xj
        else:
            block = np.array(rows, dtype=np.float64)
            lo, hi = block.min(axis=0), block.max(axis=0)
            if self._count:
                lo, hi = np.minimum(lo, self._mins), np.maximum(hi, self._maxs)
            self._mins, self._maxs = lo.tolist(), hi.tolist()
        self._count += len(rows)
        self._ranges = [hi - lo for lo, hi in zip(self._mins, self._maxs, strict=True)]

    def _learn_window(self, block: npt.NDArray[np.float64]) -> None:
        size = self._window.shape[0]
        kept = block[-size:]
        n = min(self._count, size)
        slots = (self._start + n + np.arange(kept.shape[0])) % size
        self._window[slots] = kept
        self._start = (self._start + max(0, n + kept.shape[0] - size)) % size
        filled = self._window[: min(self._count + block.shape[0], size)]
        self._mins, self._maxs = filled.min(axis=0).tolist(), filled.max(axis=0).tolist()

    def _transform_row(self, row: list[float]) -> list[float]:
        if not self._count:
            return [0.0] * len(row)
        return [
            (xj - lo) / d if d else 0.0
            for xj, lo, d in zip(row, self._mins, self._ranges, strict=True)
        ]

    def _transform_matrix(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if not self._count:
            return np.zeros_like(matrix)
        ranges = np.array(self._ranges)
        shifted: npt.NDArray[np.float64] = matrix - np.array(self._mins)
        scaled: npt.NDArray[np.float64] = np.divide(
            shifted, ranges, out=np.zeros_like(shifted), where=ranges != 0.0
        )
        return scaled

    def state_dict(self) -> dict[str, Any]:
        """Feature names, `n_samples_seen` and either `mins` and `maxs` or, with a window, the
        `window` of rows learned, oldest first."""
        state: dict[str, Any] = {**self._space.state(), "n_samples_seen": self._count}
        if self.window_size is None:
            state["mins"] = np.array(self._mins, dtype=np.float64)
            state["maxs"] = np.array(self._maxs, dtype=np.float64)
        else:
            state["window"] = self._rows()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        arrays = ("mins", "maxs") if self.window_size is None else ("window",)
        keys = _COMMON_KEYS | set(arrays)
        if set(state) != keys:
            raise InvalidInputError(f"expected state keys {sorted(keys)}, got {sorted(state)}")
        space = FeatureSpace.from_state(state)
        count = state["n_samples_seen"]
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise InvalidInputError(f"n_samples_seen must be an int >= 0, got {count!r}")
        count, width = int(count), space.width or 0
        shapes: dict[str, tuple[int, ...]] = {"mins": (width,), "maxs": (width,)}
        if self.window_size is not None:
            shapes["window"] = (min(count, self.window_size), width)
        loaded = {}
        for key in arrays:
            array = np.asarray(state[key])
            if array.dtype.kind not in "iuf" or array.shape != shapes[key]:
                raise InvalidInputError(
                    f"{key} must be a float array of shape {shapes[key]}, "
                    f"got {array.dtype} of shape {array.shape}"
                )
            if not np.isfinite(array).all():
                raise InvalidInputError(f"{key} must be finite")
            loaded[key] = array.astype(np.float64)
        if self.window_size is None and (loaded["mins"] > loaded["maxs"]).any():
            raise InvalidInputError("mins must be <= maxs")
        if count and space.width is None:
            raise InvalidInputError("n_samples_seen > 0 needs n_features")
        self._reset()
        self._space = space
        self._allocate()
        if self.window_size is None:
            self._mins, self._maxs = loaded["mins"].tolist(), loaded["maxs"].tolist()
            self._count = count
            self._ranges = [hi - lo for lo, hi in zip(self._mins, self._maxs, strict=True)]
        elif count:
            self._learn_window(loaded["window"])  # oldest first from slot 0
            self._count = count
            self._ranges = [hi - lo for lo, hi in zip(self._mins, self._maxs, strict=True)]
