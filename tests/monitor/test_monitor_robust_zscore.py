"""RobustZScore: what it scores, how it initialises, and how it copes with awkward data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.anomaly import AnomalyDetector, RobustZScore
from monitor.exceptions import InvalidInputError


def _stream_with_outliers(seed: int, n: int = 6000, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    loc = rng.uniform(-50.0, 50.0, d)
    scale = rng.uniform(0.1, 10.0, d)
    X = rng.normal(loc, scale, size=(max(n, 5000), d))
    # 25 outliers, 8-12 standard deviations out in one feature, at least 150 rows apart.
    positions = 500 + 150 * np.arange(25) + rng.integers(0, 50, 25)
    features = rng.integers(0, d, 25)
    signs = rng.choice([-1.0, 1.0], 25)
    X[positions, features] = loc[features] + signs * rng.uniform(8.0, 12.0, 25) * scale[features]
    return X[:n], positions[positions < n]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("batch", [100, 1000])
def test_injected_outliers_score_far_above_normal_points(seed: int, batch: int) -> None:
    X, positions = _stream_with_outliers(seed)
    det = RobustZScore()
    scores = np.concatenate(
        [det.score_learn_many(X[i : i + batch]) for i in range(0, len(X), batch)]
    )
    normal = np.ones(len(X), dtype=bool)
    normal[positions] = False
    normal[:200] = False  # warm-up and the first estimates
    assert scores[positions].min() > 6.0
    assert np.quantile(scores[normal], 0.99) < 4.0
    assert (scores[:30] == 0.0).all() and (scores[30:] > 0.0).all()


def test_outliers_are_found_one_by_one_too() -> None:
    X, positions = _stream_with_outliers(7, n=2500)
    names = [f"x{j}" for j in range(X.shape[1])]
    det = RobustZScore()
    scores = []
    for row in X.tolist():
        x = dict(zip(names, row, strict=True))
        scores.append(det.score_one(x))
        det.learn_one(x)
    assert len(positions) >= 10
    assert min(scores[i] for i in positions) > 6.0
    assert det.feature_names == tuple(names)


def test_first_vectors_give_the_exact_running_mean_and_population_variance() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal([3.0, -7.0, 100.0], [1.0, 0.1, 20.0], size=(80, 3))
    det = RobustZScore(alpha=0.01)
    det.learn_many(X[:1])
    state = det.state_dict()["state"]
    np.testing.assert_array_equal(state["mean"], X[0])
    np.testing.assert_array_equal(state["var"], np.zeros(3))
    det.learn_many(X[1:])  # 80 < 1 / alpha: still the plain running statistics
    state = det.state_dict()["state"]
    np.testing.assert_allclose(state["mean"], X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(state["var"], X.var(axis=0), rtol=1e-12)


def test_statistics_follow_the_documented_recurrence() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(700, 2)) * [1.0, 5.0] + [0.0, 3.0]
    alpha = 0.02
    mean = [0.0, 0.0]
    var = [0.0, 0.0]
    expected_scores = []
    for t, row in enumerate(X.tolist(), start=1):
        expected_scores.append(
            0.0
            if t - 1 < 30
            else max(abs(row[j] - mean[j]) / math.sqrt(var[j] + 1e-9) for j in range(2))
        )
        a = max(alpha, 1.0 / t)
        for j in range(2):
            diff = row[j] - mean[j]
            mean[j] += a * diff
            var[j] = (1.0 - a) * (var[j] + a * diff * diff)
    det = RobustZScore(alpha=alpha)
    np.testing.assert_allclose(det.score_learn_many(X), expected_scores, rtol=1e-12, atol=1e-12)
    state = det.state_dict()["state"]
    np.testing.assert_allclose(state["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(state["var"], var, rtol=1e-12)
    # The recurrence forgets: after a level shift the mean moves to the new level.
    det.learn_many(X[:500] + np.array([10.0, 0.0]))
    assert abs(det.state_dict()["state"]["mean"][0] - 10.0) < 0.5


@pytest.mark.parametrize("warm_up", [1, 5, 30, 250])
def test_scores_are_zero_until_warm_up_vectors_are_learned(warm_up: int) -> None:
    X = np.random.default_rng(2).normal(size=(300, 3))
    det = RobustZScore(warm_up=warm_up)
    scores = det.score_learn_many(X)
    assert (scores[:warm_up] == 0.0).all()
    assert (scores[warm_up:] > 0.0).all()


def test_constant_features_stay_finite() -> None:
    X = np.column_stack([np.full(200, 4.0), np.random.default_rng(3).normal(size=200)])
    det = RobustZScore()
    scores = det.score_learn_many(X)
    assert np.isfinite(scores).all() and np.quantile(scores[30:], 0.99) < 4.0
    assert det.state_dict()["state"]["var"][0] == 0.0
    jump = det.score_many(np.array([[4.001, 0.0]]))[0]
    assert math.isfinite(jump) and jump > 30.0  # 0.001 / sqrt(1e-9)


def test_large_offsets_and_tiny_spreads_are_handled() -> None:
    rng = np.random.default_rng(4)
    X = 1e8 + rng.normal(0.0, 0.01, size=(3000, 3))
    det = RobustZScore()
    scores = det.score_learn_many(X)
    state = det.state_dict()["state"]
    assert (state["var"] > 0.5e-4).all() and (state["var"] < 2e-4).all()
    assert np.quantile(scores[200:], 0.99) < 4.0
    assert det.score_many(np.array([[1e8 + 0.1, 1e8, 1e8]]))[0] > 6.0


def test_feature_order_from_the_first_array_then_named_by_a_dict() -> None:
    X = np.random.default_rng(5).normal(size=(100, 3))
    det = RobustZScore()
    det.learn_many(X)
    assert det.n_features == 3 and det.feature_names is None
    with pytest.raises(InvalidInputError):
        det.learn_one({"a": 1.0, "b": 2.0})
    det.learn_one({"c": 1.0, "a": 2.0, "b": 3.0})
    assert det.feature_names == ("c", "a", "b")
    by_name = det.score_one({"a": 2.0, "b": 3.0, "c": 1.0})
    assert by_name == det.score_many(np.array([[1.0, 2.0, 3.0]]))[0]


def test_base_class_defaults_agree_with_the_fast_paths() -> None:
    X = np.random.default_rng(6).normal(size=(400, 4))
    fast, slow = RobustZScore(), RobustZScore()
    expected = fast.score_learn_many(X)
    got = AnomalyDetector.score_learn_many(slow, X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    x = {"a": 0.3, "b": -1.0, "c": 2.0, "d": 0.0}
    assert AnomalyDetector.score_one(slow, x) == pytest.approx(fast.score_one(x), rel=1e-12)
    AnomalyDetector.learn_one(slow, x)
    fast.learn_one(x)
    assert slow.feature_names == fast.feature_names == ("a", "b", "c", "d")
    np.testing.assert_allclose(
        slow.state_dict()["state"]["var"], fast.state_dict()["state"]["var"], rtol=1e-12
    )


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"alpha": -0.1},
        {"alpha": math.nan},
        {"alpha": True},
        {"alpha": "0.1"},
        {"warm_up": 0},
        {"warm_up": 2.5},
        {"warm_up": True},
        {"eps": 0.0},
        {"eps": -1e-9},
        {"eps": math.inf},
    ],
)
def test_bad_hyperparameters_raise_value_error(params: dict) -> None:
    with pytest.raises(ValueError):
        RobustZScore(**params)


# ---------------------------------------------------------------- method="median"


def _median_reference(X: np.ndarray, window: int, warm_up: int, eps: float) -> np.ndarray:
    """Score of row i against np.median / MAD of the (up to) `window` rows before it."""
    scores = np.zeros(len(X))
    for i in range(warm_up, len(X)):
        past = X[max(0, i - window) : i]
        med = np.median(past, axis=0)
        mad = np.median(np.abs(past - med), axis=0)
        scores[i] = np.max(np.abs(X[i] - med) / (1.4826 * mad + eps))
    return scores


@pytest.mark.parametrize(("window", "warm_up"), [(1, 1), (2, 1), (7, 3), (64, 30), (100, 150)])
def test_median_method_is_numpys_median_and_mad_over_the_window(window: int, warm_up: int) -> None:
    rng = np.random.default_rng(window)
    X = rng.lognormal(size=(400, 3)).round(2)  # rounding: ties inside the windows
    X[:, 2] = 7.0  # a constant feature: MAD 0
    X[350, 2] = 7.5
    expected = _median_reference(X, window, warm_up, 1e-9)
    det = RobustZScore(method="median", window_size=window, warm_up=warm_up)
    got = np.concatenate([det.score_learn_many(X[i : i + 37]) for i in range(0, len(X), 37)])
    np.testing.assert_array_equal(got, expected)  # exact: the same order statistics
    assert got[350] >= 0.5 / 1e-9 * (1.0 - 1e-12)  # at least the constant feature's jump
    window_now = det.state_dict()["state"]["window"]
    assert window_now.shape == (window, 3)
    assert sorted(window_now[:, 0].tolist()) == sorted(X[-window:, 0].tolist())


def _bursty_normal_stream(seed: int, burst: int) -> tuple[np.ndarray, np.ndarray]:
    """Normal data; 60 bursts of `burst` consecutive 10-sigma values in one feature each."""
    rng = np.random.default_rng(seed)
    n, d = 10_000, 4
    X = rng.normal(size=(n, d))
    anomalous = np.zeros(n, dtype=bool)
    for start in 600 + 150 * np.arange(60):
        feature = rng.integers(d)
        for i in range(start, start + burst):
            X[i, feature] = rng.choice([-10.0, 10.0])
            anomalous[i] = True
    return X, anomalous


@pytest.mark.parametrize("seed", [0, 1])
def test_median_method_is_not_masked_by_bursts_of_anomalies(seed: int) -> None:
    X, anomalous = _bursty_normal_stream(seed, burst=5)
    ew = RobustZScore().score_learn_many(X)
    med = RobustZScore(method="median").score_learn_many(X)
    clean = ~anomalous
    clean[:300] = False
    # Each 10-sigma value inflates the EW variance, so the later ones in a burst hide.
    assert (med[anomalous] > 6.0).all()
    assert (ew[anomalous] > 6.0).mean() < 0.6  # about 35% found
    # On the Gaussian part both are quiet at that threshold.
    assert (med[clean] > 6.0).sum() <= 2 and (ew[clean] > 6.0).sum() <= 2


def test_single_outliers_are_found_by_both_methods() -> None:
    X, anomalous = _bursty_normal_stream(2, burst=1)
    for det in (RobustZScore(), RobustZScore(method="median")):
        assert (det.score_learn_many(X)[anomalous] > 6.0).all()


def _lognormal_stream(
    seed: int, n_anomalies: int, n: int = 20_000, d: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Stationary lognormal(0, 1) features; some rows carry a value 10 sigma out in log space."""
    rng = np.random.default_rng(seed)
    X = rng.lognormal(0.0, 1.0, size=(n, d))
    positions = 2000 + (n - 2000) // max(n_anomalies, 1) * np.arange(n_anomalies)
    X[positions, rng.integers(0, d, n_anomalies)] = math.exp(10.0)
    anomalous = np.zeros(n, dtype=bool)
    anomalous[positions] = True
    return X, anomalous


def test_on_heavy_tails_median_mad_alerts_more_than_ew_at_a_fixed_threshold() -> None:
    """The median/MAD scale is that of the bulk; the tail inflates EW's variance instead.

    So at the same fixed threshold the median method raises several times more alerts on a
    stationary lognormal stream (not fewer): pick its threshold by quantile on such data.
    """
    X, anomalous = _lognormal_stream(3, n_anomalies=40)
    clean = ~anomalous
    clean[:500] = False
    ew = RobustZScore().score_learn_many(X)
    med = RobustZScore(method="median").score_learn_many(X)
    ew_alerts, med_alerts = int((ew[clean] > 6.0).sum()), int((med[clean] > 6.0).sum())
    assert med_alerts > 3 * ew_alerts > 0
    assert (med[anomalous] > 6.0).all() and (ew[anomalous] > 6.0).all()


@pytest.mark.parametrize("method", ["ew", "median"])
def test_quantile_threshold_calibrates_either_method_on_heavy_tails(method: str) -> None:
    from monitor.anomaly import QuantileThreshold

    def alerts(X: np.ndarray) -> np.ndarray:
        scores = RobustZScore(method=method).score_learn_many(X)
        policy = QuantileThreshold(q=0.999, window_size=5_000, warm_up=1_000)
        flags: np.ndarray = policy.update_many(scores)
        return flags

    clean_X, _ = _lognormal_stream(4, n_anomalies=0)
    assert 0.0005 < alerts(clean_X)[1_000:].mean() < 0.0016  # about 1 - q
    X, anomalous = _lognormal_stream(5, n_anomalies=10)  # rarer than 1 - q
    flags = alerts(X)
    assert flags[anomalous].all()
    assert flags[1_000:][~anomalous[1_000:]].mean() < 0.0016


@pytest.mark.parametrize(
    "params",
    [{"method": "mean"}, {"method": None}, {"window_size": 0}, {"window_size": 2.0}],
)
def test_bad_median_hyperparameters_raise_value_error(params: dict) -> None:
    with pytest.raises(ValueError):
        RobustZScore(**params)
