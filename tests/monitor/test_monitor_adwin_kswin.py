"""ADWIN and KSWIN beyond the conformance suite: their numerics, sampler and guards.

River parity (flags, window statistics, p-values) is in test_monitor_river_parity.py.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
import pytest
from scipy import stats

from monitor.drift import ADWIN, KSWIN
from monitor.drift import _sampling as sampling_module
from monitor.drift._ks_pvalue import _p_value
from monitor.drift._sampling import _draw_samples
from monitor.drift.kswin import _largest_gap, _largest_gaps
from monitor.exceptions import IncompatibleStateError


def _hits_one_by_one(det: Any, values: np.ndarray) -> list[int]:
    hits = []
    for i, x in enumerate(values.tolist()):
        det.update(x)
        if det.drift_detected:
            hits.append(i)
    return hits


# ---------------------------------------------------------------- KS p-value and statistic


def _scipy_ks(n: int, gap: int) -> tuple[float, float, bool]:
    """ks_2samp on two samples of n values whose counts differ by at most ``gap``."""
    a = np.arange(n, dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = stats.ks_2samp(a, a + gap, method="auto")
    fell_back = any("Exact calculation unsuccessful" in str(w.message) for w in caught)
    return float(result.statistic), float(result.pvalue), fell_back


P_VALUE_GRID = [
    (n, gap)
    for n in [1, 2, 3, 5, 7, 13, 30, 36, 60, 99, 140, 141, 150, 283]
    for gap in range(n + 1)
] + [(n, gap) for n in [1000, 2500, 10000] for gap in [*range(30), n // 10, n // 3, n]]


def test_p_value_is_scipys_to_the_last_bit() -> None:
    fallbacks = 0
    for n, gap in P_VALUE_GRID:
        statistic, expected, fell_back = _scipy_ks(n, gap)
        assert statistic == gap / n
        assert _p_value(n, gap) == expected, (n, gap)
        fallbacks += fell_back
    # The exact sum rounds above 1 in some cells (e.g. n=30, gap=1): scipy then switches to
    # kstwo.sf (Ruben-Gambino, or the Durbin matrix in long double), and so do we.
    assert fallbacks >= 20


@pytest.mark.parametrize("seed", range(3))
def test_largest_gap_is_scipys_statistic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (1, 5, 30, 77):
        a = rng.integers(0, 6, (50, n)).astype(float)  # many ties
        b = rng.normal(2.0, 2.0, (50, n)).round(1)
        b[:10] = a[:10]  # identical samples: gap 0
        gaps = _largest_gaps(a, b)
        for row in range(50):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # scipy's switch to asymp
                expected = stats.ks_2samp(a[row], b[row]).statistic * n
            assert gaps[row] == round(expected)
            assert _largest_gap(sorted(a[row]), sorted(b[row])) == gaps[row]
        assert (gaps[:10] == 0).all()


# ---------------------------------------------------------------- KSWIN's random samples


class _CountingRandom(random.Random):
    calls = 0

    def getrandbits(self, k: int) -> int:
        self.calls += 1
        return super().getrandbits(k)


@pytest.mark.parametrize(
    ("population", "k"),
    [(70, 30), (20, 5), (21, 3), (22, 3), (40, 20), (277, 30), (278, 30), (460, 40), (1, 1)],
)
def test_sampler_is_random_sample(population: int, k: int) -> None:
    """Pool and set methods of CPython's sample, and the words each call consumes."""
    for seed in (0, 42):
        reference = random.Random(seed)
        states = []
        expected = []
        for _ in range(300):
            expected.append(reference.sample(range(population), k))
            states.append(reference.getstate())
        ours = random.Random(seed)
        got, used = _draw_samples(ours, 300, population, k)
        assert got.tolist() == expected
        assert ours.getstate() == reference.getstate()
        for i in (0, 7, 299):  # rewinding by the words used lands after the i-th call
            rewound = random.Random(seed)
            rewound.getrandbits(32 * used[i])
            assert rewound.getstate() == states[i]


@pytest.mark.parametrize(("population", "k"), [(70, 30), (460, 40)])
def test_sampler_fetches_more_words_when_needed(
    monkeypatch: pytest.MonkeyPatch, population: int, k: int
) -> None:
    monkeypatch.setattr(sampling_module, "_SLACK", 0.5)  # fetch half the words needed at first
    reference = random.Random(3)
    expected = [reference.sample(range(population), k) for _ in range(500)]
    ours = _CountingRandom(3)
    got, _ = _draw_samples(ours, 500, population, k)
    assert got.tolist() == expected
    assert ours.calls >= 3  # first fetch, at least one more, final advance
    assert ours.getstate() == reference.getstate()


# ---------------------------------------------------------------- KSWIN


def test_kswin_initial_window_is_used_once() -> None:
    """As River: the ``window`` fills the first window only, not the one after a drift."""
    window = [float(i % 3) for i in range(150)]
    det = KSWIN(window_size=100, stat_size=30, seed=0, window=window)
    assert det.window == tuple(window)
    assert det.state_dict()["state"]["window_length"] == 100
    assert det.state_dict()["params"]["window"] == window  # JSON-able
    for _ in range(30):  # the tests start at once, against the initial window
        det.update(10.0)
        if det.drift_detected:
            break
    assert det.drift_detected
    det.update(10.0)  # the update after the drift starts from an empty window
    assert det.state_dict()["state"]["window_length"] == 1
    det.reset()
    assert (
        det.state_dict() == KSWIN(window_size=100, stat_size=30, seed=0, window=window).state_dict()
    )


def test_kswin_no_test_until_the_window_is_full() -> None:
    det = KSWIN(window_size=50, stat_size=10, seed=1)
    assert det.update_many(np.r_[np.zeros(48), np.full(1, 100.0)]).tolist() == []
    assert det.p_value == 0.0
    det.update(100.0)  # the 50th value: the first test
    assert 0.0 < det.p_value <= 1.0


def test_kswin_unseeded_detectors_agree_until_they_reseed() -> None:
    """seed=None draws fresh entropy, at construction and after each drift (as River)."""
    det = KSWIN(seed=None)
    twin = KSWIN(seed=None)
    assert twin.state_dict() != det.state_dict()
    twin.load_state_dict(det.state_dict())
    values = np.random.default_rng(0).normal(size=500) + np.repeat([0.0, 2.0], 250)
    fed = 0
    while not det.drift_detected:
        det.update(values[fed])
        fed += 1
    assert twin.update_many(values[:fed]).tolist() == [fed - 1]
    assert twin.state_dict() == det.state_dict()
    twin.update(0.0)
    det.update(0.0)
    assert twin.state_dict()["state"]["rng"] != det.state_dict()["state"]["rng"]


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": -0.1},
        {"alpha": 1.5},
        {"alpha": math.nan},
        {"alpha": True},
        {"stat_size": 0},
        {"stat_size": 10001, "window_size": 30000},
        {"window_size": 59, "stat_size": 30},  # River's sample would fail: 30 of 29
        {"window_size": 100.0},
        {"seed": 1.5},
        {"seed": True},
        {"window": [1.0, math.inf]},
        {"window": ["a"]},
        {"window": 3},
    ],
)
def test_kswin_rejects_bad_hyperparameters(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        KSWIN(**params)


def test_kswin_rejects_a_bad_generator_state() -> None:
    det = KSWIN(seed=1)
    det.update_many(np.arange(150.0))
    state = det.state_dict()
    before = state["state"]
    for bad in (
        {**before, "rng": before["rng"][:-1]},
        {**before, "rng": [*before["rng"][:-1], 10**6]},  # position beyond 624
        {**before, "rng": [2**32, *before["rng"][1:]]},  # not a 32-bit word
        {**before, "window": ["x"] * 100},
        {**before, "window_length": 101},
        {**before, "window": before["window"][:-1]},
    ):
        with pytest.raises(IncompatibleStateError):
            det.load_state_dict({**state, "state": bad})
    assert det.state_dict() == state


# ---------------------------------------------------------------- ADWIN


def test_adwin_window_statistics() -> None:
    det = ADWIN()
    assert (det.width, det.total, det.variance, det.estimation) == (0.0, 0.0, 0.0, 0.0)
    det.update_many([1, 2, 3, 4, 5])
    assert (det.width, det.total, det.variance, det.estimation) == (5.0, 15.0, 10.0, 3.0)


def test_adwin_drift_shrinks_the_window_then_restarts() -> None:
    values = np.r_[np.zeros(2000), np.ones(200)]
    assert ADWIN().update_many(values).tolist() == [2015]
    det = ADWIN()
    det.update_many(values[:2016])
    assert det.drift_detected and 0 < det.width < 2016
    assert det.estimation > 0.0  # the old zeros were dropped
    det.update(1.0)
    assert not det.drift_detected and det.width == 1.0 and det.total == 1.0


@pytest.mark.parametrize("seed", range(2))
def test_adwin_update_many_on_a_long_stream_equals_update(seed: int) -> None:
    """Batches large enough for the fast path's biggest blocks, with drifts inside them."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(m, 1.0, 25000) for m in (0.0, 0.3, 0.0, -0.4)])
    one = ADWIN(clock=8)
    expected = _hits_one_by_one(one, values)
    assert len(expected) >= 3
    many = ADWIN(clock=8)
    got = np.concatenate(
        [many.update_many(part) + lo for lo, part in ((0, values[:70001]), (70001, values[70001:]))]
    )
    assert got.tolist() == expected
    assert many.state_dict() == one.state_dict()


@pytest.mark.parametrize(
    "params",
    [
        {"delta": 0.0},
        {"delta": 1.0},
        {"delta": math.nan},
        {"clock": 0},
        {"clock": 2.0},
        {"max_buckets": 1},
        {"min_window_length": 0},
        {"grace_period": -1},
        {"grace_period": True},
    ],
)
def test_adwin_rejects_bad_hyperparameters(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ADWIN(**params)


def test_adwin_rejects_buckets_that_do_not_match_the_count() -> None:
    det = ADWIN()
    det.update_many(np.random.default_rng(0).normal(size=1000))
    state = det.state_dict()
    inner = state["state"]
    lengths = list(inner["row_lengths"])
    lengths[0] -= 1
    for bad in (
        {**inner, "n": inner["n"] + 1},  # more values seen than the buckets hold
        {**inner, "width": inner["width"] - 1.0},
        {**inner, "row_lengths": lengths},
        {**inner, "n_rows": 0},
        {**inner, "totals": inner["totals"][:-1]},
    ):
        with pytest.raises(IncompatibleStateError):
            det.load_state_dict({**state, "state": bad})
    assert det.state_dict() == state


# ------------------------------------------------------------------ ADWIN's C loop


def _adwin_stream(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.0, 1.0, 6000), rng.normal(0.7, 1.0, 6000)])


@pytest.mark.parametrize(
    "params", [{}, {"delta": 0.01, "clock": 1, "max_buckets": 2, "min_window_length": 1}]
)
def test_adwin_c_loop_numpy_path_and_update_agree_exactly(
    params: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.drift import _adwin_native

    assert _adwin_native._library() is not None  # CI machines have a C compiler
    xs = _adwin_stream(5)
    loop = ADWIN(**params)
    expected = []
    for i, x in enumerate(xs.tolist()):
        loop.update(x)
        if loop.drift_detected:
            expected.append(i)
    assert expected
    native = ADWIN(**params)
    got = np.concatenate([native.update_many(xs[i : i + 500]) + i for i in range(0, len(xs), 500)])
    monkeypatch.setattr("monitor.drift.adwin.native_buckets", lambda *a, **k: None)
    numpy_path = ADWIN(**params)
    got_np = np.concatenate(
        [numpy_path.update_many(xs[i : i + 500]) + i for i in range(0, len(xs), 500)]
    )
    assert got.tolist() == got_np.tolist() == expected
    assert native.state_dict() == numpy_path.state_dict() == loop.state_dict()


def test_adwin_switches_between_the_c_loop_and_update_without_a_seam() -> None:
    xs = _adwin_stream(9)
    mixed, loop = ADWIN(clock=4), ADWIN(clock=4)
    got, want = [], []
    pos = 0
    for step, n in enumerate([700, 1, 1, 2500, 3, 1800, 1, 4000, 2994]):
        chunk = xs[pos : pos + n]
        if step % 2:
            for j, x in enumerate(chunk.tolist()):
                mixed.update(x)
                if mixed.drift_detected:
                    got.append(pos + j)
        else:
            got += (mixed.update_many(chunk) + pos).tolist()
            snapshot = ADWIN(clock=4)
            snapshot.load_state_dict(mixed.state_dict())  # a checkpoint between batches
            mixed = snapshot
        pos += n
    for i, x in enumerate(xs.tolist()):
        loop.update(x)
        if loop.drift_detected:
            want.append(i)
    assert got == want and want
    assert mixed.state_dict() == loop.state_dict()
