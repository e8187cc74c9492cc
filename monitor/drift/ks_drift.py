"""Online Kolmogorov-Smirnov data-drift detector."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from monitor.drift.data_drift import DataDriftDetector, FloatArray, IntArray

__all__ = ["KSDrift"]


class KSDrift(DataDriftDetector):
    """Two-sample Kolmogorov-Smirnov distance between a sliding window and a reference.

    For each feature, the statistic is ``D = sup_x |F_window(x) - F_reference(x)|``, the
    largest gap between the empirical distribution functions of the last ``window_size``
    events and of the reference (ties broken at random, see ``DataDriftDetector``). It reacts to
    any change of distribution, most strongly to shifts of location. The threshold is
    calibrated so that on a stream without drift the mean number of events between false alarms
    is ``ert``; see ``DataDriftDetector`` for the lifecycle, the calibration and the state.

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
    n_bootstraps
        Number of simulated null streams used to calibrate the threshold.
    on_drift
        ``"refit"``: after a drift, collect a new reference; ``"restart"``: keep the reference
        and empty the test window.
    seed
        Seeds the calibration and the breaking of ties.

    Examples
    --------
    Three features; the second one shifts by one standard deviation at row 700:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1500, 3))
    >>> X[700:, 1] += 1.0
    >>> ks = KSDrift(ert=1000, window_size=50, n_reference=500, n_bootstraps=2000)
    >>> ks.update_many(X).tolist()
    [722]
    >>> ks.drifted_features, ks.thresholds.tolist()
    ((1,), [0.262, 0.262, 0.262])

    The first 500 rows were the reference; after the drift the next 500 rows (723 to 1222)
    became the new one, so the shifted regime is the baseline from then on.

    """

    def _sliding_stats(self, codes: IntArray, n_ref: int) -> FloatArray:
        w = self.window_size
        windows = np.sort(sliding_window_view(codes, w, axis=1), axis=-1)
        # With s_k the k-th smallest code: D = max_k max(k/w - s_k/n, s_k/n - (k-1)/w).
        a = np.arange(1, w + 1, dtype=np.int32) * n_ref - windows * w  # exact in int32
        out: FloatArray = np.maximum(a.max(axis=-1), n_ref - a.min(axis=-1)) / (n_ref * w)
        return out
