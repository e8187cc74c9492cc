"""ADaptive WINdowing (Bifet and Gavaldà, 2007)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift._adwin_batch import _TWO_THIRDS, _any_cut, _Floats, _formed, _insert
from monitor.drift._adwin_native import NativeBuckets, native_buckets
from monitor.drift.base import (
    DriftDetector,
    _bool_field,
    _check_float,
    _check_int,
    _float_field,
)
from monitor.exceptions import IncompatibleStateError

__all__ = ["ADWIN"]

_MAX_ROWS = 60  # rows of buckets in a state dict (row i holds blocks of 2**i values)


class ADWIN(DriftDetector):
    """ADWIN: an adaptive window whose two halves are compared at every cut point.

    A bit-for-bit port of River 0.26's ``river.drift.ADWIN`` (its Rust ``AdaptiveWindowing``
    helper). The window is compressed into rows of buckets, row ``i`` summarising blocks of
    ``2**i`` consecutive values (their sum and their sum of squared deviations); a row holding
    ``max_buckets + 1`` buckets merges its two oldest into the next row. Every ``clock``
    values, once the window is longer than ``grace_period``, each cut of the window into an
    older part ``W0`` (``n0`` values) and a newer part ``W1`` (``n1`` values), both at least
    ``min_window_length`` long, is tested: with ``m = 1/(n0 - l + 1) + 1/(n1 - l + 1)`` and
    ``d = ln(2 ln(width) / delta)``, the cut holds if
    ``|mean(W0) - mean(W1)| > sqrt(2 m variance/width d) + 2/3 d m``. While some cut holds the
    oldest bucket is dropped and a drift is signalled. The next update after a drift starts
    from an empty window, exactly as River does.

    ``update_many`` reaches the same answers without walking the buckets value by value: the
    bucket sums of a batch are built level by level with numpy, and every check of the batch
    is evaluated at once on the buckets the window holds at that moment.

    Parameters
    ----------
    delta
        Significance level of the test, in (0, 1); the smaller, the fewer false alarms.
    clock
        Test for a change every ``clock`` values.
    max_buckets
        Buckets a row keeps before its two oldest are merged (at least 2).
    min_window_length
        Minimum length of either part of a cut for the cut to be tested.
    grace_period
        Length the window must exceed before any test.

    Examples
    --------
    The stream of River's own example gives River's answer:

    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> adwin = ADWIN()
    >>> for i, x in enumerate(stream):
    ...     adwin.update(x)
    ...     if adwin.drift_detected:
    ...         print(f"Change detected at index {i}, input value: {x}")
    ...         print(f"width {adwin.width:.0f}, estimation {adwin.estimation:.3f}")
    Change detected at index 1023, input value: 4
    width 32, estimation 4.500
    >>> ADWIN().update_many(stream).tolist()
    [1023]

    References
    ----------
    Albert Bifet, Ricard Gavaldà: Learning from Time-Changing Data with Adaptive Windowing.
    SDM 2007: 443-448.

    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        _check_float("delta", delta, 0.0, inclusive=False)
        if delta >= 1.0:
            raise ValueError(f"delta must be in (0, 1), got {delta!r}")
        _check_int("clock", clock, 1)
        # With one bucket per row, rows empty out and River's helper panics when it drops a
        # bucket from an empty row (seen on a mean shift); with two or more they never do.
        _check_int("max_buckets", max_buckets, 2)
        _check_int("min_window_length", min_window_length, 1)
        _check_int("grace_period", grace_period, 0)
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._n = 0  # values seen since the last reset (River's tick)
        self._width = 0.0
        self._total = 0.0
        self._variance = 0.0  # sum of squared deviations from the window's mean
        # Row i: bucket sums and bucket variances, oldest first; row 0 always exists.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        # while set, the C loop's arrays hold the buckets and the lists above are stale
        self._native: NativeBuckets | None = None

    def _lists(self) -> None:
        """Bring the buckets back from the C loop's arrays into the lists."""
        if self._native is not None:
            self._totals, self._variances = self._native.lists()
            self._native = None

    @property
    def width(self) -> float:
        """Number of values in the window."""
        return self._width

    @property
    def total(self) -> float:
        """Sum of the values in the window."""
        return self._total

    @property
    def variance(self) -> float:
        """Sum of squared deviations from the window's mean (River's ``variance``)."""
        return self._variance

    @property
    def estimation(self) -> float:
        """Mean of the window (0 when it is empty)."""
        return self._total / self._width if self._width else 0.0

    # ------------------------------------------------------------------ one value

    def update(self, value: float) -> None:
        """Update with one value."""
        x = self._check_value(value)
        self._lists()
        if self._drift_detected:
            self._reset()
        totals = self._totals
        totals[0].append(x)
        self._variances[0].append(0.0)
        width = self._width + 1.0
        if width > 1.0:
            d = x - self._total / (width - 1.0)
            self._variance += (width - 1.0) * d * d / width
        self._total += x
        self._width = width
        if len(totals[0]) > self.max_buckets:
            self._compress()
        self._n += 1
        self._drift_detected = (
            self._n % self.clock == 0 and width > self.grace_period and self._detect()
        )

    def _compress(self) -> None:
        totals, variances, cap = self._totals, self._variances, self.max_buckets
        i = 0
        while len(totals[i]) > cap:
            size = float(1 << i)
            t_row, v_row = totals[i], variances[i]
            t0, t1 = t_row[0], t_row[1]
            diff = t0 / size - t1 / size
            if i + 1 == len(totals):
                totals.append([])
                variances.append([])
            totals[i + 1].append(t0 + t1)
            variances[i + 1].append(v_row[0] + v_row[1] + size * 0.5 * diff * diff)
            del t_row[:2], v_row[:2]
            i += 1

    def _detect(self) -> bool:
        """Drop the oldest bucket while some cut holds (River's loop); tell whether one did."""
        if not self._has_cut():
            return False
        # River rescans after each drop, so the windows it scans are the suffixes of the
        # bucket list (oldest first): follow width, total and variance down the drops with
        # River's arithmetic, scan every suffix at once, and drop up to the first without a
        # cut. The last scan, in Python, confirms it (and carries on if it did not).
        sizes = [
            float(1 << i) for i in range(len(self._totals) - 1, -1, -1) for _ in self._totals[i]
        ]
        values = [t for row in reversed(self._totals) for t in row]
        variances = [v for row in reversed(self._variances) for v in row]
        width, total, variance = self._width, self._total, self._variance
        path = [(width, total, variance)]
        for size, u, v in zip(sizes, values, variances, strict=True):
            mu = u / size
            width -= size
            total -= u
            if width < 2.0:
                break
            diff = mu - total / width
            variance -= v + size * width * diff * diff / (size + width)
            path.append((width, total, variance))
        k, c = len(path), len(sizes)
        older = np.arange(c)[None, :] < np.arange(k)[:, None]  # buckets dropped by then
        stats = np.array(path)
        holds = _any_cut(
            np.where(older, 0.0, np.array(sizes)),
            np.where(older, 0.0, np.array(values)),
            stats[:, 0],
            stats[:, 1],
            stats[:, 2],
            self.min_window_length,
            self.delta,
        )
        drops = int(np.argmin(holds)) if not holds.all() else k
        for _ in range(max(drops, 1)):
            self._delete_oldest()
        while self._has_cut():
            self._delete_oldest()
        return True

    def _has_cut(self) -> bool:
        """River's scan of the cuts, oldest bucket first, in River's arithmetic."""
        width = self._width
        if width < 2.0:
            return False
        sqrt = math.sqrt
        low = float(self.min_window_length)
        d_prime = math.log(2.0 * math.log(width) / self.delta)
        two_thirds_d = _TWO_THIRDS * d_prime
        var_w = self._variance / width
        n0 = u0 = 0.0
        n1, u1 = width, self._total
        for i in range(len(self._totals) - 1, -1, -1):
            size = float(1 << i)
            for t in self._totals[i]:
                n0 += size
                n1 -= size
                u0 += t
                u1 -= t
                if n1 >= low and n0 >= low:
                    m_recip = 1.0 / (n0 - low + 1.0) + 1.0 / (n1 - low + 1.0)
                    arg = 2.0 * m_recip * var_w * d_prime
                    # A negative (rounding) variance makes River's epsilon NaN: no cut.
                    if arg >= 0.0 and abs(u0 / n0 - u1 / n1) > sqrt(arg) + two_thirds_d * m_recip:
                        return True
        return False

    def _delete_oldest(self) -> None:
        last = len(self._totals) - 1
        size = float(1 << last)
        u = self._totals[last][0]
        mu = u / size
        self._width -= size
        self._total -= u
        diff = mu - self._total / self._width
        self._variance -= self._variances[last][0] + size * self._width * diff * diff / (
            size + self._width
        )
        del self._totals[last][0], self._variances[last][0]
        if not self._totals[last]:
            self._totals.pop()
            self._variances.pop()

    # ------------------------------------------------------------------ many values

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values)
        if self._native is None:
            self._native = native_buckets(
                self._totals,
                self._variances,
                (self._width, self._total, self._variance),
                (self._n, self._drift_detected),
                (
                    self.delta,
                    self.grace_period,
                    self.min_window_length,
                    self.clock,
                    self.max_buckets,
                    _MAX_ROWS,
                ),
            )
        native = self._native
        if native is not None:
            positions = native.run(xs)
            self._width, self._total, self._variance = (float(v) for v in native.s)
            self._n, self._drift_detected = int(native.k[0]), bool(native.k[2])
            return positions.astype(np.intp)
        hits: list[int] = []
        start = 4096
        block, pos = start, 0
        while pos < len(xs):
            if self._drift_detected:
                self._reset()
            pos += self._advance(xs[pos : pos + block])
            if self._drift_detected:
                hits.append(pos - 1)
                block = start
            else:
                block = min(2 * block, 1 << 14)
        return np.asarray(hits, dtype=np.intp)

    def _advance(self, xs: _Floats) -> int:
        """Insert values of ``xs`` up to the first drift (included); return how many."""
        step = _insert(
            xs,
            self._n,
            self._total,
            self._variance,
            self._totals,
            self._variances,
            clock=self.clock,
            grace_period=self.grace_period,
            max_buckets=self.max_buckets,
            min_window_length=self.min_window_length,
            delta=self.delta,
        )
        # Install the state after ``stop`` values, then run River's exact check if it drifts.
        self._totals = step.totals
        self._variances = step.variances
        self._n = n_end = self._n + step.stop
        self._width = float(n_end)
        self._total = step.total
        self._variance = step.variance
        self._drift_detected = step.found and self._detect()
        return step.stop

    # ------------------------------------------------------------------ state

    def _get_state(self) -> dict[str, Any]:
        self._lists()
        # Fixed-size lists (rows padded with zeros to _MAX_ROWS): the state never grows.
        cap = self.max_buckets
        lengths = [len(row) for row in self._totals] + [0] * (_MAX_ROWS - len(self._totals))
        totals = [0.0] * (_MAX_ROWS * cap)
        variances = [0.0] * (_MAX_ROWS * cap)
        for i, (t_row, v_row) in enumerate(zip(self._totals, self._variances, strict=True)):
            totals[i * cap : i * cap + len(t_row)] = t_row
            variances[i * cap : i * cap + len(v_row)] = v_row
        return {
            "n": self._n,
            "width": self._width,
            "total": self._total,
            "variance": self._variance,
            "n_rows": len(self._totals),
            "row_lengths": lengths,
            "totals": totals,
            "variances": variances,
            "drift_detected": self._drift_detected,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        n = state.get("n")
        n_rows = state.get("n_rows")
        for key, value in (("n", n), ("n_rows", n_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
                raise IncompatibleStateError(f"state[{key!r}] must be an integer in [0, 2**53]")
        assert isinstance(n, int) and isinstance(n_rows, int)
        width = _float_field(state, "width")
        total = _float_field(state, "total")
        variance = _float_field(state, "variance")
        drift = _bool_field(state, "drift_detected")
        cap = self.max_buckets
        try:
            lengths = np.asarray(state.get("row_lengths"), dtype=np.float64)
            totals = np.asarray(state.get("totals"), dtype=np.float64)
            variances = np.asarray(state.get("variances"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise IncompatibleStateError(f"malformed bucket arrays: {exc}") from exc
        if (
            lengths.shape != (_MAX_ROWS,)
            or totals.shape != (_MAX_ROWS * cap,)
            or variances.shape != (_MAX_ROWS * cap,)
            or not (np.isfinite(totals).all() and np.isfinite(variances).all())
            or not ((lengths >= 0) & (lengths <= cap) & (lengths == np.round(lengths))).all()
            or not 1 <= n_rows <= _MAX_ROWS
            or lengths[n_rows:].any()
            or (n_rows > 1 and not lengths[n_rows - 1])  # River drops an emptied last row
        ):
            raise IncompatibleStateError("malformed bucket arrays")
        sizes = np.ldexp(1.0, np.arange(n_rows))
        if float(lengths[:n_rows] @ sizes) != width or width > n:
            raise IncompatibleStateError("the buckets do not hold `width` values")
        if not drift:
            # Without a drift the buckets are those left by `n` insertions (what update_many
            # relies on); only the update that signals a drift drops buckets.
            f = _formed(np.array([n]), _MAX_ROWS, self.max_buckets)
            expected = [int(f[i][0] - 2 * f[i + 1][0]) for i in range(_MAX_ROWS)]
            expected_rows = max(1, sum(1 for i in range(_MAX_ROWS) if f[i][0] > 0))
            if width != n or n_rows != expected_rows or lengths.tolist() != expected:
                raise IncompatibleStateError("the buckets do not match the count of values")
        self._n = n
        self._width = width
        self._total = total
        self._variance = variance
        spans = [(i * cap, i * cap + int(lengths[i])) for i in range(n_rows)]
        self._totals = [totals[lo:hi].tolist() for lo, hi in spans]
        self._variances = [variances[lo:hi].tolist() for lo, hi in spans]
        self._native = None
        self._drift_detected = drift

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"delta": 0.01, "clock": 1, "max_buckets": 2, "min_window_length": 1}
        yield {"delta": 0.0005, "clock": 7, "max_buckets": 3, "grace_period": 0}
