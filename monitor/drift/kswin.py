"""Kolmogorov-Smirnov windowing (Raab, Heusinger and Schleif, 2020)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift._ks_pvalue import _p_value
from monitor.drift._sampling import _draw_samples
from monitor.drift.base import DriftDetector, _bool_field, _check_int, _float_field
from monitor.exceptions import IncompatibleStateError

__all__ = ["KSWIN"]

_MAX_EXACT = 10000  # scipy's ks_2samp(method="auto") is exact up to this sample size


class KSWIN(DriftDetector):
    """Kolmogorov-Smirnov windowing: a two-sample KS test inside a sliding window.

    A bit-for-bit port of River 0.26's ``river.drift.KSWIN``. The last ``window_size`` values
    are kept; once the window is full, every update draws ``stat_size`` of the older
    ``window_size - stat_size`` values at random (``random.Random(seed).sample``, exactly as
    River does) and compares them with the ``stat_size`` most recent values by a two-sample
    Kolmogorov-Smirnov test. A drift is signalled when the p-value is at most ``alpha`` and
    the statistic exceeds 0.1. The next update after a drift starts from an empty window and a
    freshly seeded generator, exactly as River does.

    The p-value is the one ``scipy.stats.ks_2samp(method="auto")`` returns for two samples of
    ``stat_size`` values, computed here without scipy: the exact distribution of the statistic
    (and scipy's fallback to ``kstwo.sf`` where the exact sum rounds above 1). It depends only
    on ``stat_size`` and the largest gap between the two counts, so it is cached.
    ``update_many`` draws the random samples for a whole batch from one block of generator
    output, then tests every window of the batch at once with numpy.

    Parameters
    ----------
    alpha
        Significance level of the test, in [0, 1]; River advises values below 0.01.
    window_size
        Size of the sliding window.
    stat_size
        Size of the two samples compared; ``window_size`` must be at least twice as large,
        and it is at most 10000 (beyond, scipy switches to an asymptotic distribution).
    seed
        Seed of the generator drawing the random sample (None: fresh entropy on every reset).
    window
        Values that fill the window at the start (the last ``window_size`` are kept).

    Examples
    --------
    The stream of River's own example gives River's answer:

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> kswin = KSWIN(alpha=0.0001, seed=42)
    >>> for i, x in enumerate(stream):
    ...     kswin.update(x)
    ...     if kswin.drift_detected:
    ...         print(f"Change detected at index {i}, input value: {x}")
    ...         print(f"p-value {kswin.p_value:.3g}")
    Change detected at index 1016, input value: 6
    p-value 8.74e-05
    >>> KSWIN(alpha=0.0001, seed=42).update_many(stream).tolist()
    [1016]

    References
    ----------
    Christoph Raab, Moritz Heusinger, Frank-Michael Schleif: Reactive Soft Prototype Computing
    for Concept Drift Streams. Neurocomputing 416: 340-351, 2020.

    """

    def __init__(
        self,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int | None = None,
        window: Iterable[float] | None = None,
    ) -> None:
        ok = not isinstance(alpha, bool) and isinstance(alpha, int | float) and 0 <= alpha <= 1
        if not ok:
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        _check_int("stat_size", stat_size, 1)
        if stat_size > _MAX_EXACT:
            raise ValueError(f"stat_size must be at most {_MAX_EXACT}, got {stat_size!r}")
        _check_int("window_size", window_size, 2 * stat_size)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        if window is not None:
            try:
                window = tuple(float(x) for x in window)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"window must hold numbers: {exc}") from exc
            if not all(math.isfinite(x) for x in window):
                raise ValueError("window must hold finite numbers")
        self.alpha = alpha
        self.window_size = window_size
        self.stat_size = stat_size
        self.seed = seed
        self.window = window
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._p_value = 0.0
        self._window: list[float] = list(self.window[-self.window_size :] if self.window else [])
        self._rng = random.Random(self.seed)

    def _clear(self) -> None:
        """River's reset after a drift: as ``_reset``, but the initial ``window`` is not kept."""
        self._reset()
        self._window = []

    @property
    def p_value(self) -> float:
        """p-value of the last test (0 before the first one)."""
        return self._p_value

    def _get_params(self) -> dict[str, Any]:
        params = super()._get_params()
        if params["window"] is not None:
            params["window"] = list(params["window"])  # JSON-able, and so comparable after JSON
        return params

    # ------------------------------------------------------------------ one value

    def update(self, value: float) -> None:
        """Update with one value."""
        x = self._check_value(value)
        if self._drift_detected:
            self._clear()
        window = self._window
        window.append(x)
        if len(window) > self.window_size:
            del window[0]
        if len(window) < self.window_size:
            self._drift_detected = False
            return
        size, old = self.stat_size, self.window_size - self.stat_size
        picked = sorted([window[i] for i in self._rng.sample(range(old), size)])
        gap = _largest_gap(picked, sorted(window[old:]))
        self._p_value = _p_value(size, gap)
        self._drift_detected = self._p_value <= self.alpha and gap / size > 0.1
        if self._drift_detected:
            self._window = window[old:]

    # ------------------------------------------------------------------ many values

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values)
        hits: list[int] = []
        start = self.window_size + 32  # after a drift: refill the window, then test a little
        block, pos = start, 0
        while pos < len(xs):
            if self._drift_detected:
                self._clear()
            pos += self._advance(xs[pos : pos + block])
            if self._drift_detected:
                hits.append(pos - 1)
                block = start
            else:
                block = min(2 * block, 1024)
        return np.asarray(hits, dtype=np.intp)

    def _advance(self, xs: npt.NDArray[np.float64]) -> int:
        """Update with the values of ``xs`` up to the first drift (included); return how many."""
        size, width = self.stat_size, self.window_size
        old = width - size
        held, m = len(self._window), len(xs)
        skip = max(0, width - 1 - held)  # updates before the window is full: no test
        buf = np.concatenate([np.array(self._window, dtype=np.float64), xs])
        if skip >= m:
            self._window = buf[-width:].tolist()
            self._drift_detected = False
            return m
        starts = np.arange(held + skip + 1 - width, held + m + 1 - width)  # window starts
        rng_state = self._rng.getstate()
        picks, used = _draw_samples(self._rng, len(starts), old, size)
        sample = buf[starts[:, None] + picks]
        recent = np.lib.stride_tricks.sliding_window_view(buf, size)[starts + old]
        gaps = _largest_gaps(sample, recent)
        table = {g: _p_value(size, g) for g in set(gaps.tolist())}
        p_values = np.array([table[g] for g in gaps.tolist()])
        drifts = np.flatnonzero((p_values <= self.alpha) & (gaps / size > 0.1))
        done = int(drifts[0]) + 1 if len(drifts) else len(starts)
        if done < len(starts):  # rewind to where ``done`` calls to ``sample`` leave it
            self._rng.setstate(rng_state)
            self._rng.getrandbits(32 * used[done - 1])
        end = int(starts[done - 1]) + width
        self._p_value = float(p_values[done - 1])
        self._drift_detected = bool(len(drifts))
        self._window = buf[end - size if self._drift_detected else end - width : end].tolist()
        return skip + done

    # ------------------------------------------------------------------ state

    def _get_state(self) -> dict[str, Any]:
        # Fixed-size lists (the window padded with zeros): the state never grows.
        window = self._window + [0.0] * (self.window_size - len(self._window))
        return {
            "window": window,
            "window_length": len(self._window),
            "p_value": self._p_value,
            "rng": list(self._rng.getstate()[1]),
            "drift_detected": self._drift_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        length = state.get("window_length")
        if isinstance(length, bool) or not isinstance(length, int):
            raise IncompatibleStateError("state['window_length'] must be an integer")
        if not 0 <= length <= self.window_size:
            raise IncompatibleStateError(
                f"state['window_length'] must be in [0, {self.window_size}]"
            )
        p_value = _float_field(state, "p_value")
        drift = _bool_field(state, "drift_detected")
        window = state.get("window")
        if not (
            isinstance(window, list | tuple)
            and len(window) == self.window_size
            and all(_is_number(x) and math.isfinite(x) for x in window)
        ):
            raise IncompatibleStateError(f"state['window'] must list {self.window_size} numbers")
        words = state.get("rng")  # Mersenne Twister: 624 words, then the position in them
        if not (
            isinstance(words, list | tuple)
            and len(words) == 625
            and all(isinstance(w, int) and not isinstance(w, bool) for w in words)
            and all(0 <= w < 1 << 32 for w in words[:624])
            and 0 <= words[624] <= 624
        ):
            raise IncompatibleStateError("state['rng'] must be a Mersenne Twister state")
        rng = random.Random()
        rng.setstate((3, tuple(words), None))
        self._window = [float(x) for x in window[:length]]
        self._p_value = p_value
        self._rng = rng
        self._drift_detected = drift

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"seed": 1}
        yield {"alpha": 0.01, "window_size": 60, "stat_size": 20, "seed": 7}
        yield {"alpha": 0.001, "window_size": 500, "stat_size": 40, "seed": 3}
        yield {"seed": 5, "window": tuple(float(i % 7) for i in range(150))}


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float)


# ---------------------------------------------------------------------- KS statistic


def _largest_gap(a: list[float], b: list[float]) -> int:
    """max over x of |#{a <= x} - #{b <= x}|, for two sorted lists of the same length."""
    n = len(a)
    i = j = gap = 0
    while i < n and j < n:
        x = a[i] if a[i] <= b[j] else b[j]
        while i < n and a[i] <= x:
            i += 1
        while j < n and b[j] <= x:
            j += 1
        if abs(i - j) > gap:
            gap = abs(i - j)
    return gap


def _largest_gaps(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """``_largest_gap`` of each row pair (rows need not be sorted)."""
    both = np.concatenate([a, b], axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    ranked = np.take_along_axis(both, order, axis=1)
    counts = np.cumsum(np.where(order < a.shape[1], 1, -1), axis=1)
    last = np.ones(ranked.shape, dtype=bool)  # the last of each run of equal values
    last[:, :-1] = ranked[:, 1:] != ranked[:, :-1]
    return np.max(np.abs(counts) * last, axis=1)  # type: ignore[no-any-return]
