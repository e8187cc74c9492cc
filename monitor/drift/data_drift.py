"""The shared machinery of the windowed two-sample data-drift detectors (KS, CvM, PSI)."""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor.drift._calibration import MAX_CELLS, calibrated_threshold, simulate
from monitor.drift._data_drift_checks import parse_batch, parse_event, read_state
from monitor.drift.base import DriftDetector, _check_float, _check_int
from monitor.exceptions import InvalidInputError

__all__ = ["DataDriftDetector"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]  # codes: exact, since n_reference * window_size < 2**31

_POLICIES = ("refit", "restart")
_MAX_PRODUCT = 2_000_000_000  # largest n_reference * window_size


class DataDriftDetector(DriftDetector):
    """Per-feature data drift: a sliding test window against a reference, calibrated by ``ert``.

    An event is a sequence of ``d`` numbers, a dict of feature name to number (the first dict
    fixes the names and their order, as in ``monitor.anomaly``), or a number (a univariate
    stream); ``update_many`` takes an ``(n, d)`` array, or a 1-D array of numbers. The first
    input fixes the form. The other form, another width or other names, NaN, infinity or a
    non-number raise ``InvalidInputError`` and change nothing.

    **Lifecycle.** The first ``n_reference`` events are the reference (or ``fit`` sets one).
    Later events fill a test window of the last ``window_size`` events; once it is full, each
    event compares it with the reference, feature by feature, and signals a drift if any
    statistic exceeds its threshold (see ``drifted_features``, ``statistics``, ``thresholds``).
    On the next update after a drift, ``on_drift="refit"`` takes the next ``n_reference``
    events as a new reference (the new regime becomes the baseline: one alert per change),
    while ``on_drift="restart"`` keeps the reference and empties the window (Alibi Detect's
    ``reset_state``: a lasting drift is signalled again each time the window has refilled).

    **Calibration.** A statistic sees the data only through each window event's rank among the
    reference values (ties broken at random by a seeded hash), so with no drift its law is the
    same for every feature and distribution. As Alibi Detect's online CvM/FET detectors do, the
    threshold comes from simulated null streams: ``n_bootstraps`` of them, a fresh simulated
    reference per 10, each tested for ``S = max(2 * window_size, 200)`` steps (so the
    dependence between overlapping windows is simulated, not assumed). The threshold is where
    the mean run length is ``ert``: the run counts the events from the one that first fills the
    window up to the false alarm included, and ends at the first of ``d`` features taken as
    independent (dependent features alarm less often). Past ``S`` the survival curve goes on
    geometrically with a smoothed late hazard, lengthened for the spread of the hazard between
    references (``E[1/h] > 1/E[h]``). One threshold serves every feature and tested step; it is
    cached per class, hyperparameters, reference size and ``d`` (about 1-3 s at the defaults,
    once per process). With ``n_bootstraps * S / (d * ert)`` above ~200 simulated false alarms
    the measured mean run length is typically within 10% of ``ert``; KS is discrete (steps of
    ``gcd(n, w) / (n w)``), which can add up to half a step, ~5% at small windows.

    Subclasses implement ``_sliding_stats``; their own hyperparameters are set before calling
    ``super().__init__``.

    Examples
    --------
    >>> import numpy as np
    >>> from monitor.drift.ks_drift import KSDrift
    >>> rng = np.random.default_rng(0)
    >>> detector: DataDriftDetector = KSDrift(ert=300, window_size=40, n_bootstraps=500)
    >>> detector = detector.fit(rng.normal(size=(400, 2)))
    >>> detector.update({"price": 0.3, "qty": -1.2})
    >>> detector.feature_names, detector.n_features, detector.statistics
    (('price', 'qty'), 2, None)
    >>> shifted = rng.normal(size=(100, 2)) + [0.0, 2.0]
    >>> hits = detector.update_many(shifted)
    >>> hits.tolist(), detector.drifted_features
    ([38], ('qty',))

    """

    def __init__(
        self,
        ert: float = 1000.0,
        window_size: int = 100,
        n_reference: int = 1000,
        n_bootstraps: int = 10000,
        on_drift: str = "refit",
        seed: int = 0,
    ) -> None:
        _check_float("ert", ert, 1.0, inclusive=False)
        _check_int("window_size", window_size, 2)
        _check_int("n_reference", n_reference, window_size)
        if n_reference * window_size > _MAX_PRODUCT:
            raise ValueError(f"n_reference * window_size must be <= {_MAX_PRODUCT}")
        _check_int("n_bootstraps", n_bootstraps, 100)
        if on_drift not in _POLICIES:
            raise ValueError(f"on_drift must be one of {_POLICIES}, got {on_drift!r}")
        _check_int("seed", seed, 0)
        self.ert = ert
        self.window_size = window_size
        self.n_reference = n_reference
        self.n_bootstraps = n_bootstraps
        self.on_drift = on_drift
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._form = ""  # "" until the first input, then "scalar" or "vector"
        self._feature_names: tuple[str, ...] | None = None
        self._n_features = 0
        self._reference = np.zeros((0, 0))  # collected rows; sorted per column once complete
        self._n_collected = 0
        self._epoch = 0  # references completed so far (seeds their tie-break keys)
        self._window: IntArray = np.zeros((self.window_size, 0), dtype=np.int32)  # oldest first
        self._window_count = 0
        self._t = 0  # events seen (indexes the tie-break hash)
        self._drifted = np.zeros(0, dtype=bool)
        self._statistics = np.zeros(0)  # NaN until a window has been tested
        self._keys: FloatArray | None = None  # tie-break keys of a complete reference
        self._threshold = math.nan

    @property
    def n_features(self) -> int | None:
        """Number of features, once fixed by the first input (else None)."""
        return self._n_features or None

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """Feature names in column order, once a dict has been seen (else None)."""
        return self._feature_names

    @property
    def drifted_features(self) -> tuple[int | str, ...]:
        """Features over their threshold at the last drift signal (names if known, else columns)."""
        columns = np.flatnonzero(self._drifted).tolist()
        names = self._feature_names
        return tuple(names[j] for j in columns) if names else tuple(columns)

    @property
    def statistics(self) -> FloatArray | None:
        """Per-feature statistic of the last tested window (None before the first test)."""
        if not self._statistics.size or math.isnan(self._statistics[0]):
            return None
        return self._statistics.copy()

    @property
    def thresholds(self) -> FloatArray | None:
        """Per-feature thresholds in force (None while the reference is being collected)."""
        return None if self._keys is None else np.full(self._n_features, self._threshold)

    def fit(self, reference: npt.ArrayLike) -> Self:
        """Use the rows of ``reference`` (n, d) as the reference, n >= ``window_size``.

        The test window is emptied. ``n`` may differ from ``n_reference``; a reference taken
        from the stream after a drift (``on_drift="refit"``) has ``n_reference`` events again.
        """
        rows, form = self._check_batch(reference)
        if not self.window_size <= rows.shape[0] <= _MAX_PRODUCT // self.window_size:
            raise InvalidInputError(
                f"a reference needs at least {self.window_size} rows, got {rows.shape[0]}"
            )
        self._adopt(form, rows.shape[1])
        self._reference = rows.copy()
        self._n_collected = rows.shape[0]
        self._drift_detected = False
        self._window_count = 0
        self._drifted[:] = False
        self._statistics[:] = math.nan
        self._complete_reference()
        return self

    def update(self, value: Any) -> None:
        """Update with one event: a number, a sequence of ``d`` numbers or a feature dict."""
        row, form, names = self._check_event(value)
        self._adopt(form, row.shape[1])
        if names is not None and self._feature_names is None:
            self._feature_names = names
        self._run(row)

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Update with each row of ``values`` (n, d) in order; return the rows that signalled."""
        rows, form = self._check_batch(values)
        if rows.shape[0]:
            self._adopt(form, rows.shape[1])
        return np.asarray(self._run(rows), dtype=np.intp)

    def _run(self, rows: FloatArray) -> list[int]:
        hits: list[int] = []
        i, n = 0, rows.shape[0]
        block = 256  # rows tested per vectorised step; doubles while no drift cuts one short
        while i < n:
            if self._drift_detected:  # act on the drift signalled by the previous event
                self._drift_detected = False
                self._window_count = 0
                block = 256
                if self.on_drift == "refit":
                    self._reference = np.zeros((self.n_reference, self._n_features))
                    self._n_collected = 0
                    self._keys = None
            if self._keys is None:
                take = min(n - i, self._reference.shape[0] - self._n_collected)
                self._reference[self._n_collected : self._n_collected + take] = rows[i : i + take]
                self._n_collected += take
                self._t += take
                i += take
                if self._n_collected == self._reference.shape[0]:
                    self._complete_reference()
            else:
                i = self._test(rows, i, block, hits)
                block *= 2
        return hits

    def _test(self, rows: FloatArray, i: int, block: int, hits: list[int]) -> int:
        """Test up to ``block`` rows from ``i``, stopping at a drift; return the next row."""
        w = self.window_size
        m: int = min(rows.shape[0] - i, block, max(1, MAX_CELLS // (w * self._n_features)))
        have = self._window_count
        seq = np.concatenate([self._window[:have], self._codes(rows[i : i + m], self._t)])
        used = m
        first = max(w - 1, have)  # position in seq of the first window end to test
        if first < seq.shape[0]:
            stats = self._sliding_stats(seq[None, first - w + 1 :], self._reference.shape[0])[0]
            over = stats > self._threshold
            alarms = np.flatnonzero(over.any(axis=1))
            k = int(alarms[0]) if alarms.size else stats.shape[0] - 1
            used = first + k + 1 - have
            self._statistics = stats[k].copy()
            if alarms.size:
                self._drift_detected = True
                self._drifted = over[k].copy()
                hits.append(i + used - 1)
        keep = min(w, have + used)
        self._window[:keep] = seq[have + used - keep : have + used]
        self._window_count = keep
        self._t += used
        return i + used

    def _codes(self, x: FloatArray, t0: int) -> IntArray:
        """Rank of each value of ``x`` (m, d) among its reference column, ties broken at random."""
        assert self._keys is not None
        codes = np.empty(x.shape, dtype=np.int32)
        for j in range(x.shape[1]):
            ref, keys = self._reference[:, j], self._keys[:, j]
            lo = np.searchsorted(ref, x[:, j], side="left")
            tied = np.flatnonzero(np.searchsorted(ref, x[:, j], side="right") > lo)
            if tied.size:  # place the value at random among the equal reference values
                index = (tied.astype(np.uint64) + np.uint64(t0)) * np.uint64(x.shape[1]) + j
                lo[tied] = np.searchsorted(
                    keys, np.floor(keys[lo[tied]]) + _hash01(self.seed, index)
                )
            codes[:, j] = lo
        return codes

    def _complete_reference(self) -> None:
        self._reference.sort(axis=0)
        self._epoch += 1
        self._derive()

    def _derive(self) -> None:
        """Tie-break keys (block of equal values + a uniform, sorted) and the threshold."""
        ref = self._reference
        blocks = np.zeros(ref.shape)
        np.cumsum(ref[1:] != ref[:-1], axis=0, out=blocks[1:])
        u = np.random.default_rng([self.seed, self._epoch]).random(ref.shape)
        self._keys = np.sort(blocks + u, axis=0)
        self._threshold = self._calibrated_threshold(*ref.shape)

    @abc.abstractmethod
    def _sliding_stats(self, codes: IntArray, n_ref: int) -> FloatArray:
        """Statistic of every full window of ``codes`` (s, L, d): shape (s, L - W + 1, d).

        A code counts the ``n_ref`` reference values below an event. A window's result must not
        depend on the windows computed with it (so batch == one by one, bit for bit).
        """

    def _calibrated_threshold(self, n_ref: int, d: int) -> float:
        params = {k: v for k, v in self._get_params().items() if k not in ("ert", "on_drift")}
        sim_key = (type(self).__qualname__, n_ref, *sorted(params.items()))
        return calibrated_threshold(
            sim_key, self.ert, d, self.window_size, lambda: self._simulate(n_ref)
        )

    def _simulate(self, n_ref: int) -> FloatArray:
        """Running maxima (streams, S) of the statistic over simulated null streams."""
        return simulate(self._sliding_stats, n_ref, self.window_size, self.n_bootstraps, self.seed)

    def _adopt(self, form: str, d: int) -> None:
        if not self._form:
            self._form = form
            self._n_features = d
            self._reference = np.zeros((self.n_reference, d))
            self._window = np.zeros((self.window_size, d), dtype=np.int32)
            self._drifted = np.zeros(d, dtype=bool)
            self._statistics = np.full(d, math.nan)

    def _check_form(self, form: str, d: int) -> None:
        if self._form and form != self._form:
            kind = "numbers" if self._form == "scalar" else "feature vectors"
            raise InvalidInputError(f"this detector takes {kind}, as its first input did")
        if self._n_features and d != self._n_features:
            raise InvalidInputError(f"expected {self._n_features} features, got {d}")

    def _check_event(self, value: Any) -> tuple[FloatArray, str, tuple[str, ...] | None]:
        row, form, names = parse_event(value, self._feature_names, self._check_value)
        self._check_form(form, row.shape[1])
        return row, form, names

    def _check_batch(self, values: npt.ArrayLike) -> tuple[FloatArray, str]:
        rows, form = parse_batch(values)
        if rows.shape[0]:
            self._check_form(form, rows.shape[1])
        return rows, form

    def _get_state(self) -> dict[str, Any]:
        reference = self._reference.copy()
        reference[self._n_collected :] = 0.0
        window = self._window.copy()
        window[self._window_count :] = 0
        return {
            "form": self._form,
            "feature_names": None if self._feature_names is None else list(self._feature_names),
            "reference": reference.tolist(),
            "n_collected": self._n_collected,
            "epoch": self._epoch,
            "window": window.tolist(),
            "window_count": self._window_count,
            "t": self._t,
            "drift_detected": self._drift_detected,
            "drifted": self._drifted.tolist(),
            "statistics": [None if math.isnan(s) else s for s in self._statistics.tolist()],
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        st = read_state(state, self.window_size, _MAX_PRODUCT // self.window_size)
        self._form, self._n_features = st.form, st.reference.shape[1]
        self._feature_names = st.feature_names
        self._reference, self._n_collected, self._epoch = st.reference, st.n_collected, st.epoch
        self._window, self._window_count, self._t = st.window, st.window_count, st.t
        self._drift_detected = st.drift_detected
        self._drifted = st.drifted
        self._statistics = st.statistics
        self._keys, self._threshold = None, math.nan
        if st.complete:
            self._derive()

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"window_size": 20, "n_reference": 200, "n_bootstraps": 500, "on_drift": "restart"}


def _hash01(seed: int, index: npt.NDArray[np.uint64]) -> FloatArray:
    """Uniforms in [0, 1) that depend only on (seed, index): splitmix64."""
    z = index * np.uint64(0x9E3779B97F4A7C15) + np.uint64((seed * 0xD1B54A32D192ED03 + 1) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out = ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64)
    out *= 2.0**-53
    return out
