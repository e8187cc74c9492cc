"""Largest per-feature z-score against exponentially weighted means and variances."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.anomaly.base import AnomalyDetector, FloatArray
from monitor.exceptions import IncompatibleStateError

__all__ = ["RobustZScore"]

# Rows per block of the batch path; the steady-state kernel is a (_BLOCK, _BLOCK) matrix.
_BLOCK = 128


class RobustZScore(AnomalyDetector):
    """Per-feature z-score anomaly detector with exponentially weighted (EW) statistics.

    For each feature ``j`` it keeps an EW mean ``m_j`` and variance ``v_j``; the score of a
    feature vector ``x`` is ``max_j |x_j - m_j| / sqrt(v_j + eps)``, computed with the state
    before ``x`` is learned, and 0.0 while fewer than ``warm_up`` vectors have been learned.

    The ``t``-th learned vector updates each feature with the smoothing factor
    ``a = max(alpha, 1 / t)`` (West's / Finch's incremental form, which keeps ``v >= 0``)::

        d = x - m;  m = m + a * d;  v = (1 - a) * (v + a * d * d)

    So the first vector sets ``m = x`` and ``v = 0``; the first ``1 / alpha`` vectors give the
    exact running mean and (population) variance, with no bias towards the starting point;
    after that the statistics forget at rate ``alpha`` (a memory of about ``1 / alpha``
    vectors). A feature that has been constant scores ``|x_j - m_j| / sqrt(eps)``.

    Every learned value moves the statistics, outliers included: a 10-sigma value adds about
    ``100 * alpha`` variances to its feature, so an outlier learned shortly before another
    lowers the second one's score for the next ~``1 / alpha`` vectors.

    The batch paths solve the two linear recurrences in blocks of rows, centred on the
    current mean: a product with a fixed decay matrix once ``a = alpha``, a prefix scan
    before. They agree with the one-by-one path to rounding (1e-12 on well-scaled data).

    Parameters
    ----------
    alpha
        Smoothing factor of the EW statistics, in (0, 1).
    warm_up
        Number of vectors to learn before scores are non-zero (at least 1).
    eps
        Added to the variance before the square root (> 0): guards constant features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> X = rng.normal(loc=[0.0, 10.0, -5.0], scale=[1.0, 2.0, 0.5], size=(500, 3))
    >>> X[400, 1] += 20.0  # a 10-sigma outlier in the second feature
    >>> detector = RobustZScore()
    >>> scores = detector.score_learn_many(X)
    >>> float(scores[:30].max()), int(scores.argmax()), bool(scores[400] > 6.0)
    (0.0, 400, True)
    >>> x = {"a": 0.0, "b": 10.0, "c": -5.0}
    >>> detector.score_one(x) < 1.0, detector.score_one({"a": 8.0, "b": 10.0, "c": -5.0}) > 6.0
    (True, True)

    """

    def __init__(self, alpha: float = 0.01, warm_up: int = 30, eps: float = 1e-9) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if isinstance(warm_up, bool) or not isinstance(warm_up, int) or warm_up < 1:
            raise ValueError(f"warm_up must be an integer >= 1, got {warm_up!r}")
        if (
            isinstance(eps, bool)
            or not isinstance(eps, int | float)
            or not (math.isfinite(eps) and eps > 0.0)
        ):
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
        self.alpha = alpha
        self.warm_up = warm_up
        self.eps = eps
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0  # vectors learned
        self._mean: FloatArray = np.zeros(0)
        self._var: FloatArray = np.zeros(0)

    def _fix_width(self, d: int) -> None:
        if not self._n_features:
            self._n_features = d
            self._mean = np.zeros(d)
            self._var = np.zeros(d)

    def score_one(self, x: Mapping[str, float]) -> float:
        """Score one feature dict with the current state; learn nothing."""
        vec = self._check_dict(x)
        if self._n < self.warm_up:
            return 0.0
        return float(np.max(np.abs(vec - self._mean) / np.sqrt(self._var + self.eps)))

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Learn one feature dict."""
        vec = self._check_dict(x)
        self._fix_width(vec.shape[0])
        self._adopt_names(x)
        self._n += 1
        a = max(self.alpha, 1.0 / self._n)
        diff = vec - self._mean
        self._mean = self._mean + a * diff
        self._var = (1.0 - a) * (self._var + a * diff * diff)

    def score_many(self, X: npt.ArrayLike) -> FloatArray:
        """Score each row of ``X`` (n, d) with the current state; learn nothing."""
        M = self._check_matrix(X)
        if self._n < self.warm_up:
            return np.zeros(M.shape[0])
        z = np.abs(M - self._mean) / np.sqrt(self._var + self.eps)
        scores: FloatArray = z.max(axis=1)
        return scores

    def learn_many(self, X: npt.ArrayLike) -> None:
        """Learn the rows of ``X`` (n, d) in order (same as ``learn_one`` row by row)."""
        M = self._check_matrix(X)
        for start in range(0, M.shape[0], _BLOCK):
            self._run_block(M[start : start + _BLOCK], None)

    def score_learn_many(self, X: npt.ArrayLike) -> FloatArray:
        """For each row in order: score it with the state before it, then learn it."""
        M = self._check_matrix(X)
        scores = np.zeros(M.shape[0])
        for start in range(0, M.shape[0], _BLOCK):
            self._run_block(M[start : start + _BLOCK], scores[start : start + _BLOCK])
        return scores

    def _run_block(self, M: FloatArray, scores: FloatArray | None) -> None:
        """Learn the rows of ``M`` in order; write their scores into ``scores`` if given."""
        n, d = M.shape
        if n == 0:
            return
        self._fix_width(d)
        n0 = self._n
        var0 = self._var
        # Work relative to a centre near the data so rounding scales with the spread of the
        # values, not their magnitude. With nothing learned, the first row's factor c is 0.
        center = self._mean if n0 > 0 else M[0]
        Xc = M - center
        if 1.0 / (n0 + 1) <= self.alpha:
            # Steady state: every row uses a = alpha, so both recurrences are one product
            # with the lower-triangular decay matrix W[t, u] = (1 - alpha) ** (t - u).
            a = self.alpha
            c = 1.0 - a
            W, powers = _decay_kernel(c, _BLOCK)
            W = W[:n, :n]
            Y = a * (W @ Xc)  # centred mean after each row
            prev_mean = np.empty_like(Y)
            prev_mean[0] = 0.0
            prev_mean[1:] = Y[:-1]
            diff = Xc - prev_mean
            V = (c * a) * (W @ (diff * diff)) + powers[:n, None] * var0
        else:
            counts = np.arange(n0 + 1, n0 + n + 1, dtype=np.float64)
            a_t = np.maximum(self.alpha, 1.0 / counts)
            c_t = 1.0 - a_t
            # Centred mean after each row: y_t = c_t * y_{t-1} + a_t * xc_t, from y = 0.
            Y = _linear_scan(c_t, a_t[:, None] * Xc, None)
            prev_mean = np.empty_like(Y)
            prev_mean[0] = 0.0
            prev_mean[1:] = Y[:-1]
            diff = Xc - prev_mean
            # Variance after each row: v_t = c_t * v_{t-1} + c_t * a_t * diff_t ** 2.
            V = _linear_scan(c_t, (c_t * a_t)[:, None] * (diff * diff), var0)
        if scores is not None:
            first = max(self.warm_up - n0, 0)  # rows scored with >= warm_up vectors learned
            if first < n:
                prev_var = np.empty((n - first, d))
                if first == 0:
                    prev_var[0] = var0
                    prev_var[1:] = V[: n - 1]
                else:
                    prev_var[:] = V[first - 1 : n - 1]
                z = np.abs(diff[first:]) / np.sqrt(prev_var + self.eps)
                scores[first:] = z.max(axis=1)
        self._mean = center + Y[-1]
        self._var = V[-1].copy()
        self._n = n0 + n

    def _get_state(self) -> dict[str, Any]:
        return {"n": self._n, "mean": self._mean.copy(), "var": self._var.copy()}

    def _set_state(self, state: Mapping[str, Any], n_features: int) -> None:
        count = state.get("n")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise IncompatibleStateError(f"state['n'] must be an integer >= 0, got {count!r}")
        arrays = []
        for key in ("mean", "var"):
            try:
                arr = np.array(state.get(key), dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise IncompatibleStateError(f"state[{key!r}] is not a float array") from exc
            if arr.shape != (n_features,) or not np.isfinite(arr).all():
                raise IncompatibleStateError(f"state[{key!r}] must be {n_features} finite floats")
            arrays.append(arr)
        mean, var = arrays
        if (var < 0.0).any():
            raise IncompatibleStateError("state['var'] must be >= 0")
        if count > 0 and n_features == 0:
            raise IncompatibleStateError("a detector that has learned must have features")
        self._n = count
        self._mean = mean
        self._var = var

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"alpha": 0.05, "warm_up": 5, "eps": 1e-6}


@functools.lru_cache(maxsize=16)
def _decay_kernel(c: float, size: int) -> tuple[FloatArray, FloatArray]:
    """Return ``W`` with ``W[t, u] = c ** (t - u)`` for ``u <= t`` (else 0) and ``c ** (t + 1)``.

    ``W[:n, :n] @ b`` is the solution of ``y_t = c * y_{t-1} + b_t`` from ``y = 0`` and
    ``powers[:n]`` carries the starting value. Read-only: the cache shares them.
    """
    steps = np.arange(size, dtype=np.float64)
    lag = steps[:, None] - steps[None, :]
    W = np.where(lag >= 0.0, np.power(c, np.maximum(lag, 0.0)), 0.0)
    powers = np.power(c, steps + 1.0)
    W.setflags(write=False)
    powers.setflags(write=False)
    return W, powers


def _linear_scan(c: FloatArray, b: FloatArray, y0: FloatArray | None) -> FloatArray:
    """Return ``y`` (n, d) with ``y_t = c_t * y_{t-1} + b_t`` and ``y_{-1} = y0`` (0 if None).

    Hillis-Steele prefix scan over the affine maps ``y -> c_t * y + b_t``: log2(n) vectorised
    passes. Every weight is a product of factors in [0, 1], so rounding errors stay at a few
    ulps of the inputs' magnitude.
    """
    C = c[:, None].copy()
    B = b.copy()
    n = B.shape[0]
    k = 1
    while k < n:
        B[k:] = B[k:] + C[k:] * B[:-k]
        C[k:] = C[k:] * C[:-k]
        k *= 2
    if y0 is not None:
        B += C * y0
    return B
