"""Exact per-feature median and MAD of sliding windows, vectorised over rows and features.

Private helpers of :class:`monitor.anomaly.RobustZScore` (``method="median"``). Both results
are order statistics of sorted windows, so the block path and the one-window path (a plain
sort) return bit-identical values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["median_mad", "sliding_sorted_windows"]

FloatArray = npt.NDArray[np.float64]


def sliding_sorted_windows(A: FloatArray, size: int) -> FloatArray:
    """Return ``S`` (b, d, size): ``S[j, :, :]`` is ``A[j : j + size]`` sorted per column.

    ``A`` is (size + b, d) in time order. One stable argsort of ``A`` per block; each window
    is then the sorted column with the entries outside it masked out, which keeps the order.
    Cost: O(b * d * (size + b)) element operations, plus the sort.
    """
    length, d = A.shape
    b = length - size
    order = np.argsort(A, axis=0, kind="stable")
    values = np.take_along_axis(A, order, axis=0).T  # (d, length), sorted per feature
    when = order.T.astype(np.int64)  # time index of each sorted value
    start = np.arange(b, dtype=np.int64)[:, None, None]
    # start <= when < start + size, in one unsigned comparison: `size` True per (row, feature).
    inside = (when - start).view(np.uint64) < size
    windows: FloatArray = np.broadcast_to(values, (b, d, length))[inside].reshape(b, d, size)
    return windows


def median_mad(S: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and median absolute deviation along the last axis of ``S``, sorted on it.

    Even counts average the two middle values, as ``np.median`` does. The MAD needs no
    second sort: the ``r``-th smallest deviation from ``med`` is
    ``min_j max(med - S[j], S[j + r - 1] - med)`` (the ``r`` closest values form a run of the
    sorted window), and a binary search finds the minimising ``j``.
    """
    m = S.shape[-1]
    k = m // 2
    S = np.ascontiguousarray(S)
    if m % 2:
        med = S[..., k]
        mad = _kth_deviations(S, med, np.array([k + 1]))[0]
    else:
        med = 0.5 * (S[..., k - 1] + S[..., k])
        both = _kth_deviations(S, med, np.array([k, k + 1]))
        mad = 0.5 * (both[0] + both[1])
    return med, mad


def _kth_deviations(S: FloatArray, med: FloatArray, ranks: npt.NDArray[np.intp]) -> FloatArray:
    """The ``r``-th smallest (1-based) of ``|S - med|`` along the last axis of sorted ``S``.

    One result (``med.shape``) per rank ``r`` in ``ranks``, stacked on a new first axis.
    ``a(j) = med - S[j]`` falls and ``b(j) = S[j + r - 1] - med`` rises with ``j`` (also in
    floating point), so the first ``j`` with ``b(j) >= a(j)`` splits ``max(a, b)`` into a
    falling and a rising part: the minimum is ``b(j*)`` or ``a(j* - 1)``.
    """
    m = S.shape[-1]
    flat = S.reshape(-1)
    base = np.arange(0, flat.shape[0], m, dtype=np.intp).reshape(med.shape)[None]
    shape = (len(ranks), *med.shape)
    r = ranks.reshape(-1, *([1] * med.ndim))
    last = m - r  # j runs over 0 .. last
    centre = med[None]

    def at(j: npt.NDArray[np.intp]) -> FloatArray:
        picked: FloatArray = flat[base + j]
        return picked

    lo = np.zeros(shape, dtype=np.intp)
    hi = np.broadcast_to(last + 1, shape).copy()
    for _ in range(int(m).bit_length()):  # halves hi - lo <= m + 1 down to 0
        mid = (lo + hi) // 2
        j = np.minimum(mid, last)
        rises = at(j + r - 1) - centre >= centre - at(j)
        hi = np.where(rises, np.minimum(hi, mid), hi)
        lo = np.where(rises, lo, np.maximum(lo, np.minimum(mid + 1, hi)))
    right = np.where(lo <= last, at(np.minimum(lo, last) + r - 1) - centre, np.inf)
    left = np.where(lo >= 1, centre - at(np.maximum(lo - 1, 0)), np.inf)
    kth: FloatArray = np.minimum(right, left)
    return kth
