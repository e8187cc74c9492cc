"""Threshold calibration of the data-drift detectors: simulated null streams, the survival
curve extended past them, and a per-process cache of simulations and thresholds."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
SlidingStats = Callable[[IntArray, int], FloatArray]

GROUP = 10  # simulated null streams sharing one simulated reference
MAX_CELLS = 1 << 20  # codes per vectorised block of windows (bounds temporary memory)
_SIMULATIONS: OrderedDict[tuple[Any, ...], FloatArray] = OrderedDict()  # the 2 most recent
_THRESHOLDS: dict[tuple[Any, ...], float] = {}


def calibrated_threshold(
    sim_key: tuple[Hashable, ...],
    ert: float,
    d: int,
    start: int,
    simulate: Callable[[], FloatArray],
) -> float:
    """The cached threshold for ``d`` features at mean run length ``ert``.

    ``sim_key`` identifies the simulation (``simulate()``, run on a cache miss); ``start`` is
    the first tested step past the start-up transient (the window size).
    """
    key = (*sim_key, ert, d)
    if key not in _THRESHOLDS:
        if sim_key not in _SIMULATIONS:
            _SIMULATIONS[sim_key] = simulate()
            while len(_SIMULATIONS) > 2:  # (n_bootstraps, S) floats each
                _SIMULATIONS.popitem(last=False)
        _SIMULATIONS.move_to_end(sim_key)
        if len(_THRESHOLDS) >= 1024:
            _THRESHOLDS.clear()
        _THRESHOLDS[key] = _solve(_SIMULATIONS[sim_key], start, ert, d)
    return _THRESHOLDS[key]


def simulate(
    sliding_stats: SlidingStats, n_ref: int, w: int, n_bootstraps: int, seed: int
) -> FloatArray:
    """Running maxima (streams, S) of the statistic over simulated null streams."""
    steps = max(2 * w, 200)
    length = w - 1 + steps
    rng = np.random.default_rng([seed, 0])
    groups = n_bootstraps // GROUP
    codes = np.empty((groups, GROUP * length), dtype=np.int32)
    for g in range(groups):
        # A group's n_ref reference uniforms fall into the gaps between its streams' values
        # (a multinomial draw); a value's code counts those in the gaps below it.
        v = rng.random(GROUP * length)
        order = np.argsort(v)
        gaps = np.diff(v[order], prepend=0.0, append=1.0)
        codes[g, order] = np.cumsum(rng.multinomial(n_ref, gaps)[:-1])
    streams = codes.reshape(groups * GROUP, length, 1)
    out = np.empty((groups * GROUP, steps))
    chunk = max(1, MAX_CELLS // (steps * w))
    for lo in range(0, out.shape[0], chunk):
        stats = sliding_stats(streams[lo : lo + chunk], n_ref)[..., 0]
        out[lo : lo + chunk] = np.maximum.accumulate(stats, axis=1)
    return out


def _solve(maxima: FloatArray, start: int, ert: float, d: int) -> float:
    """The threshold at which the estimated mean run length of ``d`` features is ``ert``.

    ``maxima[b, s]`` is the running maximum of stream ``b``'s statistic at tested step ``s``;
    the steps from ``start`` on, past the start-up transient, give the tail hazard.
    """
    steps = maxima.shape[1]
    late = steps - start
    cands = np.unique(maxima[:, -1])
    # Per candidate threshold: alarms in the late steps over the stream-steps at risk there.
    crossed = _count_le(maxima[:, start - 1], cands) - _count_le(maxima[:, -1], cands)
    raw = crossed / np.maximum(_count_le(maxima[:, start - 1 : -1], cands), 1)
    hazard = raw.copy()
    # The log hazard is smooth in the threshold: a weighted quadratic through the thresholds
    # near the target pools their alarms (the raw estimate at the target rests on few).
    near = (crossed >= 20) & (raw * late <= 0.5) & (raw <= 30.0 / (d * ert))
    if np.count_nonzero(near) >= 4:
        fit = np.polyfit(cands[near], np.log(raw[near]), 2, w=np.sqrt(crossed[near]))
        beyond = cands >= cands[near][0]
        hazard[beyond] = np.minimum.accumulate(np.exp(np.polyval(fit, cands[beyond])))
    # Hazards differ between references, which lengthens the tail: E[1/h] > 1/E[h]. Their
    # squared coefficient of variation comes from the Poisson overdispersion of the groups'
    # alarms where alarms are rare, smoothed by a weighted line in the threshold; the tail
    # is lengthened by 1 + cv2 / d (exact for one feature with lognormal hazards).
    cv2 = np.zeros(cands.size)
    rare = np.flatnonzero(near & (raw * late <= 0.1))
    if rare.size >= 4:
        picks = rare[:: max(1, rare.size // 24)]
        spread = [_overdispersion(maxima, start, float(c)) for c in cands[picks]]
        line = np.polyfit(cands[picks], spread, 1, w=np.sqrt(crossed[picks]))
        cv2 = np.clip(np.polyval(line, np.clip(cands, cands[picks[0]], cands[picks[-1]])), 0, 1)

    def log_ratio(i: int) -> float:  # log(mean run length / ert) at threshold cands[i]
        survival = np.concatenate([[1.0], (maxima <= cands[i]).mean(axis=0)])
        mean = float(np.sum(survival[:steps] ** d))
        if survival[-1] > 0.0:
            tail = survival[-1] ** d / (1.0 - (1.0 - hazard[i]) ** d) if hazard[i] > 0 else math.inf
            mean += tail * (1.0 + cv2[i] / d)
        return math.log(mean / ert)

    lo, hi = 0, cands.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if log_ratio(mid) >= 0.0 else (mid + 1, hi)
    if lo and abs(log_ratio(lo - 1)) < abs(log_ratio(lo)):  # discrete statistics: the closer
        lo -= 1
    return float(cands[lo])


def _count_le(values: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.intp]:
    """How many of ``values`` are <= each threshold."""
    return np.searchsorted(np.sort(values, axis=None), thresholds, side="right")


def _overdispersion(maxima: FloatArray, start: int, c: float) -> float:
    """Squared coefficient of variation of the late hazard between simulated references."""
    alive = maxima[:, start - 1 :] <= c
    groups = maxima.shape[0] // GROUP
    exposure = alive[:, :-1].sum(axis=1).reshape(groups, GROUP).sum(axis=1).astype(float)
    crossed = (alive[:, 0] & ~alive[:, -1]).reshape(groups, GROUP).sum(axis=1)
    hazard = crossed.sum() / exposure.sum()
    if hazard == 0.0:
        return 0.0
    excess = np.sum((crossed - hazard * exposure) ** 2) - hazard * exposure.sum()
    return float(excess / np.sum(exposure**2) / hazard**2)
