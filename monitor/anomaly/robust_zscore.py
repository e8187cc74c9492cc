"""Largest per-feature z-score against EW mean/variance or windowed median/MAD."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.anomaly._window_stats import median_mad, sliding_sorted_windows
from monitor.anomaly.base import AnomalyDetector, FloatArray
from monitor.exceptions import IncompatibleStateError

__all__ = ["RobustZScore"]

# Rows per block of the batch path; the steady-state kernel is a (_BLOCK, _BLOCK) matrix.
_BLOCK = 128
# Median method: at most this many rows per block, and about this many elements per block
# in the (rows, features, window) arrays of the sliding windows.
_MEDIAN_BLOCK = 64
_MEDIAN_ELEMENTS = 1 << 21
# 1.4826 * MAD estimates the standard deviation of normally distributed data.
_MAD_TO_SD = 1.4826


class RobustZScore(AnomalyDetector):
    """Per-feature z-score anomaly detector: EW mean/variance or sliding median/MAD.

    With ``method="ew"`` (the default) it keeps for each feature ``j`` an exponentially
    weighted (EW) mean ``m_j`` and variance ``v_j``; the score of a feature vector ``x`` is
    ``max_j |x_j - m_j| / sqrt(v_j + eps)``, computed with the state before ``x`` is learned,
    and 0.0 while fewer than ``warm_up`` vectors have been learned.

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

    With ``method="median"`` it keeps the last ``window_size`` learned vectors (fewer at
    first) and scores ``max_j |x_j - med_j| / (1.4826 * MAD_j + eps)`` with each feature's
    exact median and median absolute deviation over that window (even counts average the two
    middle values, as ``np.median``). A few outliers cannot move either statistic, so a burst
    of anomalies does not mask itself as it does with EW; but the scale is that of the bulk of
    the data: on heavy-tailed data the tail scores higher than under EW, whose variance the
    tail inflates (pair it with a ``QuantileThreshold``). The batch paths build every row's
    sorted window from one sort per block and equal the one-by-one path exactly; the cost is
    O(``window_size``) per row and feature, several times the EW method's.

    Parameters
    ----------
    alpha
        Smoothing factor of the EW statistics, in (0, 1) (``method="ew"`` only).
    warm_up
        Number of vectors to learn before scores are non-zero (at least 1).
    eps
        Added to the variance before the square root, or to the scaled MAD (> 0): guards
        constant features.
    method
        ``"ew"`` (exponentially weighted mean and variance) or ``"median"`` (sliding-window
        median and MAD).
    window_size
        Number of most recent vectors the median and MAD are taken over (at least 1;
        ``method="median"`` only).

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
    >>> robust = RobustZScore(method="median", window_size=200)
    >>> scores = robust.score_learn_many(X)
    >>> int(scores.argmax()), round(float(scores[400]), 1), bool(np.median(scores[30:]) < 2.0)
    (400, 10.8, True)

    """

    def __init__(
        self,
        alpha: float = 0.01,
        warm_up: int = 30,
        eps: float = 1e-9,
        method: str = "ew",
        window_size: int = 256,
    ) -> None:
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
        if method not in ("ew", "median"):
            raise ValueError(f"method must be 'ew' or 'median', got {method!r}")
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {window_size!r}")
        self.alpha = alpha
        self.warm_up = warm_up
        self.eps = eps
        self.method = method
        self.window_size = window_size
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0  # vectors learned
        self._mean: FloatArray = np.zeros(0)
        self._var: FloatArray = np.zeros(0)
        # Median method: ring buffer, vector t (0-based) in row t % window_size.
        self._window: FloatArray = np.zeros((0, 0))

    def _fix_width(self, d: int) -> None:
        if not self._n_features:
            self._n_features = d
            if self.method == "ew":
                self._mean = np.zeros(d)
                self._var = np.zeros(d)
            else:
                self._window = np.zeros((self.window_size, d))

    def score_one(self, x: Mapping[str, float]) -> float:
        """Score one feature dict with the current state; learn nothing."""
        if self.method != "ew":
            return super().score_one(x)
        vec = self._check_dict(x)
        if self._n < self.warm_up:
            return 0.0
        return float(np.max(np.abs(vec - self._mean) / np.sqrt(self._var + self.eps)))

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Learn one feature dict."""
        if self.method != "ew":
            super().learn_one(x)
            return
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
        if self.method != "ew":
            med, mad = median_mad(np.sort(self._ordered_window(), axis=0).T)
            return self._median_scores(M, med, mad)
        z = np.abs(M - self._mean) / np.sqrt(self._var + self.eps)
        scores: FloatArray = z.max(axis=1)
        return scores

    def learn_many(self, X: npt.ArrayLike) -> None:
        """Learn the rows of ``X`` (n, d) in order (same as ``learn_one`` row by row)."""
        M = self._check_matrix(X)
        if self.method != "ew":
            self._median_run(M, None)
            return
        for start in range(0, M.shape[0], _BLOCK):
            self._run_block(M[start : start + _BLOCK], None)

    def score_learn_many(self, X: npt.ArrayLike) -> FloatArray:
        """For each row in order: score it with the state before it, then learn it."""
        M = self._check_matrix(X)
        scores = np.zeros(M.shape[0])
        if self.method != "ew":
            self._median_run(M, scores)
            return scores
        for start in range(0, M.shape[0], _BLOCK):
            self._run_block(M[start : start + _BLOCK], scores[start : start + _BLOCK])
        return scores

    def _ordered_window(self) -> FloatArray:
        """The learned vectors in the window, oldest first."""
        if self._n <= self.window_size:
            return self._window[: self._n]
        pos = self._n % self.window_size
        return np.concatenate([self._window[pos:], self._window[:pos]])

    def _median_scores(self, M: FloatArray, med: FloatArray, mad: FloatArray) -> FloatArray:
        z = np.abs(M - med) / (_MAD_TO_SD * mad + self.eps)
        scores: FloatArray = z.max(axis=1)
        return scores

    def _median_run(self, M: FloatArray, scores: FloatArray | None) -> None:
        """Median method: learn the rows of ``M``; write their scores into ``scores`` if given."""
        n, d = M.shape
        if n == 0:
            return
        self._fix_width(d)
        size = self.window_size
        i = 0
        while i < n and self._n < size:  # the window is still filling: one row at a time
            if scores is not None and self._n >= self.warm_up:
                med, mad = median_mad(np.sort(self._window[: self._n], axis=0).T)
                scores[i] = self._median_scores(M[i : i + 1], med, mad)[0]
            self._window[self._n] = M[i]
            self._n += 1
            i += 1
        block = max(1, min(_MEDIAN_BLOCK, _MEDIAN_ELEMENTS // (d * (size + _MEDIAN_BLOCK))))
        while i < n:
            rows = M[i : i + block]
            b = rows.shape[0]
            if scores is not None:
                # Row j of the block is scored against A[j : j + size]: full windows here.
                windows = sliding_sorted_windows(
                    np.concatenate([self._ordered_window(), rows]), size
                )
                med, mad = median_mad(windows)
                part = self._median_scores(rows, med, mad)
                part[: max(self.warm_up - self._n, 0)] = 0.0
                scores[i : i + b] = part
            self._write(rows)
            i += b

    def _write(self, rows: FloatArray) -> None:
        """Append ``rows`` to the ring buffer (only the last ``window_size`` can survive)."""
        size = self.window_size
        keep = rows[-size:]
        slots = (self._n + rows.shape[0] - keep.shape[0] + np.arange(keep.shape[0])) % size
        self._window[slots] = keep
        self._n += rows.shape[0]

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
        if self.method != "ew":
            return {"n": self._n, "window": self._window.copy()}
        return {"n": self._n, "mean": self._mean.copy(), "var": self._var.copy()}

    def _set_state(self, state: Mapping[str, Any], n_features: int) -> None:
        count = state.get("n")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise IncompatibleStateError(f"state['n'] must be an integer >= 0, got {count!r}")
        if count > 0 and n_features == 0:
            raise IncompatibleStateError("a detector that has learned must have features")
        if self.method != "ew":
            try:
                window = np.array(state.get("window"), dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise IncompatibleStateError("state['window'] is not a float array") from exc
            shape = (self.window_size, n_features) if n_features else (0, 0)
            if window.size == 0 and n_features == 0:
                window = np.zeros(shape)
            if window.shape != shape or not np.isfinite(window).all():
                raise IncompatibleStateError(f"state['window'] must be {shape} finite floats")
            self._n = count
            self._window = window
            return
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
        yield {"method": "median"}
        yield {"method": "median", "window_size": 50, "warm_up": 5, "eps": 1e-6}
        yield {"method": "median", "window_size": 7, "warm_up": 20}


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
