"""Online standardisation with running means and variances."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._kernels import welford
from models._params import check_bool
from models._validation import FeatureSpace
from models.base.transformer import Transformer
from models.exceptions import InvalidInputError

__all__ = ["StandardScaler"]

_STATE_KEYS = frozenset({"feature_names", "n_features", "n_samples_seen", "means", "variances"})


class StandardScaler(Transformer):
    """Scales each feature to zero mean and unit variance with running statistics.

    Reproduces River's `preprocessing.StandardScaler` one row at a time: Welford's running mean
    and population variance, and a feature whose variance is still 0 scales to 0.0. Transforming
    uses the current statistics and never updates them.

    Mini-batch mode (`mini_batch=True`) changes `learn_many` only: it folds the whole matrix into
    the statistics at once with the exact pairwise formula of Chan et al. (batch mean and
    variance, then combined), which equals the row-by-row result up to rounding. In a pipeline
    whose model is in mini-batch mode, the scaler learns each batch this way.

    Parameters
    ----------
    with_std
        Whether to divide by the standard deviation (otherwise only the mean is removed).
    mini_batch
        Whether `learn_many` updates the statistics with one vectorised batch formula.

    Examples
    --------
    >>> import random
    >>> from models.preprocessing import StandardScaler
    >>> rng = random.Random(42)
    >>> scaler = StandardScaler()
    >>> for _ in range(1000):
    ...     scaler.learn_one({"x": rng.gauss(10, 2), "y": rng.gauss(-5, 0.5)})
    >>> {k: round(v, 3) for k, v in scaler.transform_one({"x": 12.0, "y": -5.0}).items()}
    {'x': 1.004, 'y': 0.02}
    """

    def __init__(self, with_std: bool = True, mini_batch: bool = False) -> None:
        self.with_std = check_bool("with_std", with_std)
        self.mini_batch = check_bool("mini_batch", mini_batch)
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._count = 0
        self._means: list[float] = []
        self._variances: list[float] = []
        self._stds: list[float] = []

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"with_std": False}

    def clone(self) -> Self:
        return type(self)(with_std=self.with_std, mini_batch=self.mini_batch)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._space.state(),
            "n_samples_seen": self._count,
            "means": np.array(self._means, dtype=np.float64),
            "variances": np.array(self._variances, dtype=np.float64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != _STATE_KEYS:
            raise InvalidInputError(
                f"expected state keys {sorted(_STATE_KEYS)}, got {sorted(state)}"
            )
        space = FeatureSpace.from_state(state)
        count = state["n_samples_seen"]
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise InvalidInputError(f"n_samples_seen must be an int >= 0, got {count!r}")
        arrays = []
        for key in ("means", "variances"):
            array = np.asarray(state[key])
            if array.dtype.kind not in "iuf" or array.shape != (space.width or 0,):
                raise InvalidInputError(
                    f"{key} must be a float array of shape ({space.width or 0},), "
                    f"got {array.dtype} of shape {array.shape}"
                )
            if not np.isfinite(array).all():
                raise InvalidInputError(f"{key} must be finite")
            arrays.append(array.astype(np.float64).tolist())
        if any(v < 0.0 for v in arrays[1]):
            raise InvalidInputError("variances must be >= 0")
        self._space = space
        self._count = int(count)
        self._means, self._variances = arrays
        self._refresh_stds()

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None and len(self._means) != width:
            self._means = [0.0] * width
            self._variances = [0.0] * width
            self._stds = [0.0] * width

    def _refresh_stds(self) -> None:
        # River divides by `v ** 0.5`, which is not always bit-equal to `math.sqrt(v)`.
        self._stds = [v**0.5 if v else 0.0 for v in self._variances]

    def learn_many(self, X: npt.ArrayLike) -> None:
        if not self.mini_batch:
            super().learn_many(X)
            return
        matrix = self._space.encode_many(X)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._learn_matrix(matrix)

    def _learn_matrix(self, matrix: npt.NDArray[np.float64]) -> None:
        """Learn a validated matrix: Chan et al.'s batch update in mini-batch mode, else row by
        row."""
        if not self.mini_batch:
            self._learn_rows(matrix.tolist())
            return
        n_b = matrix.shape[0]
        if n_b == 0:
            return
        n_a = self._count
        n = n_a + n_b
        # Moments of the batch shifted by its first row: a constant column gets exactly its
        # value as mean and 0.0 as variance (as with Welford), and large offsets cancel first.
        # A matrix-vector product sums faster than .mean(axis=0).
        shift = matrix[0]
        shifted = matrix - shift
        share = np.full(n_b, 1.0 / n_b)
        offsets = share @ shifted
        batch_means = shift + offsets
        means = np.array(self._means)
        delta = batch_means - means
        self._means = (means + delta * (n_b / n)).tolist()
        if self.with_std:
            deviations = shifted - offsets
            m2 = np.array(self._variances) * n_a + (share @ (deviations * deviations)) * n_b
            m2 += delta * delta * (n_a * n_b / n)
            self._variances = (m2 / n).tolist()
            self._refresh_stds()
        self._count = n

    def _learn_rows(self, rows: list[list[float]]) -> None:
        self._count = welford(self._count, self._means, self._variances, rows, self.with_std)
        if self.with_std:
            self._refresh_stds()

    def _transform_row(self, row: list[float]) -> list[float]:
        if not self._means:
            return [0.0] * len(row) if self.with_std else list(row)
        if not self.with_std:
            return [xj - mj for xj, mj in zip(row, self._means, strict=True)]
        return [
            (xj - mj) / sj if sj else 0.0
            for xj, mj, sj in zip(row, self._means, self._stds, strict=True)
        ]

    def _transform_matrix(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if not self._means:
            return np.zeros_like(matrix) if self.with_std else matrix.copy()
        centred: npt.NDArray[np.float64] = matrix - np.array(self._means)
        if not self.with_std:
            return centred
        stds = np.array(self._stds)
        zero = stds == 0.0
        scaled: npt.NDArray[np.float64] = centred / np.where(zero, 1.0, stds)
        if zero.any():
            scaled[:, zero] = 0.0
        return scaled
