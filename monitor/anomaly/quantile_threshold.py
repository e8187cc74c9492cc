"""An alert threshold that tracks a high quantile of the recent anomaly scores."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.anomaly.threshold import BoolArray, FloatArray, ThresholdPolicy
from monitor.exceptions import IncompatibleStateError

__all__ = ["QuantileThreshold"]

# Scores per block of the batch path; its pairwise comparisons are (_BLOCK, _BLOCK).
_BLOCK = 256


class QuantileThreshold(ThresholdPolicy):
    """Alert on scores above the ``q``-quantile of the last ``window_size`` scores (exact).

    With ``m`` scores in the window (``min(seen, window_size)``), the threshold is their
    ``k``-th smallest, ``k = min(ceil(q * (m + 1)), m)``, and a score alerts if it is strictly
    above it: the split-conformal rule, so on a stationary (exchangeable) stream of distinct
    scores a score alerts with probability ``(m + 1 - k) / (m + 1)``, i.e. at most ``1 - q``
    and within ``1 / (m + 1)`` of it (choose ``window_size >= q / (1 - q)``). Ties make alerts
    rarer: a score equal to the threshold does not alert. The threshold is ``inf`` (no alerts)
    until ``warm_up`` scores have been learned. Every score is learned, alerting or not.

    The window is exact, not a sketch (P-square and friends drift on non-stationary streams
    and cannot be restored bit-for-bit): a ring buffer of the scores plus a sorted copy.
    ``update_many`` flags a block of scores at once, as the count of window scores below each
    score (a binary search in the sorted copy, corrected for the scores that leave and enter
    the window within the block) compared with ``k``; it equals ``update`` score by score.
    Memory: ``2 * window_size`` floats.

    Parameters
    ----------
    q
        The quantile, in (0, 1): the target alert rate is ``1 - q``.
    window_size
        Number of most recent scores the quantile is taken over (at least 1).
    warm_up
        Number of scores to learn before the first alert is possible (1 to ``window_size``).

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.random.default_rng(5).exponential(size=100_000)
    >>> policy = QuantileThreshold(q=0.99, window_size=2_000, warm_up=500)
    >>> alerts = policy.update_many(scores)
    >>> round(float(alerts.mean()), 4), bool(alerts[:500].any())
    (0.0099, False)
    >>> k = int(np.ceil(0.99 * 2_001))  # the 1981st smallest of the last 2,000 scores
    >>> policy.threshold == float(np.sort(scores[-2_000:])[k - 1]), round(policy.threshold, 2)
    (True, 4.37)

    """

    def __init__(self, q: float = 0.999, window_size: int = 10_000, warm_up: int = 1_000) -> None:
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
            raise ValueError(f"q must be in (0, 1), got {q!r}")
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {window_size!r}")
        if (
            isinstance(warm_up, bool)
            or not isinstance(warm_up, int)
            or not 1 <= warm_up <= window_size
        ):
            raise ValueError(f"warm_up must be an integer in [1, window_size], got {warm_up!r}")
        self.q = q
        self.window_size = window_size
        self.warm_up = warm_up
        self._reset()

    def _reset(self) -> None:
        self._n = 0  # scores learned
        self._ring: FloatArray = np.zeros(self.window_size)  # score t in slot t % window_size
        self._sorted: FloatArray = np.zeros(0)  # the scores in the window, sorted

    @property
    def threshold(self) -> float:
        """The ``k``-th smallest score in the window (``inf`` during warm-up)."""
        m = min(self._n, self.window_size)
        if m < self.warm_up:
            return math.inf
        return float(self._sorted[self._rank(np.array([m]))[0] - 1])

    def update_many(self, scores: npt.ArrayLike) -> BoolArray:
        """For each score in order: flag it if above the threshold, then learn it."""
        values = self._check_scores(scores)
        alerts = np.zeros(values.shape[0], dtype=bool)
        for start in range(0, values.shape[0], _BLOCK):
            alerts[start : start + _BLOCK] = self._run_block(values[start : start + _BLOCK])
        return alerts

    def _rank(self, m: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``k = min(ceil(q * (m + 1)), m)`` for window sizes ``m`` (a hair of slack for
        rounding, so that e.g. q = 0.99, m = 99 gives exactly k = 99)."""
        k = np.ceil(self.q * (m + 1) - 1e-9).astype(np.int64)
        rank: npt.NDArray[np.int64] = np.clip(k, 1, m)
        return rank

    def _run_block(self, s: FloatArray) -> BoolArray:
        """Flag and learn a block of scores."""
        b, size = s.shape[0], self.window_size
        count = min(self._n, size)  # scores in the window before the block
        oldest = self._ordered()[: min(count, max(0, count + b - size))]  # leave in the block
        j = np.arange(b)
        dropped = np.minimum(count, np.maximum(0, count + j - size))  # old, gone before j
        m = np.minimum(count + j, size)  # window size when score j arrives
        below = np.searchsorted(self._sorted, s, side="left")  # old window scores < s_j
        if oldest.shape[0]:
            gone = (oldest[None, :] < s[:, None]) & (np.arange(oldest.shape[0]) < dropped[:, None])
            below -= gone.sum(axis=1)
        # New scores in score j's window: the block's scores j - size .. j - 1.
        lag = j[:, None] - j[None, :]
        earlier = (s[None, :] < s[:, None]) & (lag > 0) & (lag <= size)
        below += earlier.sum(axis=1)
        alerts: BoolArray = (m >= self.warm_up) & (below >= self._rank(m))
        self._learn(s, oldest)
        return alerts

    def _learn(self, s: FloatArray, oldest: FloatArray) -> None:
        """Put ``s`` in the ring and the sorted copy, and take ``oldest`` out of the latter."""
        kept = self._sorted
        if oldest.shape[0]:
            out = np.sort(oldest)
            pos = np.searchsorted(kept, out, side="left")
            pos += np.arange(out.shape[0]) - np.searchsorted(out, out, side="left")  # repeats
            kept = np.delete(kept, pos)
        survivors = s[-self.window_size :]  # the block's scores still in the window after it
        new = np.sort(survivors)
        self._sorted = np.insert(kept, np.searchsorted(kept, new, side="left"), new)
        first = self._n + s.shape[0] - survivors.shape[0]
        self._ring[(first + np.arange(survivors.shape[0])) % self.window_size] = survivors
        self._n += s.shape[0]

    def _ordered(self) -> FloatArray:
        """The scores in the window, oldest first."""
        if self._n <= self.window_size:
            return self._ring[: self._n]
        pos = self._n % self.window_size
        return np.concatenate([self._ring[pos:], self._ring[:pos]])

    def _get_state(self) -> dict[str, Any]:
        return {"n": self._n, "window": self._ring.copy()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        count = state.get("n")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise IncompatibleStateError(f"state['n'] must be an integer >= 0, got {count!r}")
        try:
            ring = np.array(state.get("window"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise IncompatibleStateError("state['window'] is not a float array") from exc
        if ring.shape != (self.window_size,) or not np.isfinite(ring).all():
            raise IncompatibleStateError(
                f"state['window'] must be {self.window_size} finite floats"
            )
        self._n = count
        self._ring = ring
        self._sorted = np.sort(self._ordered())

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"q": 0.9, "window_size": 50, "warm_up": 10}
        yield {"q": 0.5, "window_size": 1, "warm_up": 1}
