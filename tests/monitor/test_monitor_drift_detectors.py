"""Behaviour of DDM and PageHinkley beyond River parity: validation, resets, modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.drift import DDM, DriftDetector, PageHinkley
from monitor.exceptions import InvalidInputError, MonitorError


@pytest.mark.parametrize(
    "params",
    [
        {"warm_start": -1},
        {"warm_start": 2.0},
        {"warm_start": True},
        {"warning_threshold": 0.0},
        {"warning_threshold": math.nan},
        {"drift_threshold": -3.0},
        {"drift_threshold": math.inf},
        {"drift_threshold": "3"},
    ],
)
def test_ddm_bad_hyperparameters_raise_value_error(params: dict) -> None:
    with pytest.raises(ValueError):
        DDM(**params)


@pytest.mark.parametrize(
    "params",
    [
        {"min_instances": -1},
        {"min_instances": 1.5},
        {"delta": -0.1},
        {"threshold": 0.0},
        {"threshold": math.nan},
        {"alpha": 0.0},
        {"alpha": 1.5},
        {"mode": "sideways"},
    ],
)
def test_page_hinkley_bad_hyperparameters_raise_value_error(params: dict) -> None:
    with pytest.raises(ValueError):
        PageHinkley(**params)


@pytest.mark.parametrize("bad", [-0.5, 1.5, 2, -1])
def test_ddm_refuses_values_outside_zero_one(bad: float) -> None:
    det = DDM()
    det.update_many([0, 1, 0, 0])
    before = det.state_dict()
    with pytest.raises(InvalidInputError) as info:
        det.update(bad)
    assert isinstance(info.value, MonitorError) and isinstance(info.value, ValueError)
    with pytest.raises(InvalidInputError):
        det.update_many([0.0, bad])
    assert det.state_dict() == before


def test_ddm_warns_before_it_detects_and_resets_after() -> None:
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.random(2000) < 0.1, rng.random(2000) < 0.4])
    det = DDM()
    warnings = []
    first_drift = None
    for i, e in enumerate(errors.tolist()):
        det.update(e)
        if det.warning_detected:
            warnings.append(i)
        if det.drift_detected:
            assert not det.warning_detected
            first_drift = i
            break
    assert first_drift is not None and 2000 <= first_drift < 2300
    assert any(2000 <= i < first_drift for i in warnings)  # the warning zone came first
    det.update(0)
    assert not det.drift_detected
    assert det.state_dict()["state"]["n"] == 1.0  # the update after a drift starts afresh


def test_page_hinkley_modes_watch_their_direction_only() -> None:
    rng = np.random.default_rng(1)
    down_only = np.concatenate([rng.normal(5.0, 1.0, 1000), rng.normal(0.0, 1.0, 1000)])
    up_only = -down_only
    for values, watching, blind in ((down_only, "down", "up"), (up_only, "up", "down")):
        hits = PageHinkley(mode=watching).update_many(values)
        assert len(hits) >= 1 and 1000 <= hits[0] < 1100
        assert PageHinkley(mode=blind).update_many(values).tolist() == []
        assert PageHinkley(mode="both").update_many(values)[0] == hits[0]


def test_page_hinkley_waits_for_min_instances() -> None:
    values = [0.0] * 5 + [100.0] * 5 + [0.0] * 40
    assert PageHinkley(min_instances=30, threshold=10.0).update_many(values).tolist() == [29]
    assert PageHinkley(min_instances=1, threshold=10.0).update_many(values).tolist()[0] == 5


@pytest.mark.parametrize("cls", [DDM, PageHinkley])
def test_base_class_default_update_many_agrees_with_the_fast_path(cls: type) -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.random(3000) < 0.1, rng.random(3000) < 0.5]).astype(float)
    if cls is PageHinkley:
        values = values * 10.0 + rng.normal(size=len(values))
    fast, slow = cls(), cls()
    expected = fast.update_many(values)
    assert len(expected) >= 1
    np.testing.assert_array_equal(DriftDetector.update_many(slow, values), expected)
    assert slow.state_dict() == fast.state_dict()


def test_numpy_scalars_and_bools_are_accepted() -> None:
    a, b = DDM(), DDM()
    values = [True, False, np.float64(1.0), np.int64(0), np.bool_(True), 1, 0.0]
    for v in values:
        a.update(v)
    b.update_many([float(v) for v in values])
    assert a.state_dict() == b.state_dict()
