"""ADaptive WINdowing (Bifet and Gavaldà, 2007)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

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
_MAX_CELLS = 1 << 14  # bound on (checks x buckets) evaluated at once by update_many
_TWO_THIRDS = 2.0 / 3.0

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]


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
        holds = self._any_cut(
            np.where(older, 0.0, np.array(sizes)),
            np.where(older, 0.0, np.array(values)),
            stats[:, 0],
            stats[:, 1],
            stats[:, 2],
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

    def _any_cut(
        self, sizes: _Floats, values: _Floats, width: _Floats, total: _Floats, var: _Floats
    ) -> npt.NDArray[np.bool_]:
        """``_has_cut`` for many windows at once: row k holds window k's buckets, oldest
        first, with size 0 for padding; the same floating-point operations, vectorised."""
        n0 = np.add.accumulate(sizes, axis=1)
        n1 = width[:, None] - n0
        zeros = np.zeros((len(width), 1))
        u0 = np.add.accumulate(np.concatenate([zeros, values], axis=1), axis=1)[:, 1:]
        u1 = np.subtract.accumulate(np.concatenate([total[:, None], values], axis=1), axis=1)
        low = float(self.min_window_length)
        d_prime = np.array([math.log(2.0 * math.log(w) / self.delta) for w in width.tolist()])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            m_recip = 1.0 / (n0 - low + 1.0) + 1.0 / (n1 - low + 1.0)
            epsilon = (
                np.sqrt(2.0 * m_recip * (var / width)[:, None] * d_prime[:, None])
                + (_TWO_THIRDS * d_prime)[:, None] * m_recip
            )
            holds = np.abs(u0 / n0 - u1[:, 1:] / n1) > epsilon
        # A padding cell repeats the cut before it, so it needs no mask of its own.
        holds &= (n0 >= low) & (n1 >= low)
        return holds.any(axis=1)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ many values

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each value in order; return the positions where a drift was signalled."""
        xs = self._check_values(values)
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

    def _formed(self, n: _Ints, levels: int) -> _Ints:
        """``f[i, k]``: blocks of ``2**i`` values formed after ``n[k]`` values (``f[0] = n``).

        Row i then holds level i's blocks ``2 f[i+1] .. f[i]``, oldest first. A row merges
        two buckets each time it reaches ``max_buckets + 1``, so with ``c = max_buckets - 1``
        ``f[i+1] = max(0, (f[i] - c) // 2)``, that is ``max(0, (n - (2**i - 1) c) >> i)``.
        """
        c = self.max_buckets - 1
        top = int(n.max()) + 1 if len(n) else 1  # clamp, so that nothing overflows
        coef = np.array([min(((1 << i) - 1) * c, top) for i in range(levels + 1)])
        shift = np.arange(levels + 1)
        formed: _Ints = np.maximum((n[None, :] - coef[:, None]) >> shift[:, None], 0)
        return formed

    def _advance(self, xs: _Floats) -> int:
        """Insert values of ``xs`` up to the first drift (included); return how many."""
        n_start, m = self._n, len(xs)
        levels = (n_start + m).bit_length() + 1  # enough rows for n_start + m values
        start = self._formed(np.array([n_start]), levels)
        # Block sums and variances of every level, from the oldest bucket of each row on
        # (rows[i] holds level i's blocks base[i] .. at the start).
        base = [2 * int(start[i + 1][0]) for i in range(levels)]
        level_t: list[_Floats | list[float]] = []
        level_v: list[_Floats | list[float]] = []
        new_t: _Floats | list[float] = xs
        new_v: _Floats | list[float] = np.zeros(m)
        for i in range(levels):
            row_t = self._totals[i] if i < len(self._totals) else []
            row_v = self._variances[i] if i < len(self._variances) else []
            size = float(1 << i)
            a_t: _Floats | list[float]
            a_v: _Floats | list[float]
            if len(new_t) > 64:  # numpy for the long levels
                a_t = np.concatenate([np.array(row_t, dtype=np.float64), new_t])
                a_v = np.concatenate([np.array(row_v, dtype=np.float64), new_v])
                pairs = 2 * (len(a_t) // 2)
                t0, t1 = a_t[0:pairs:2], a_t[1:pairs:2]
                diff = t0 / size - t1 / size
                new_t = t0 + t1
                new_v = a_v[0:pairs:2] + a_v[1:pairs:2] + size * 0.5 * diff * diff
            else:  # plain floats for the short ones (the same operations)
                a_t = row_t + _floats(new_t)
                a_v = row_v + _floats(new_v)
                new_t, new_v = [], []
                for j in range(0, 2 * (len(a_t) // 2), 2):
                    gap = a_t[j] / size - a_t[j + 1] / size
                    new_t.append(a_t[j] + a_t[j + 1])
                    new_v.append(a_v[j] + a_v[j + 1] + size * 0.5 * gap * gap)
            level_t.append(a_t)
            level_v.append(a_v)
        # Running total and variance after each value, as River's sequential updates.
        counts = np.arange(n_start + 1, n_start + m + 1, dtype=np.int64)
        width = counts.astype(np.float64)
        total = np.add.accumulate(np.concatenate([[self._total], xs]))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = xs - total[:-1] / (width - 1.0)
            inc = np.where(width > 1.0, (width - 1.0) * d * d / width, 0.0)
        var = np.add.accumulate(np.concatenate([[self._variance], inc]))[1:]
        total = total[1:]
        checks = np.flatnonzero(
            (counts % self.clock == 0) & (counts > self.grace_period) & (counts >= 2)
        )
        stop = self._first_cut(checks, counts, levels, base, level_t, width, total, var)
        found = stop >= 0
        stop = stop + 1 if found else m
        # Install the state after ``stop`` values, then run River's exact check if it drifts.
        n_end = n_start + stop
        end = self._formed(np.array([n_end]), levels)
        n_rows = max(1, sum(1 for i in range(levels) if end[i][0] > 0))
        spans = [
            (2 * int(end[i + 1][0]) - base[i], int(end[i][0]) - base[i]) for i in range(n_rows)
        ]
        self._totals = [_floats(level_t[i][lo:hi]) for i, (lo, hi) in enumerate(spans)]
        self._variances = [_floats(level_v[i][lo:hi]) for i, (lo, hi) in enumerate(spans)]
        self._n = n_end
        self._width = float(n_end)
        self._total = float(total[stop - 1])
        self._variance = float(var[stop - 1])
        self._drift_detected = found and self._detect()
        return stop

    def _first_cut(
        self,
        checks: _Ints,
        counts: _Ints,
        levels: int,
        base: list[int],
        level_t: list[_Floats | list[float]],
        width: _Floats,
        total: _Floats,
        var: _Floats,
    ) -> int:
        """Position of the first check at which some cut holds, or -1.

        At a check after ``c`` values, row i holds level i's blocks ``2 f[i+1] .. f[i]`` with
        ``f = _formed(c)``: each check's buckets are gathered from ``level_t`` into one row
        of a matrix (``max_buckets`` cells per row of buckets, padded) for ``_any_cut``.
        """
        cap = self.max_buckets
        flat = np.concatenate([*level_t, [0.0]])  # padding cells read the final 0.0
        pad = len(flat) - 1
        offset = np.cumsum([0] + [len(a) for a in level_t[:-1]]) - np.array(base)
        sizes = np.ldexp(1.0, np.arange(levels))
        slots = np.arange(cap)
        step, most = 64, max(64, _MAX_CELLS // (levels * cap))
        lo = 0
        while lo < len(checks):  # slices of checks, growing: a drift wastes little work
            at = checks[lo : lo + step]
            lo += step
            step = min(2 * step, most)
            f = self._formed(counts[at], levels)
            held = f[:-1] - 2 * f[1:]
            rows = np.flatnonzero(held.any(axis=1))[::-1]  # the rows held, oldest first
            first = (offset[rows, None] + 2 * f[rows + 1]).T[:, :, None] + slots
            valid = slots < held[rows].T[:, :, None]
            shape = (len(at), len(rows) * cap)
            hit = np.flatnonzero(
                self._any_cut(
                    (sizes[rows, None] * valid).reshape(shape),
                    flat[pad + (first - pad) * valid].reshape(shape),
                    width[at],
                    total[at],
                    var[at],
                )
            )
            if len(hit):
                return int(at[hit[0]])
        return -1

    # ------------------------------------------------------------------ state

    def _get_state(self) -> dict[str, Any]:
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
            f = self._formed(np.array([n]), _MAX_ROWS)
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
        self._drift_detected = drift

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"delta": 0.01, "clock": 1, "max_buckets": 2, "min_window_length": 1}
        yield {"delta": 0.0005, "clock": 7, "max_buckets": 3, "grace_period": 0}


def _floats(values: _Floats | list[float]) -> list[float]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
