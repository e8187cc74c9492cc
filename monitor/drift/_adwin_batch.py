"""ADWIN's batch path: many values inserted, and many windows scanned for a cut, at once.

Private helper of :mod:`monitor.drift.adwin`. ``_insert`` reaches the same buckets and
statistics as River's one-by-one updates without walking the buckets value by value: the
bucket sums of a batch are built level by level with numpy, and every check of the batch is
evaluated at once on the buckets the window holds at that moment (``_first_cut``).
``_any_cut`` is River's scan of the cuts, vectorised over many windows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

_MAX_CELLS = 1 << 14  # bound on (checks x buckets) evaluated at once by update_many
_TWO_THIRDS = 2.0 / 3.0

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]


class _Insertion(NamedTuple):
    """What ``_insert`` leaves: how many values it took, and the window after them."""

    stop: int  # values inserted (up to the first check with a cut, included)
    found: bool  # whether the last of them is a check at which some cut holds
    totals: list[list[float]]
    variances: list[list[float]]
    total: float
    variance: float


def _formed(n: _Ints, levels: int, max_buckets: int) -> _Ints:
    """``f[i, k]``: blocks of ``2**i`` values formed after ``n[k]`` values (``f[0] = n``).

    Row i then holds level i's blocks ``2 f[i+1] .. f[i]``, oldest first. A row merges
    two buckets each time it reaches ``max_buckets + 1``, so with ``c = max_buckets - 1``
    ``f[i+1] = max(0, (f[i] - c) // 2)``, that is ``max(0, (n - (2**i - 1) c) >> i)``.
    """
    c = max_buckets - 1
    top = int(n.max()) + 1 if len(n) else 1  # clamp, so that nothing overflows
    coef = np.array([min(((1 << i) - 1) * c, top) for i in range(levels + 1)])
    shift = np.arange(levels + 1)
    formed: _Ints = np.maximum((n[None, :] - coef[:, None]) >> shift[:, None], 0)
    return formed


def _any_cut(
    sizes: _Floats,
    values: _Floats,
    width: _Floats,
    total: _Floats,
    var: _Floats,
    min_window_length: int,
    delta: float,
) -> npt.NDArray[np.bool_]:
    """ADWIN's ``_has_cut`` for many windows at once: row k holds window k's buckets, oldest
    first, with size 0 for padding; the same floating-point operations, vectorised."""
    n0 = np.add.accumulate(sizes, axis=1)
    n1 = width[:, None] - n0
    zeros = np.zeros((len(width), 1))
    u0 = np.add.accumulate(np.concatenate([zeros, values], axis=1), axis=1)[:, 1:]
    u1 = np.subtract.accumulate(np.concatenate([total[:, None], values], axis=1), axis=1)
    low = float(min_window_length)
    d_prime = np.array([math.log(2.0 * math.log(w) / delta) for w in width.tolist()])
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


def _insert(
    xs: _Floats,
    n_start: int,
    total0: float,
    variance0: float,
    totals: list[list[float]],
    variances: list[list[float]],
    *,
    clock: int,
    grace_period: int,
    max_buckets: int,
    min_window_length: int,
    delta: float,
) -> _Insertion:
    """Insert values of ``xs`` into the window left by ``n_start`` insertions (its buckets
    ``totals`` and ``variances``, its sum ``total0`` and variance ``variance0``), up to the
    first check at which some cut holds (included)."""
    m = len(xs)
    levels = (n_start + m).bit_length() + 1  # enough rows for n_start + m values
    start = _formed(np.array([n_start]), levels, max_buckets)
    # Block sums and variances of every level, from the oldest bucket of each row on
    # (rows[i] holds level i's blocks base[i] .. at the start).
    base = [2 * int(start[i + 1][0]) for i in range(levels)]
    level_t: list[_Floats | list[float]] = []
    level_v: list[_Floats | list[float]] = []
    new_t: _Floats | list[float] = xs
    new_v: _Floats | list[float] = np.zeros(m)
    for i in range(levels):
        row_t = totals[i] if i < len(totals) else []
        row_v = variances[i] if i < len(variances) else []
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
    total = np.add.accumulate(np.concatenate([[total0], xs]))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = xs - total[:-1] / (width - 1.0)
        inc = np.where(width > 1.0, (width - 1.0) * d * d / width, 0.0)
    var = np.add.accumulate(np.concatenate([[variance0], inc]))[1:]
    total = total[1:]
    checks = np.flatnonzero((counts % clock == 0) & (counts > grace_period) & (counts >= 2))
    stop = _first_cut(
        checks,
        counts,
        levels,
        base,
        level_t,
        width,
        total,
        var,
        max_buckets=max_buckets,
        min_window_length=min_window_length,
        delta=delta,
    )
    found = stop >= 0
    stop = stop + 1 if found else m
    # The buckets after ``stop`` values.
    end = _formed(np.array([n_start + stop]), levels, max_buckets)
    n_rows = max(1, sum(1 for i in range(levels) if end[i][0] > 0))
    spans = [(2 * int(end[i + 1][0]) - base[i], int(end[i][0]) - base[i]) for i in range(n_rows)]
    return _Insertion(
        stop=stop,
        found=found,
        totals=[_floats(level_t[i][lo:hi]) for i, (lo, hi) in enumerate(spans)],
        variances=[_floats(level_v[i][lo:hi]) for i, (lo, hi) in enumerate(spans)],
        total=float(total[stop - 1]),
        variance=float(var[stop - 1]),
    )


def _first_cut(
    checks: _Ints,
    counts: _Ints,
    levels: int,
    base: list[int],
    level_t: list[_Floats | list[float]],
    width: _Floats,
    total: _Floats,
    var: _Floats,
    *,
    max_buckets: int,
    min_window_length: int,
    delta: float,
) -> int:
    """Position of the first check at which some cut holds, or -1.

    At a check after ``c`` values, row i holds level i's blocks ``2 f[i+1] .. f[i]`` with
    ``f = _formed(c)``: each check's buckets are gathered from ``level_t`` into one row
    of a matrix (``max_buckets`` cells per row of buckets, padded) for ``_any_cut``.
    """
    cap = max_buckets
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
        f = _formed(counts[at], levels, max_buckets)
        held = f[:-1] - 2 * f[1:]
        rows = np.flatnonzero(held.any(axis=1))[::-1]  # the rows held, oldest first
        first = (offset[rows, None] + 2 * f[rows + 1]).T[:, :, None] + slots
        valid = slots < held[rows].T[:, :, None]
        shape = (len(at), len(rows) * cap)
        hit = np.flatnonzero(
            _any_cut(
                (sizes[rows, None] * valid).reshape(shape),
                flat[pad + (first - pad) * valid].reshape(shape),
                width[at],
                total[at],
                var[at],
                min_window_length,
                delta,
            )
        )
        if len(hit):
            return int(at[hit[0]])
    return -1


def _floats(values: _Floats | list[float]) -> list[float]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
