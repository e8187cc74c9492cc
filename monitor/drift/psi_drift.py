"""Online population stability index (PSI) data-drift detector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from monitor.drift.base import _check_int
from monitor.drift.data_drift import DataDriftDetector, FloatArray, IntArray

__all__ = ["PSIDrift"]


class PSIDrift(DataDriftDetector):
    """Population stability index of a sliding window over the reference's quantile bins.

    For each feature, the reference's ``n_bins`` quantiles cut the line into bins of equal
    reference frequency ``p_j`` (ties broken at random, see ``DataDriftDetector``), and the
    statistic is ``PSI = sum_j (q_j - p_j) * ln(q_j / p_j)`` with ``q_j`` the window's share of
    bin ``j``; half an event is added to each window count so an empty bin stays finite. Unlike
    the usual fixed cut-offs (0.1 / 0.25), the threshold is calibrated so that on a stream
    without drift the mean number of events between false alarms is ``ert``; see
    ``DataDriftDetector`` for the lifecycle, the calibration and the state.

    Parameters
    ----------
    ert
        Expected run length: the mean number of tested events up to a false alarm, for the
        whole detector (all features together), on a stream without drift.
    window_size
        Number of recent events in the test window.
    n_reference
        Number of events collected as the reference (at the start, and after each drift when
        ``on_drift="refit"``), unless ``fit`` sets the reference.
    n_bins
        Number of quantile bins, from 2 to ``window_size``.
    n_bootstraps
        Number of simulated null streams used to calibrate the threshold.
    on_drift
        ``"refit"``: after a drift, collect a new reference; ``"restart"``: keep the reference
        and empty the test window.
    seed
        Seeds the calibration and the breaking of ties.

    Examples
    --------
    One dict per event; the mean of ``amount`` moves by one standard deviation at event 700.
    With a window of 50 events, PSI under no drift often exceeds the usual 0.25:

    >>> import random
    >>> rng = random.Random(2)
    >>> psi = PSIDrift(ert=1000, window_size=50, n_reference=500, n_bootstraps=2000)
    >>> for i in range(1000):
    ...     psi.update({"latency": rng.gauss(0, 1), "amount": rng.gauss(i >= 700, 1)})
    ...     if psi.drift_detected:
    ...         print(i, psi.drifted_features, psi.statistics.round(2), psi.thresholds.round(2))
    731 ('amount',) [0.22 0.65] [0.54 0.54]

    """

    def __init__(
        self,
        ert: float = 1000.0,
        window_size: int = 100,
        n_reference: int = 1000,
        n_bins: int = 10,
        n_bootstraps: int = 10000,
        on_drift: str = "refit",
        seed: int = 0,
    ) -> None:
        _check_int("n_bins", n_bins, 2)
        if isinstance(window_size, int) and n_bins > window_size:
            raise ValueError(f"n_bins must be <= window_size, got {n_bins!r}")
        self.n_bins = n_bins
        super().__init__(ert, window_size, n_reference, n_bootstraps, on_drift, seed)

    def _sliding_stats(self, codes: IntArray, n_ref: int) -> FloatArray:
        w, k = self.window_size, self.n_bins
        bins = codes * k // (n_ref + 1)  # the n_ref + 1 codes are equally likely under no drift
        p = np.bincount(np.arange(n_ref + 1) * k // (n_ref + 1), minlength=k) / (n_ref + 1)
        q = (np.arange(w + 1) + 0.5) / (w + 0.5 * k)
        table = (q[None, :] - p[:, None]) * np.log(q[None, :] / p[:, None])  # [bin, count]
        cum = np.zeros(codes.shape, dtype=np.int32)
        out: FloatArray = np.zeros((codes.shape[0], codes.shape[1] - w + 1, codes.shape[2]))
        for j in range(k):  # a fixed order of additions: a window's sum never depends on others
            np.cumsum(bins == j, axis=1, out=cum)
            counts = cum[:, w - 1 :].copy()
            counts[:, 1:] -= cum[:, :-w]
            out += table[j][counts]
        return out

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield from super()._unit_test_params()
        yield {"window_size": 30, "n_reference": 300, "n_bins": 5, "n_bootstraps": 500}
