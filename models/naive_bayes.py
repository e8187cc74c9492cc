"""Gaussian naive Bayes for numeric features, learned online."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._tree_labels import batch_labels
from models._validation import FeatureSpace, Label, check_mask
from models.base.multiclass import MultiClassifier
from models.exceptions import InvalidInputError

__all__ = ["GaussianNB"]

_STATE_KEYS = frozenset(
    {"feature_names", "n_features", "classes", "counts", "shift", "sum", "sum_sq"}
)
_PDF_EPS = 10e-10  # River's floor under each density before the log
_SQRT_TAU = math.sqrt(2.0 * math.pi)
_MAX_ROWS = 2048  # rows per pass at most

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class GaussianNB(MultiClassifier):
    """Gaussian naive Bayes: one normal distribution per class and feature.

    Reproduces River's `naive_bayes.GaussianNB`: the class priors are the class frequencies, each
    feature's likelihood is the density of a Gaussian fitted to the class's values (population
    variance), floored by `1e-9` before the log, and the log-likelihoods are normalised by
    log-sum-exp. A feature whose class variance is 0 (one value, or a constant) contributes
    `log(1e-9)`; a class not learned yet has no probability.

    The running mean and variance are kept as shifted sums (count, sum and sum of squares of
    `x - shift`, the shift being the class's first value), which a batch accumulates with the
    same additions in the same order as one row at a time, so `predict_learn_many` equals
    `predict_proba_one` then `learn_one` row by row, bit for bit. They agree with River's Welford
    updates to about 1e-12 relative.

    Examples
    --------
    >>> import random
    >>> from models.naive_bayes import GaussianNB
    >>> rng = random.Random(7)
    >>> model = GaussianNB()
    >>> model.predict_proba_one({"weight": 5.0, "height": 30.0})
    {}
    >>> for _ in range(300):
    ...     animal = rng.choice(["cat", "dog"])
    ...     big = animal == "dog"
    ...     x = {"weight": rng.gauss(25.0 if big else 4.0, 3.0),
    ...          "height": rng.gauss(60.0 if big else 25.0, 6.0)}
    ...     model.learn_one(x, animal)
    >>> model.classes_
    ('dog', 'cat')
    >>> model.predict_one({"weight": 5.0, "height": 30.0})
    'cat'
    >>> round(model.predict_proba_one({"weight": 15.0, "height": 45.0})["dog"], 4)
    0.9804
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._classes = []
        self._class_index = {}
        self._counts: FloatArray = np.zeros(0)
        self._shift: FloatArray = np.zeros((0, 0))
        self._sum: FloatArray = np.zeros((0, 0))
        self._sum_sq: FloatArray = np.zeros((0, 0))

    def clone(self) -> Self:
        return type(self)()

    # --- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._space.state(),
            **self.classes_state(),
            "counts": self._counts.copy(),
            "shift": self._shift.copy(),
            "sum": self._sum.copy(),
            "sum_sq": self._sum_sq.copy(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != _STATE_KEYS:
            raise InvalidInputError(
                f"expected state keys {sorted(_STATE_KEYS)}, got {sorted(state)}"
            )
        space = FeatureSpace.from_state(state)
        if not isinstance(state["classes"], list | tuple):
            raise InvalidInputError("classes must be a list")
        n_classes, width = len(state["classes"]), space.width or 0
        counts = _float_array(state, "counts", (n_classes,))
        shift = _float_array(state, "shift", (n_classes, width))
        sums = _float_array(state, "sum", (n_classes, width))
        sums_sq = _float_array(state, "sum_sq", (n_classes, width))
        if (counts < 0).any() or (counts != np.floor(counts)).any():
            raise InvalidInputError("counts must be non-negative whole numbers")
        if (sums_sq < 0).any():
            raise InvalidInputError("sum_sq must be non-negative")
        self._load_classes(state)  # validates the labels before assigning them
        self._space = space
        self._counts, self._shift, self._sum, self._sum_sq = counts, shift, sums, sums_sq

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None and self._shift.shape[1] != width:
            n_classes = len(self._classes)
            self._shift = np.zeros((n_classes, width))
            self._sum = np.zeros((n_classes, width))
            self._sum_sq = np.zeros((n_classes, width))

    def _add_class(self) -> None:
        width = self._shift.shape[1]
        self._counts = np.append(self._counts, 0.0)
        self._shift = np.vstack([self._shift, np.zeros((1, width))])
        self._sum = np.vstack([self._sum, np.zeros((1, width))])
        self._sum_sq = np.vstack([self._sum_sq, np.zeros((1, width))])

    # --- array API -----------------------------------------------------------------------------

    def learn_many(self, X: npt.ArrayLike, y: Sequence[Label] | npt.ArrayLike) -> None:
        matrix = self._space.encode_many(X)
        labels = batch_labels(self, y, matrix.shape[0], None)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._kernel(matrix, labels(), want=False)

    def predict_learn_many(
        self,
        X: npt.ArrayLike,
        y: Sequence[Label] | npt.ArrayLike,
        learn_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        labels = batch_labels(self, y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        probas = self._kernel(matrix, labels(), want=True)
        assert probas is not None
        return probas

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        if not self._classes:
            return np.zeros((matrix.shape[0], 0))
        return self._predict(
            matrix,
            np.broadcast_to(self._counts, (matrix.shape[0], len(self._classes))),
            np.broadcast_to(self._sum, (matrix.shape[0], *self._sum.shape)),
            np.broadcast_to(self._sum_sq, (matrix.shape[0], *self._sum_sq.shape)),
        )

    # --- kernels -------------------------------------------------------------------------------

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[Label | None],
        mask: Iterable[bool],
        probas: list[list[float]] | None,
    ) -> None:
        indices, known = self._register_rows(labels, mask)
        if not rows:
            return
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
        if self._space.width is None or not self._classes:  # nothing learned: no classes
            if probas is not None:
                probas.extend([] for _ in rows)
            return
        out = self._kernel(matrix, np.array(indices, dtype=np.int64), want=probas is not None)
        if probas is not None and out is not None:
            probas.extend(row[:k] for row, k in zip(out.tolist(), known, strict=True))

    def _kernel(self, X: FloatArray, y: IntArray, *, want: bool) -> FloatArray | None:
        """`_batch` over slices of at most `_MAX_ROWS` rows (any cut gives the same floats),
        so the working memory stays bounded."""
        if X.shape[0] <= _MAX_ROWS:
            return self._batch(X, y, want=want)
        parts = [
            self._batch(X[i : i + _MAX_ROWS], y[i : i + _MAX_ROWS], want=want)
            for i in range(0, X.shape[0], _MAX_ROWS)
        ]
        if not want:
            return None
        out = np.zeros((X.shape[0], len(self._classes)))
        for i, part in zip(range(0, X.shape[0], _MAX_ROWS), parts, strict=True):
            assert part is not None
            out[i : i + part.shape[0], : part.shape[1]] = part
        return out

    def _batch(self, X: FloatArray, y: IntArray, *, want: bool) -> FloatArray | None:
        """Test-then-train over the rows of `X` (class index `y`, -1 = not learned): the
        probabilities of each row with the state before it (if `want`), then the new state.

        Every accumulator is a running sum updated row by row in order (`cumsum` adds exactly
        as a loop would, and adding the zeros of other classes changes nothing), so any split
        of the stream into batches gives the same floats."""
        n_classes = len(self._classes)
        if X.shape[0] == 0 or n_classes == 0:
            return np.zeros((X.shape[0], n_classes)) if want else None
        onehot = (y[:, None] == np.arange(n_classes)) & (y[:, None] >= 0)
        first = onehot.argmax(axis=0)
        fresh = (self._counts == 0) & onehot.any(axis=0)
        shift = self._shift.copy()
        shift[fresh] = X[first[fresh]]
        diff = np.where(onehot[:, :, None], X[:, None, :] - shift[None], 0.0)
        steps = np.concatenate([onehot[:, :, None].astype(np.float64), diff, diff * diff], axis=2)
        start = np.concatenate([self._counts[:, None], self._sum, self._sum_sq], axis=1)
        running = np.cumsum(np.concatenate([start[None], steps]), axis=0)
        width = X.shape[1]
        self._shift = shift
        self._counts = running[-1, :, 0].copy()
        self._sum = running[-1, :, 1 : 1 + width].copy()
        self._sum_sq = running[-1, :, 1 + width :].copy()
        if not want:
            return None
        before = running[:-1]
        return self._predict(
            X, before[:, :, 0], before[:, :, 1 : 1 + width], before[:, :, 1 + width :], shift
        )

    def _predict(
        self,
        X: FloatArray,
        counts: FloatArray,
        sums: FloatArray,
        sums_sq: FloatArray,
        shift: FloatArray | None = None,
    ) -> FloatArray:
        """Probabilities of each row of `X` (n, d) given per-row class counts (n, c) and shifted
        sums (n, c, d), exactly as River's `predict_proba_one` computes them."""
        shift = self._shift if shift is None else shift
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            n = counts[:, :, None]
            mean = shift[None] + sums / n
            variance = (sums_sq - sums * sums / n) / n
            usable = (n > 0) & (variance > 0.0)
            sigma = np.sqrt(np.where(usable, variance, 1.0))
            z = (X[:, None, :] - mean) / sigma
            density = np.where(usable, np.exp(-0.5 * z * z) / _SQRT_TAU / sigma, 0.0)
            log_density = np.log(_PDF_EPS + density)
            total = counts.sum(axis=1, keepdims=True)  # whole numbers: exact in any order
            seen = counts > 0
            features = log_density[:, :, 0].copy()
            for j in range(1, X.shape[1]):
                features += log_density[:, :, j]
            jll = np.where(seen, np.log(counts / total) + features, -np.inf)
            return _softmax(jll, seen)


def _softmax(jll: FloatArray, seen: npt.NDArray[np.bool_]) -> FloatArray:
    """scipy's `logsumexp` as River's `predict_proba_one` uses it, then `exp(jll - lse)`; rows
    without any class seen are all zeros."""
    top = np.max(jll, axis=1, keepdims=True)
    at_top = seen & (jll == top)
    rest = np.zeros(jll.shape[0])
    with np.errstate(invalid="ignore", under="ignore"):
        for c in range(jll.shape[1]):
            rest += np.where(seen[:, c] & ~at_top[:, c], np.exp(jll[:, c] - top[:, 0]), 0.0)
        n_top = np.maximum(at_top.sum(axis=1), 1).astype(np.float64)
        rest = np.where(rest == 0, rest, rest / n_top)
        lse = np.log1p(rest) + np.log(n_top) + top[:, 0]
        return np.where(seen, np.exp(jll - lse[:, None]), 0.0)


def _float_array(state: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> FloatArray:
    value = np.asarray(state[key])
    if value.dtype.kind not in "iuf" or value.shape != shape:
        raise InvalidInputError(
            f"{key} must be a float array of shape {shape}, got {value.dtype} of shape "
            f"{value.shape}"
        )
    array = value.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{key} must be finite")
    return array
