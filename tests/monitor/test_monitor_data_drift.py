"""Data-drift detectors (KS, CvM, PSI): calibration to ert, detection delay, exactness, state."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from monitor.drift.cvm_drift import CVMDrift
from monitor.drift.data_drift import DataDriftDetector
from monitor.drift.ks_drift import KSDrift
from monitor.drift.psi_drift import PSIDrift
from monitor.exceptions import IncompatibleStateError, InvalidInputError

DETECTORS: list[type[DataDriftDetector]] = [KSDrift, CVMDrift, PSIDrift]
W, N = 50, 500  # window and reference sizes of the statistical tests
SMALL = {"ert": 100.0, "window_size": 20, "n_reference": 150, "n_bootstraps": 500}


def _sample(dist: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    if dist == "normal":
        return rng.normal(size=shape)
    if dist == "lognormal":  # skewed
        return rng.lognormal(0.0, 1.0, size=shape)
    return rng.poisson(3.0, size=shape).astype(float)  # integers: many ties


def _shifting_stream(seed: int, dist: str = "normal", d: int = 3) -> np.ndarray:
    """Segments whose mean moves on one feature, so detectors signal (and act on it) often."""
    rng = np.random.default_rng(seed)
    X = _sample(dist, rng, (2400, d))
    for k, start in enumerate(range(300, 2400, 300)):
        X[start:, k % d] += 3.0 if k % 2 == 0 else -3.0
    return X


def _canonical(det: DataDriftDetector) -> str:
    return json.dumps(det.state_dict(), sort_keys=True)


# ---------------------------------------------------------------- (a) calibration


CALIBRATION = [
    *[
        pytest.param(cls, ert, d, dist, id=f"{cls.__name__}-ert{ert}-d{d}-{dist}")
        for cls in DETECTORS
        for ert, d, dist in [
            (200, 1, "normal"),
            (200, 5, "lognormal"),
            (1000, 1, "lognormal"),
            (1000, 5, "normal"),
        ]
    ],
    pytest.param(KSDrift, 200, 2, "poisson", id="KSDrift-ert200-d2-poisson-ties"),
]


@pytest.mark.parametrize(("cls", "ert", "d", "dist"), CALIBRATION)
def test_mean_run_length_on_a_stationary_stream_is_ert(
    cls: type[DataDriftDetector], ert: int, d: int, dist: str
) -> None:
    det = cls(ert=ert, window_size=W, n_reference=N)  # on_drift="refit": a new reference each run
    n_alarms = 250 if ert == 200 else 200
    X = _sample(dist, np.random.default_rng(ert + d), (n_alarms * (ert + N + W), d))
    hits = det.update_many(X)
    # A run is tested from the event that fills the window (N + W - 1 events after the alarm
    # before it) up to and including its alarm; the tested events after the last alarm count
    # as a censored run (the maximum-likelihood mean of a geometric law).
    first_tested = np.concatenate([[N + W - 1], hits[:-1] + N + W])
    run_lengths = hits - first_tested + 1
    censored = max(0, len(X) - int(hits[-1]) - N - W)
    mean = (run_lengths.sum() + censored) / hits.size
    print(f"{cls.__name__} ert={ert} d={d} {dist}: mean run length {mean:.0f} over {hits.size}")
    assert run_lengths.min() >= 1
    assert hits.size >= 0.7 * n_alarms
    assert 0.75 * ert <= mean <= 1.25 * ert  # the standard error is about 7%


def test_thresholds_grow_with_ert_and_features() -> None:
    def threshold(ert: float, d: int) -> float:
        det = KSDrift(ert=ert, window_size=W, n_reference=N).fit(
            np.zeros((N, d)) + np.arange(N)[:, None]
        )
        assert det.thresholds is not None and np.ptp(det.thresholds) == 0.0
        return float(det.thresholds[0])

    assert threshold(200, 1) < threshold(1000, 1) < threshold(1000, 5)
    assert KSDrift(window_size=W, n_reference=N).thresholds is None


# ---------------------------------------------------------------- (b) detection delay


@pytest.mark.parametrize("d", [1, 5])
@pytest.mark.parametrize("cls", DETECTORS)
def test_one_sigma_mean_shift_is_detected_with_a_bounded_delay(
    cls: type[DataDriftDetector], d: int
) -> None:
    proto = cls(ert=1000, window_size=W, n_reference=N)
    shift = W + 20  # 20 events are tested before the shift
    delays, false_alarms = [], 0
    for seed in range(20):
        rng = np.random.default_rng(500 + seed)
        det = proto.clone().fit(rng.normal(size=(N, d)))
        X = rng.normal(size=(shift + 400, d))
        X[shift:, d // 2] += 1.0
        hits = det.update_many(X)
        assert hits.size, "the shift was never detected"
        # A first alarm before the shift, or on other features only, is a false alarm (the
        # new reference then holds the shift).
        if hits[0] < shift or d // 2 not in det.drifted_features:
            false_alarms += 1
        else:
            delays.append(int(hits[0]) - shift)
    print(
        f"{cls.__name__} d={d}: delay median {np.median(delays):.0f}, "
        f"mean {np.mean(delays):.1f}, max {max(delays)} events; {false_alarms} false alarms"
    )
    assert false_alarms <= 2
    assert np.median(delays) <= W
    assert max(delays) <= 3 * W


def test_a_binary_feature_with_ties_drifts_and_is_named() -> None:
    rng = np.random.default_rng(11)
    det = KSDrift(ert=1000, window_size=W, n_reference=N)
    for i in range(N + 400):
        det.update(
            {"clicked": float(rng.random() < (0.3 if i < N + 100 else 0.6)), "x": rng.normal()}
        )
        if det.drift_detected:
            break
    assert N + 100 <= i <= N + 100 + 3 * W
    assert det.drifted_features == ("clicked",)


# ---------------------------------------------------------------- (c) exactness and policies


@pytest.mark.parametrize("dist", ["normal", "poisson"])
@pytest.mark.parametrize("on_drift", ["refit", "restart"])
@pytest.mark.parametrize("cls", DETECTORS)
def test_update_many_equals_update_in_order(
    cls: type[DataDriftDetector], on_drift: str, dist: str
) -> None:
    X = _shifting_stream(1, dist)
    names = ["a", "b", "c"]
    one = cls(**SMALL, on_drift=on_drift)
    by_dict = cls(**SMALL, on_drift=on_drift)
    flags, dict_flags = [], []
    for row in X.tolist():
        one.update(row)
        by_dict.update(dict(zip(names, row, strict=True)))
        flags.append(one.drift_detected)
        dict_flags.append(by_dict.drift_detected)
    expected = np.flatnonzero(flags)
    assert len(expected) >= 5 and flags == dict_flags
    assert by_dict.feature_names == tuple(names)
    assert one.statistics is not None
    np.testing.assert_array_equal(by_dict.statistics, one.statistics)

    whole = cls(**SMALL, on_drift=on_drift)
    got = whole.update_many(X)
    assert got.dtype == np.intp
    np.testing.assert_array_equal(got, expected)
    assert _canonical(whole) == _canonical(one)

    # Chunks cut at and right after the detections, empty chunks, single updates.
    rng = np.random.default_rng(2)
    cuts = np.unique(np.concatenate([expected, expected + 1, rng.integers(0, len(X), 30), [0]]))
    chunked = cls(**SMALL, on_drift=on_drift)
    hits = []
    for k, (lo, hi) in enumerate(itertools.pairwise([0, *cuts.tolist(), len(X)])):
        if k % 3 == 0:
            for i in range(lo, hi):
                chunked.update(X[i])
                hits.extend([i] if chunked.drift_detected else [])
        else:
            hits.extend((chunked.update_many(X[lo:hi]) + lo).tolist())
        if hi:
            assert chunked.drift_detected == flags[hi - 1]
    assert hits == expected.tolist()
    assert _canonical(chunked) == _canonical(one)


@pytest.mark.parametrize("cls", DETECTORS)
def test_univariate_stream_of_numbers(cls: type[DataDriftDetector]) -> None:
    x = _shifting_stream(3, d=1)[:, 0]
    one = cls(**SMALL)
    flags = []
    for v in x.tolist():
        one.update(v)
        flags.append(one.drift_detected)
    whole = cls(**SMALL)
    np.testing.assert_array_equal(whole.update_many(x), np.flatnonzero(flags))
    assert _canonical(whole) == _canonical(one) and whole.n_features == 1


def test_statistics_are_the_textbook_ones() -> None:
    rng = np.random.default_rng(4)
    ref, win = rng.normal(size=(300, 2)), rng.normal(0.4, 1.3, size=(40, 2))
    params = {"ert": 1e4, "window_size": 40, "n_bootstraps": 500}
    got = {cls: cls(**params).fit(ref) for cls in DETECTORS}
    for det in got.values():
        assert det.update_many(win).size == 0
    for j in range(2):
        ks = stats.ks_2samp(win[:, j], ref[:, j]).statistic
        cvm = stats.cramervonmises_2samp(win[:, j], ref[:, j]).statistic
        assert got[KSDrift].statistics[j] == pytest.approx(ks, rel=1e-12)
        assert got[CVMDrift].statistics[j] == pytest.approx(cvm, rel=1e-12)
        # PSI over the 10 reference-quantile bins of the 301 rank positions, +0.5 per count.
        bins = np.searchsorted(np.sort(ref[:, j]), win[:, j]) * 10 // 301
        p = np.bincount(np.arange(301) * 10 // 301) / 301
        q = (np.bincount(bins, minlength=10) + 0.5) / 45
        assert got[PSIDrift].statistics[j] == pytest.approx(np.sum((q - p) * np.log(q / p)))


@pytest.mark.parametrize("cls", DETECTORS)
def test_after_a_drift_refit_rebaselines_and_restart_repeats(cls: type[DataDriftDetector]) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N + 700, 2))
    X[N:, 1] += 4.0  # the stream moves as soon as the reference is complete
    refit = cls(ert=1000, window_size=W, n_reference=N)
    first = int(refit.update_many(X[: N + W])[0])
    assert first == N + W - 1 and refit.drifted_features == (1,)
    refit.update(X[first + 1])  # the next event starts the new reference
    assert refit.thresholds is None and not refit.drift_detected
    assert refit.update_many(X[first + 2 : first + N + 1]).size == 0
    assert refit.thresholds is not None  # the shifted regime is the new baseline

    restart = cls(ert=1000, window_size=W, n_reference=N, on_drift="restart")
    hits = restart.update_many(X)
    np.testing.assert_array_equal(hits, np.arange(N + W - 1, len(X), W))  # each refill signals


@pytest.mark.parametrize("cls", DETECTORS)
def test_fit_sets_the_reference_and_the_stream_then_refits_n_reference(
    cls: type[DataDriftDetector],
) -> None:
    rng = np.random.default_rng(6)
    det = cls(**SMALL).fit(rng.normal(size=(400, 2)))  # not n_reference rows
    assert len(det.state_dict()["state"]["reference"]) == 400 and det.thresholds is not None
    assert det.update_many(rng.normal(size=(19, 2))).size == 0 and det.statistics is None
    X = rng.normal(size=(200, 2)) + np.array([5.0, 0.0])
    hits = det.update_many(X[:100])
    hit = int(hits[0])
    assert hits.tolist() == [hit] and hit < 10 and det.drifted_features == (0,)
    state = det.state_dict()["state"]  # the rest of the batch went into a new reference
    assert len(state["reference"]) == 150 and state["n_collected"] == 99 - hit
    assert det.thresholds is None
    det.update_many(X[100 : 100 + 150 - (99 - hit)])
    assert det.state_dict()["state"]["n_collected"] == 150 and det.thresholds is not None


# ---------------------------------------------------------------- (c) state


@pytest.mark.parametrize("split", [0, 60, 160, 300, "after_drift"])
@pytest.mark.parametrize("cls", DETECTORS)
def test_state_round_trip_through_json_continues_identically(
    cls: type[DataDriftDetector], split: int | str
) -> None:
    X = _shifting_stream(7, "poisson")
    if split == "after_drift":
        split = int(cls(**SMALL).update_many(X)[0]) + 1
    assert isinstance(split, int)
    det = cls(**SMALL)
    det.update({"a": 0.0, "b": 1.0, "c": 2.0})
    det.update_many(X[:split])
    state = json.loads(json.dumps(det.state_dict(), allow_nan=False))
    restored = cls(**SMALL)
    restored.update_many(X[:900])  # another state, to be overwritten
    restored.load_state_dict(state)
    assert _canonical(restored) == _canonical(det)
    for prop in ("drift_detected", "drifted_features", "feature_names", "n_features"):
        assert getattr(restored, prop) == getattr(det, prop)
    for prop in ("statistics", "thresholds"):
        np.testing.assert_array_equal(getattr(restored, prop), getattr(det, prop))
    np.testing.assert_array_equal(restored.update_many(X[split:]), det.update_many(X[split:]))
    assert _canonical(restored) == _canonical(det)


def _bad_states(good: dict[str, Any]) -> list[Any]:
    s = good["state"]
    unsorted = [row[:] for row in s["reference"]]
    unsorted[0], unsorted[-1] = unsorted[-1], unsorted[0]
    window = [row[:] for row in s["window"]]
    window[0][0] = len(s["reference"]) + 1
    changes: list[dict[str, Any]] = [
        {"reference": unsorted},
        {"window": window},
        {"window": s["window"][:-1]},
        {"window_count": 999},
        {"n_collected": -1},
        {"feature_names": ["a", "a", "b"]},
        {"feature_names": ["a", "b"]},
        {"form": "scalar"},
        {"form": "matrix"},
        {"statistics": ["x"] * 3},
        {"drifted": [1, 0, 0]},
        {"reference": [[math.nan] * 3] * len(s["reference"])},
        {"reference": s["reference"][:5]},
        {"epoch": 0},
        {"t": True},
    ]
    return [{**good, "state": {**s, **change}} for change in changes] + [
        {**good, "params": {**good["params"], "ert": 5.0}},
        {**good, "type": "KSWIN"},
        {},
    ]


@pytest.mark.parametrize("cls", DETECTORS)
def test_load_state_dict_rejects_bad_states_and_changes_nothing(
    cls: type[DataDriftDetector],
) -> None:
    X = _shifting_stream(8)
    det = cls(**SMALL).fit(X[:150])
    det.update({"a": 0.0, "b": 1.0, "c": 2.0})
    det.update_many(X[150:159])  # testing, the window partly full
    good = det.state_dict()
    assert det.thresholds is not None and 0 < good["state"]["window_count"] < SMALL["window_size"]
    before = _canonical(det)
    for bad in _bad_states(good):
        with pytest.raises(IncompatibleStateError):
            det.load_state_dict(bad)
        assert _canonical(det) == before


@pytest.mark.parametrize("cls", DETECTORS)
def test_memory_is_bounded_and_clone_reset_are_fresh(cls: type[DataDriftDetector]) -> None:
    X = _shifting_stream(9)
    det = cls(**SMALL)
    det.update_many(X[:10])
    size = len(_canonical(det).split(","))
    det.update_many(X[10:])
    assert len(_canonical(det).split(",")) == size
    assert len(vars(det)) == len(vars(cls(**SMALL)))
    twin = det.clone()
    assert _canonical(twin) == _canonical(cls(**SMALL))
    before = _canonical(det)
    twin.update_many(X)
    assert _canonical(det) == before
    det.reset()
    assert _canonical(det) == _canonical(cls(**SMALL))


# ---------------------------------------------------------------- (c) bad input


BAD_EVENTS = [
    math.nan,
    [0.0, math.inf, 1.0],
    [1.0, 2.0],
    [1.0, 2.0, 3.0, 4.0],
    [[1.0, 2.0, 3.0]],
    [1.0, "2", 3.0],
    [1.0, [2.0], 3.0],
    [],
    "1.0",
    b"1",
    None,
    object(),
    {"a": 1.0, "b": 2.0},
    {"a": 1.0, "b": 2.0, "z": 3.0},
    {"a": 1.0, "b": 2.0, "c": "x"},
    {"a": 1.0, "b": 2.0, "c": math.nan},
    {1: 1.0, 2: 2.0, 3: 3.0},
]
BAD_BATCHES = [
    np.zeros((4, 2)),
    np.zeros(4),
    np.zeros((2, 2, 3)),
    np.zeros((4, 0)),
    [[0.0, 1.0, math.nan]],
    [["a", "b", "c"]],
    [[0.0, 1.0, 2.0], [0.0, 1.0]],
]


@pytest.mark.parametrize("stage", [10, 200])  # collecting the reference / testing
@pytest.mark.parametrize("cls", DETECTORS)
def test_bad_inputs_raise_and_change_nothing(cls: type[DataDriftDetector], stage: int) -> None:
    det = cls(**SMALL)
    det.update({"a": 0.0, "b": 1.0, "c": 2.0})
    det.update_many(_shifting_stream(10)[:stage])
    before = _canonical(det)
    for bad in BAD_EVENTS:
        with pytest.raises(InvalidInputError):
            det.update(bad)
        assert _canonical(det) == before, bad
    for bad in BAD_BATCHES:
        with pytest.raises(InvalidInputError):
            det.update_many(bad)
        assert _canonical(det) == before
    for bad in [np.zeros((SMALL["window_size"] - 1, 3)), np.zeros((300, 2)), [[math.inf] * 3] * 30]:
        with pytest.raises(InvalidInputError):
            det.fit(bad)
        assert _canonical(det) == before
    assert det.update_many(np.zeros((0, 3))).size == 0 and _canonical(det) == before


@pytest.mark.parametrize("cls", DETECTORS)
def test_a_stream_of_numbers_refuses_vectors_and_vice_versa(cls: type[DataDriftDetector]) -> None:
    numbers = cls(**SMALL)
    numbers.update(0.5)
    vectors = cls(**SMALL)
    vectors.update([0.5])
    for det, bad_event, bad_batch in [
        (numbers, [0.5], np.zeros((3, 1))),
        (vectors, 0.5, np.zeros(3)),
        (numbers, {"a": 0.5}, np.zeros((3, 2))),
    ]:
        before = _canonical(det)
        with pytest.raises(InvalidInputError):
            det.update(bad_event)
        with pytest.raises(InvalidInputError):
            det.update_many(bad_batch)
        assert _canonical(det) == before


BAD_PARAMS = [
    {"ert": 1.0},
    {"ert": math.nan},
    {"ert": "100"},
    {"window_size": 1},
    {"window_size": 2.0},
    {"window_size": 200, "n_reference": 100},
    {"n_reference": 100_000, "window_size": 100_000},
    {"n_bootstraps": 99},
    {"on_drift": "ignore"},
    {"seed": -1},
    {"seed": None},
]


@pytest.mark.parametrize("cls", DETECTORS)
def test_bad_hyperparameters_raise_value_error(cls: type[DataDriftDetector]) -> None:
    for params in BAD_PARAMS:
        with pytest.raises(ValueError):
            cls(**params)
    for params in [{"n_bins": 1}, {"n_bins": 11, "window_size": 10}] if cls is PSIDrift else []:
        with pytest.raises(ValueError):
            cls(**params)
    det = cls(**SMALL, seed=3)
    assert det.window_size == 20 and det.seed == 3 and det.on_drift == "refit"
    assert repr(det).startswith(f"{cls.__name__}(ert=100.0, window_size=20")
