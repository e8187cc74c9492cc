"""EDDM and HDDM_A flag drift at exactly River 0.26's indices, with River's state."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from river import datasets, drift, tree

from monitor.drift import EDDM, HDDM_A


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


def _bernoulli(seed: int, rates: tuple[float, ...]) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(3000) < p for p in rates]).astype(int).tolist()


UP_AND_DOWN = (0.05, 0.3, 0.1, 0.45, 0.2)
MOSTLY_UP = (0.02, 0.2, 0.05, 0.4, 0.1, 0.6)


def _run_river(detector: Any, values: list[Any]) -> tuple[list[int], list[bool]]:
    hits, warnings = [], []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
        warnings.append(detector.warning_detected)
    return hits, warnings


def _check_parity(ours: EDDM | HDDM_A, reference: Any, values: list[Any]) -> list[int]:
    expected, expected_warnings = _run_river(reference, values)
    assert expected, "the stream must make River detect at least one drift"
    twin = ours.clone()
    got, got_warnings = _run_river(ours, values)
    assert got == expected
    assert got_warnings == expected_warnings
    assert twin.update_many(values).tolist() == expected
    assert twin.state_dict() == ours.state_dict()
    return expected


def _assert_same_eddm_state(ours: EDDM, river_eddm: Any) -> None:
    state = ours.state_dict()["state"]
    assert state["n"] == river_eddm._n
    assert state["last_error"] == river_eddm._last_error
    assert state["n_errors"] == river_eddm._n_errors == river_eddm._error_distances.n
    assert state["mean"] == river_eddm._error_distances.mean.get()
    assert state["s"] == river_eddm._error_distances._S
    assert state["p2s_max"] == river_eddm._p2s_prime_max
    assert state["drift_detected"] == river_eddm.drift_detected
    assert state["warning_detected"] == river_eddm.warning_detected


def _assert_same_hddm_a_state(ours: HDDM_A, river_hddm: Any) -> None:
    state = ours.state_dict()["state"]
    assert state["n"] == river_hddm._z.n
    assert state["mean"] == river_hddm._z.get()
    assert state["n_min"] == river_hddm._x_min.n
    assert state["mean_min"] == river_hddm._x_min.get()
    assert state["n_max"] == river_hddm._x_max.n
    assert state["mean_max"] == river_hddm._x_max.get()
    assert state["drift_detected"] == river_hddm.drift_detected
    assert state["warning_detected"] == river_hddm.warning_detected


EDDM_PARAMS = [
    {},
    {"warm_start": 10, "alpha": 0.8, "beta": 0.75},
    {"warm_start": 100, "alpha": 0.9, "beta": 0.85},
]
HDDM_A_PARAMS = [
    {},
    {"drift_confidence": 0.0001, "warning_confidence": 0.001},
    {"two_sided_test": True},
    {"drift_confidence": 0.005, "warning_confidence": 0.01, "two_sided_test": True},
]


@pytest.mark.parametrize("params", EDDM_PARAMS)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rates", [UP_AND_DOWN, MOSTLY_UP])
def test_eddm_matches_river_on_bernoulli_rate_changes(
    params: dict, seed: int, rates: tuple[float, ...]
) -> None:
    ours, reference = EDDM(**params), drift.binary.EDDM(**params)
    _check_parity(ours, reference, _bernoulli(seed, rates))
    _assert_same_eddm_state(ours, reference)


@pytest.mark.parametrize("params", EDDM_PARAMS[:2])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_eddm_matches_river_on_classifier_errors(params: dict, seed: int) -> None:
    ours, reference = EDDM(**params), drift.binary.EDDM(**params)
    _check_parity(ours, reference, list(_classifier_errors(seed)))
    _assert_same_eddm_state(ours, reference)


@pytest.mark.parametrize("seed", range(3))
def test_eddm_matches_river_on_soft_values(seed: int) -> None:
    """As in River, only a value equal to 1 counts as an error."""
    rng = np.random.default_rng(seed)
    values = _bernoulli(seed + 20, MOSTLY_UP)
    soft = [0.5 if v == 0 and rng.random() < 0.3 else v for v in values]
    ours, reference = EDDM(), drift.binary.EDDM()
    _check_parity(ours, reference, soft)
    _assert_same_eddm_state(ours, reference)


@pytest.mark.parametrize("params", HDDM_A_PARAMS)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rates", [UP_AND_DOWN, MOSTLY_UP])
def test_hddm_a_matches_river_on_bernoulli_rate_changes(
    params: dict, seed: int, rates: tuple[float, ...]
) -> None:
    ours, reference = HDDM_A(**params), drift.binary.HDDMA(**params)
    hits = _check_parity(ours, reference, _bernoulli(seed, rates))
    assert len(hits) >= 2  # detections after resets are compared too
    _assert_same_hddm_a_state(ours, reference)


@pytest.mark.parametrize("params", HDDM_A_PARAMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hddm_a_matches_river_on_classifier_errors(params: dict, seed: int) -> None:
    ours, reference = HDDM_A(**params), drift.binary.HDDMA(**params)
    hits = _check_parity(ours, reference, list(_classifier_errors(seed)))
    if not params.get("two_sided_test"):
        assert any(1800 <= i <= 3000 for i in hits)  # the concept change is found
    _assert_same_hddm_a_state(ours, reference)


@pytest.mark.parametrize("seed", range(3))
def test_hddm_a_matches_river_on_soft_losses(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.uniform(0.0, 0.4, 3000), rng.uniform(0.3, 0.9, 3000)]).tolist()
    ours, reference = HDDM_A(two_sided_test=True), drift.binary.HDDMA(two_sided_test=True)
    _check_parity(ours, reference, values)
    _assert_same_hddm_a_state(ours, reference)


def test_fresh_states_match_river() -> None:
    _assert_same_eddm_state(EDDM(), drift.binary.EDDM())
    _assert_same_hddm_a_state(HDDM_A(), drift.binary.HDDMA())


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (EDDM, {"warm_start": -1}),
        (EDDM, {"alpha": 0.8, "beta": 0.9}),
        (EDDM, {"alpha": 1.5}),
        (EDDM, {"beta": 0.0}),
        (HDDM_A, {"drift_confidence": 0.0}),
        (HDDM_A, {"warning_confidence": 1.0}),
        (HDDM_A, {"two_sided_test": 1}),
    ],
)
def test_bad_hyperparameters_raise(cls: type, params: dict) -> None:
    with pytest.raises(ValueError):
        cls(**params)
