"""DDM and PageHinkley flag drift at exactly River 0.26's indices, with River's state."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
from river import datasets, drift, tree

from monitor.drift import DDM, PageHinkley


@functools.cache
def _classifier_errors(seed: int) -> tuple[bool, ...]:
    """Prequential errors of a Hoeffding tree on River's ConceptDriftStream (Agrawal)."""
    stream = datasets.synth.ConceptDriftStream(seed=seed, position=2000, width=400)
    model = tree.HoeffdingTreeClassifier()
    errors = []
    for x, y in stream.take(4000):
        errors.append(model.predict_one(x) != y)
        model.learn_one(x, y)
    return tuple(errors)


def _bernoulli(seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    rates = [0.05, 0.3, 0.1, 0.45, 0.2]
    return np.concatenate([rng.random(3000) < p for p in rates]).astype(int).tolist()


def _soft_losses(seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0.0, 0.4, 3000), rng.uniform(0.3, 0.9, 3000)]).tolist()


def _gaussian(seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    means = [0.0, 1.0, -0.5, 2.0, 0.0]
    return np.concatenate([rng.normal(m, 1.0, 4000) for m in means]).tolist()


def _run_river(detector: Any, values: list[Any]) -> tuple[list[int], list[bool]]:
    hits, warnings = [], []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
        warnings.append(getattr(detector, "warning_detected", False))
    return hits, warnings


def _check_parity(ours: DDM | PageHinkley, reference: Any, values: list[Any]) -> list[int]:
    expected, expected_warnings = _run_river(reference, values)
    assert expected, "the stream must make River detect at least one drift"
    twin = ours.clone()
    got, got_warnings = _run_river(ours, values)
    assert got == expected
    assert got_warnings == expected_warnings
    assert twin.update_many(values).tolist() == expected
    assert twin.state_dict() == ours.state_dict()
    return expected


DDM_PARAMS = [
    {},
    {"warm_start": 100, "warning_threshold": 1.5, "drift_threshold": 2.5},
    {"warm_start": 0, "warning_threshold": 2.5, "drift_threshold": 3.5},
]
PH_PARAMS = [
    {},
    {"threshold": 20.0, "mode": "up"},
    {"threshold": 10.0, "alpha": 0.99, "mode": "down", "min_instances": 5},
    {"threshold": 30.0, "delta": 0.1, "min_instances": 100},
]


def _assert_same_ddm_state(ours: DDM, river_ddm: Any) -> None:
    state = ours.state_dict()["state"]
    assert state["n"] == river_ddm._p.n
    assert state["p"] == river_ddm._p.get()
    assert state["p_min"] == river_ddm._p_min
    assert state["s_min"] == river_ddm._s_min
    assert state["drift_detected"] == river_ddm.drift_detected
    assert state["warning_detected"] == river_ddm.warning_detected


def _assert_same_ph_state(ours: PageHinkley, river_ph: Any) -> None:
    state = ours.state_dict()["state"]
    assert state["n"] == river_ph._x_mean.n
    assert state["mean"] == river_ph._x_mean.get()
    assert state["sum_increase"] == river_ph._sum_increase
    assert state["sum_decrease"] == river_ph._sum_decrease
    assert state["min_increase"] == river_ph._min_increase
    assert state["max_decrease"] == river_ph._max_decrease
    assert state["drift_detected"] == river_ph.drift_detected


@pytest.mark.parametrize("params", DDM_PARAMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ddm_matches_river_on_classifier_errors(params: dict, seed: int) -> None:
    errors = list(_classifier_errors(seed))
    ours, reference = DDM(**params), drift.binary.DDM(**params)
    hits = _check_parity(ours, reference, errors)
    assert any(1800 <= i <= 3000 for i in hits)  # the concept change is found
    _assert_same_ddm_state(ours, reference)


@pytest.mark.parametrize("params", DDM_PARAMS)
@pytest.mark.parametrize("seed", range(5))
def test_ddm_matches_river_on_bernoulli_rate_changes(params: dict, seed: int) -> None:
    ours, reference = DDM(**params), drift.binary.DDM(**params)
    hits = _check_parity(ours, reference, _bernoulli(seed))
    assert len(hits) >= 2  # detections after resets are compared too
    _assert_same_ddm_state(ours, reference)


@pytest.mark.parametrize("seed", range(3))
def test_ddm_matches_river_on_soft_losses(seed: int) -> None:
    ours, reference = DDM(), drift.binary.DDM()
    _check_parity(ours, reference, _soft_losses(seed))
    _assert_same_ddm_state(ours, reference)


@pytest.mark.parametrize("seed", range(3))
def test_ddm_matches_river_on_boolean_errors(seed: int) -> None:
    values = [bool(v) for v in _bernoulli(seed + 10)]
    ours, reference = DDM(), drift.binary.DDM()
    _check_parity(ours, reference, values)
    _assert_same_ddm_state(ours, reference)


@pytest.mark.parametrize("params", PH_PARAMS)
@pytest.mark.parametrize("seed", range(4))
def test_page_hinkley_matches_river_on_gaussian_mean_shifts(params: dict, seed: int) -> None:
    ours, reference = PageHinkley(**params), drift.PageHinkley(**params)
    hits = _check_parity(ours, reference, _gaussian(seed))
    _assert_same_ph_state(ours, reference)
    if params.get("mode", "both") != "down":
        assert any(4000 <= i < 4400 for i in hits)  # the upward shift at 4000 is caught fast


@pytest.mark.parametrize("params", [{"threshold": 20.0}, {"threshold": 10.0, "mode": "up"}])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_page_hinkley_matches_river_on_classifier_errors(params: dict, seed: int) -> None:
    errors = list(_classifier_errors(seed))
    ours, reference = PageHinkley(**params), drift.PageHinkley(**params)
    _check_parity(ours, reference, errors)
    _assert_same_ph_state(ours, reference)


@pytest.mark.parametrize("seed", range(3))
def test_page_hinkley_matches_river_on_integer_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.integers(0, 3, 3000), rng.integers(2, 6, 3000)]).tolist()
    ours, reference = PageHinkley(), drift.PageHinkley()
    _check_parity(ours, reference, values)
    _assert_same_ph_state(ours, reference)


def test_fresh_states_match_river() -> None:
    _assert_same_ddm_state(DDM(), drift.binary.DDM())
    ph_state = PageHinkley().state_dict()["state"]
    assert ph_state["min_increase"] is None  # River's +inf; JSON has no infinity
    assert drift.PageHinkley()._min_increase == math.inf


# ---------------------------------------------------------------- ADWIN and KSWIN
# (Appended section: the import sits here so the lines above stay untouched.)

from monitor.drift import ADWIN, KSWIN  # noqa: E402

ADWIN_PARAMS = [
    {},
    {"delta": 0.01, "clock": 1, "max_buckets": 2, "min_window_length": 1, "grace_period": 0},
    {"delta": 0.0005, "clock": 7, "max_buckets": 3, "grace_period": 0},
    {"clock": 16, "max_buckets": 10, "min_window_length": 20, "grace_period": 100},
]


def _adwin_view(detector: Any) -> tuple[float, float, float, float]:
    return (detector.width, detector.total, detector.variance, detector.estimation)


def _check_adwin_parity(params: dict, values: list[Any]) -> list[int]:
    """Same flags as River on every update, same window statistics after every drift."""
    ours, reference = ADWIN(**params), drift.ADWIN(**params)
    expected = []
    for i, x in enumerate(values):
        ours.update(x)
        reference.update(x)
        assert ours.drift_detected == reference.drift_detected, i
        if reference.drift_detected:
            expected.append(i)
            assert _adwin_view(ours) == _adwin_view(reference), i  # the shrunk window
    assert expected, "the stream must make River detect at least one drift"
    assert _adwin_view(ours) == _adwin_view(reference)
    batch = ADWIN(**params)
    assert batch.update_many(values).tolist() == expected
    assert batch.state_dict() == ours.state_dict()
    assert _adwin_view(batch) == _adwin_view(reference)
    return expected


@pytest.mark.parametrize("params", ADWIN_PARAMS)
@pytest.mark.parametrize("seed", range(3))
def test_adwin_matches_river_on_bernoulli_rate_changes(params: dict, seed: int) -> None:
    hits = _check_adwin_parity(params, _bernoulli(seed))
    assert len(hits) >= 3  # rate changes at 3000, 6000, 9000 and 12000
    assert all(any(c <= i < c + 1500 for i in hits) for c in (3000, 9000))


@pytest.mark.parametrize("params", ADWIN_PARAMS)
@pytest.mark.parametrize("seed", range(3))
def test_adwin_matches_river_on_gaussian_mean_shifts(params: dict, seed: int) -> None:
    hits = _check_adwin_parity(params, _gaussian(seed))
    assert any(12000 <= i < 12400 for i in hits)  # the jump from -0.5 to 2.0 is caught fast


@pytest.mark.parametrize("seed", [0, 1])
def test_adwin_matches_river_on_a_long_stream(seed: int) -> None:
    """50k values: wide windows (many bucket rows) and update_many's large batches."""
    rng = np.random.default_rng(100 + seed)
    values = np.concatenate([rng.normal(0.0, 1.0, 30000), rng.normal(0.15, 1.0, 20000)]).tolist()
    hits = _check_adwin_parity({}, values)
    assert any(30000 <= i < 36000 for i in hits)


def test_adwin_matches_river_on_integer_values() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.integers(0, 3, 5000), rng.integers(1, 5, 5000)]).tolist()
    _check_adwin_parity({"clock": 4}, values)


def test_adwin_fresh_state_matches_river() -> None:
    assert _adwin_view(ADWIN()) == _adwin_view(drift.ADWIN()) == (0.0, 0.0, 0.0, 0.0)


KSWIN_CASES = [
    ({"seed": 1}, "gaussian"),
    ({"alpha": 0.01, "window_size": 60, "stat_size": 20, "seed": 7}, "integers"),
    ({"alpha": 0.001, "window_size": 500, "stat_size": 40, "seed": 3}, "gaussian"),
    ({"alpha": 0.05, "window_size": 20, "stat_size": 5, "seed": 11}, "bernoulli"),
    ({"alpha": 0.005, "seed": 5, "window": [0.1 * (i % 9) for i in range(120)]}, "gaussian"),
]


def _short_stream(kind: str, seed: int, n: int = 2000) -> list[float]:
    rng = np.random.default_rng(seed)
    half = n // 2
    if kind == "gaussian":
        return np.concatenate([rng.normal(0.0, 1.0, half), rng.normal(1.0, 1.0, half)]).tolist()
    if kind == "integers":  # many ties
        return np.concatenate([rng.integers(0, 4, half), rng.integers(1, 6, half)]).tolist()
    rates = rng.random(n) < np.where(np.arange(n) < half, 0.1, 0.4)
    return rates.astype(float).tolist()


@pytest.mark.parametrize(("params", "kind"), KSWIN_CASES)
def test_kswin_matches_river(params: dict, kind: str) -> None:
    """Same flags and the same p-value (scipy's, to the last bit) on every update."""
    values = _short_stream(kind, seed=len(kind))
    ours, reference = KSWIN(**params), drift.KSWIN(**params)
    expected = []
    for i, x in enumerate(values):
        ours.update(x)
        reference.update(x)
        assert ours.drift_detected == reference.drift_detected, i
        assert ours.p_value == float(reference.p_value), i
        if reference.drift_detected:
            expected.append(i)
    assert expected, "the stream must make River detect at least one drift"
    assert any(i >= len(values) // 2 for i in expected)
    batch = KSWIN(**params)
    assert batch.update_many(values).tolist() == expected
    assert batch.state_dict() == ours.state_dict()
    assert batch.p_value == float(reference.p_value)
