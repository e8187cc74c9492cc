"""Threshold policies: the protocol for every exported policy, then each policy's semantics."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import numpy as np
import pytest

import monitor.anomaly
from monitor.anomaly import FixedThreshold, QuantileThreshold, ThresholdPolicy
from monitor.exceptions import IncompatibleStateError, InvalidInputError

POLICIES = [
    obj
    for obj in (getattr(monitor.anomaly, name) for name in monitor.anomaly.__all__)
    if inspect.isclass(obj) and issubclass(obj, ThresholdPolicy) and not inspect.isabstract(obj)
]
CASES = [
    pytest.param(cls, params, id=f"{cls.__name__}-{i}")
    for cls in POLICIES
    for i, params in enumerate(
        [{"threshold": 2.0}, {"threshold": 4}]
        if cls is FixedThreshold
        else list(cls._unit_test_params())  # type: ignore[attr-defined]
    )
]


def _scores(seed: int, n: int = 3000) -> np.ndarray:
    """Skewed scores with ties (rounded) and a level shift, like a detector's output."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.gamma(2.0, 1.0, n), 2)
    scores[n // 2 :] += 1.5
    return scores


def _to_json(state: Any) -> Any:
    return json.loads(json.dumps(state, default=lambda a: a.tolist(), allow_nan=False))


def test_discovery_finds_the_policies() -> None:
    assert {FixedThreshold, QuantileThreshold} <= set(POLICIES)


# ---------------------------------------------------------------- protocol, every policy


@pytest.mark.parametrize(("cls", "params"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_update_many_equals_update_in_order(cls: type, params: dict, seed: int) -> None:
    scores = _scores(seed)
    one = cls(**params)
    expected, thresholds = [], []
    for s in scores.tolist():
        thresholds.append(one.threshold)
        flag = one.update(s)
        assert type(flag) is bool
        expected.append(flag)
    assert any(expected) and not all(expected)
    whole = cls(**params)
    got = whole.update_many(scores)
    assert got.dtype == np.bool_
    assert got.tolist() == expected
    assert _states_equal(whole, one)
    chunked = cls(**params)
    rng = np.random.default_rng(seed)
    cuts = np.unique(np.concatenate([[0, 0, 1, 2], rng.integers(0, len(scores), 30)]))
    flags = []
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(scores)], strict=True):
        flags.extend(chunked.update_many(scores[lo:hi].tolist()).tolist())  # lists too
        if hi < len(scores):
            assert chunked.threshold == thresholds[hi]
    assert flags == expected
    assert _states_equal(chunked, one)


def _states_equal(a: ThresholdPolicy, b: ThresholdPolicy) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["params"] == sb["params"] and set(sa["state"]) == set(sb["state"])
    for key, value in sa["state"].items():
        np.testing.assert_array_equal(value, sb["state"][key])
    return True


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_hyperparameters_are_readable_under_their_names(cls: type, params: dict) -> None:
    policy = cls(**params)
    for name, parameter in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        assert getattr(policy, name) == params.get(name, parameter.default)
    assert repr(policy).startswith(f"{cls.__name__}(")


@pytest.mark.parametrize(("cls", "params"), CASES)
@pytest.mark.parametrize("split", [0, 7, 1999])
def test_state_dict_round_trip_continues_identically(cls: type, params: dict, split: int) -> None:
    scores = _scores(2)
    policy = cls(**params)
    policy.update_many(scores[:split])
    state = policy.state_dict()
    restored = cls(**params)
    restored.update_many(scores[::3])  # some other state, to be overwritten
    restored.load_state_dict(_to_json(state))
    assert restored.threshold == policy.threshold
    np.testing.assert_array_equal(
        restored.update_many(scores[split:]), policy.update_many(scores[split:])
    )
    assert _states_equal(restored, policy)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_load_state_dict_rejects_foreign_states(cls: type, params: dict) -> None:
    policy = cls(**params)
    policy.update_many(_scores(3)[:500])
    before = policy.state_dict()
    other = next(c for c in POLICIES if c is not cls)
    other_state = (other(1.0) if other is FixedThreshold else other()).state_dict()
    for bad in [
        None,
        [],
        {**before, "type": other.__name__},
        {**before, "params": {}},
        {**before, "state": None},
        {**before, "state": {"n": "x", "window": "x", "extra": 1}},
        other_state,
    ]:
        with pytest.raises(IncompatibleStateError):
            policy.load_state_dict(bad)  # type: ignore[arg-type]
        np.testing.assert_equal(policy.state_dict(), before)


@pytest.mark.parametrize(("cls", "params"), CASES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "1", None, [1.0]])
def test_bad_scores_raise_without_changing_state(cls: type, params: dict, bad: Any) -> None:
    policy = cls(**params)
    policy.update_many(_scores(4)[:300])
    before = policy.state_dict()
    with pytest.raises(InvalidInputError):
        policy.update(bad)
    with pytest.raises(InvalidInputError):
        policy.update_many([0.5, 1.0, bad])
    with pytest.raises(InvalidInputError):
        policy.update_many(np.zeros((3, 2)))
    np.testing.assert_equal(policy.state_dict(), before)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_clone_reset_inputs_and_bounded_memory(cls: type, params: dict) -> None:
    scores = _scores(5)
    original = scores.copy()
    policy = cls(**params)
    policy.update_many(scores[:100])
    size = sum(np.size(v) for v in policy.state_dict()["state"].values())
    twin = policy.clone()
    np.testing.assert_equal(twin.state_dict(), cls(**params).state_dict())
    twin.update_many(scores)
    policy.update_many(np.tile(scores, 10))
    assert sum(np.size(v) for v in policy.state_dict()["state"].values()) == size
    assert len(vars(policy)) == len(vars(cls(**params)))
    np.testing.assert_array_equal(scores, original)
    policy.reset()
    np.testing.assert_equal(policy.state_dict(), cls(**params).state_dict())
    assert policy.update_many([]).tolist() == []


# ---------------------------------------------------------------- FixedThreshold


def test_fixed_threshold_flags_scores_strictly_above() -> None:
    policy = FixedThreshold(2.5)
    assert policy.update_many([2.4, 2.5, 2.6, 100]).tolist() == [False, False, True, True]
    assert policy.threshold == 2.5 and policy.state_dict()["state"] == {}


@pytest.mark.parametrize("threshold", [math.nan, math.inf, "1", None, True])
def test_fixed_threshold_rejects_bad_thresholds(threshold: Any) -> None:
    with pytest.raises(ValueError):
        FixedThreshold(threshold)


# ---------------------------------------------------------------- QuantileThreshold


def _quantile_reference(scores: np.ndarray, q: float, window: int, warm_up: int) -> list[bool]:
    flags = []
    for i, s in enumerate(scores.tolist()):
        past = np.sort(scores[max(0, i - window) : i])
        m = len(past)
        if m < warm_up:
            flags.append(False)
            continue
        k = min(math.ceil(q * (m + 1) - 1e-9), m)
        flags.append(s > past[k - 1])
    return flags


@pytest.mark.parametrize(
    ("q", "window", "warm_up"), [(0.9, 50, 10), (0.5, 1, 1), (0.99, 300, 300), (0.75, 513, 4)]
)
def test_quantile_threshold_is_the_conformal_order_statistic(
    q: float, window: int, warm_up: int
) -> None:
    scores = _scores(6)
    policy = QuantileThreshold(q=q, window_size=window, warm_up=warm_up)
    got = np.concatenate([policy.update_many(scores[i : i + 300]) for i in range(0, 3000, 300)])
    assert got.tolist() == _quantile_reference(scores, q, window, warm_up)
    past = np.sort(scores[-window:])
    assert policy.threshold == past[min(math.ceil(q * (window + 1) - 1e-9), window) - 1]


@pytest.mark.parametrize("q", [0.9, 0.99, 0.999])
def test_quantile_threshold_alert_rate_on_a_stationary_stream_is_about_1_minus_q(q: float) -> None:
    rng = np.random.default_rng(int(q * 1000))
    scores = rng.standard_normal(300_000)
    policy = QuantileThreshold(q=q, window_size=10_000, warm_up=2_000)
    alerts = policy.update_many(scores)
    assert not alerts[:2_000].any()
    rate = alerts[2_000:].mean()
    assert rate == pytest.approx(1.0 - q, rel=0.15)


def test_quantile_threshold_follows_a_level_shift() -> None:
    rng = np.random.default_rng(7)
    scores = np.concatenate([rng.normal(0.0, 1.0, 20_000), rng.normal(5.0, 1.0, 20_000)])
    policy = QuantileThreshold(q=0.99, window_size=2_000, warm_up=500)
    alerts = policy.update_many(scores)
    # The first shifted scores beat the old top 1% until ~20 of them fill it.
    assert alerts[20_000:20_015].mean() > 0.8 and alerts[20_100:22_000].mean() < 0.1
    assert alerts[25_000:].mean() == pytest.approx(0.01, rel=0.3)
    assert policy.threshold == pytest.approx(5.0 + 2.33, abs=0.2)


def test_quantile_threshold_is_inf_during_warm_up() -> None:
    policy = QuantileThreshold(q=0.9, window_size=100, warm_up=20)
    assert policy.update_many(np.arange(19.0)).tolist() == [False] * 19
    assert policy.threshold == math.inf
    assert policy.update(1e9) is False  # the 20th score is still compared with inf
    assert policy.threshold == 18.0  # k = ceil(0.9 * 21) = 19th smallest of 0..18, 1e9


@pytest.mark.parametrize(
    "params",
    [
        {"q": 0.0},
        {"q": 1.0},
        {"q": True},
        {"q": "0.9"},
        {"window_size": 0},
        {"window_size": 10.0},
        {"warm_up": 0},
        {"window_size": 10, "warm_up": 11},
        {"warm_up": True},
    ],
)
def test_quantile_threshold_rejects_bad_hyperparameters(params: dict) -> None:
    with pytest.raises(ValueError):
        QuantileThreshold(**params)
