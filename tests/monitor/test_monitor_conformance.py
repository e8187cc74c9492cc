"""Conformance checks run against every detector exported by monitor.drift and monitor.anomaly."""

from __future__ import annotations

import inspect
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

import monitor.anomaly
import monitor.drift
from monitor.anomaly import AnomalyDetector
from monitor.drift import DriftDetector
from monitor.exceptions import IncompatibleStateError, InvalidInputError


def _concrete(package: Any, base: type) -> list[type]:
    found = []
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj) and issubclass(obj, base) and not inspect.isabstract(obj):
            found.append(obj)
    return found


DRIFT_CLASSES = _concrete(monitor.drift, DriftDetector)
ANOMALY_CLASSES = _concrete(monitor.anomaly, AnomalyDetector)


def _cases(classes: list[type]) -> list[Any]:
    return [
        pytest.param(cls, params, id=f"{cls.__name__}-{i}")
        for cls in classes
        for i, params in enumerate(cls._unit_test_params())
    ]


DRIFT_CASES = _cases(DRIFT_CLASSES)
ANOMALY_CASES = _cases(ANOMALY_CLASSES)


def test_discovery_finds_the_detectors() -> None:
    names = {cls.__name__ for cls in DRIFT_CLASSES + ANOMALY_CLASSES}
    assert {"DDM", "PageHinkley", "RobustZScore"} <= names


# ---------------------------------------------------------------- helpers


def _drift_stream(cls: type[DriftDetector], seed: int, n_per_segment: int = 1000) -> np.ndarray:
    """Several abrupt changes, so every detector flags drifts (and so resets) repeatedly."""
    rng = np.random.default_rng(seed)
    if cls.binary_input:
        rates = [0.1, 0.6, 0.05, 0.5, 0.1, 0.7]
        return np.concatenate([rng.random(n_per_segment) < p for p in rates]).astype(float)
    means = [0.0, 5.0, -4.0, 3.0, -5.0, 4.0]
    return np.concatenate([rng.normal(m, 1.0, n_per_segment) for m in means])


def _anomaly_stream(seed: int, n: int = 700, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=rng.uniform(-5, 5, d), scale=rng.uniform(0.5, 3, d), size=(n, d))
    X[rng.choice(np.arange(50, n), 5, replace=False), rng.integers(0, d, 5)] += 25.0
    return X


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, Mapping):
        for key in sorted(obj):
            yield key
            yield from _leaves(obj[key])
    elif isinstance(obj, list | tuple):
        yield len(obj)
        for item in obj:
            yield from _leaves(item)
    else:
        yield obj


def _state_size(state: Mapping[str, Any]) -> int:
    """Number of scalars in a state dict, counting every array element."""
    size = 0
    for leaf in _leaves(state):
        size += leaf.size if isinstance(leaf, np.ndarray) else 1
    return size


def _assert_json_able(state: Any) -> None:
    if isinstance(state, Mapping):
        for key, value in state.items():
            assert isinstance(key, str)
            _assert_json_able(value)
    elif isinstance(state, list | tuple):
        for value in state:
            _assert_json_able(value)
    elif isinstance(state, np.ndarray):
        assert state.dtype.kind in "biuf"
    else:
        assert state is None or isinstance(state, bool | int | float | str), state


def _json_round_trip(state: Mapping[str, Any]) -> Any:
    def encode(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(type(obj))

    return json.loads(json.dumps(state, default=encode, allow_nan=False))


def _assert_states_equal(a: Any, b: Any, rtol: float = 0.0, atol: float = 0.0) -> None:
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b)
        for key in a:
            _assert_states_equal(a[key], b[key], rtol, atol)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)
    elif isinstance(a, float) and isinstance(b, float) and (rtol or atol):
        assert math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    else:
        assert a == b and type(a) is type(b), (a, b)


# ---------------------------------------------------------------- drift detectors


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_hyperparameters_stored_under_their_names(cls: type, params: dict) -> None:
    det = cls(**params)
    signature = inspect.signature(cls.__init__)
    for name, parameter in list(signature.parameters.items())[1:]:
        assert getattr(det, name) == params.get(name, parameter.default)
    assert repr(det).startswith(f"{cls.__name__}(")
    assert not det.drift_detected


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_update_many_equals_update_in_order(cls: type, params: dict, seed: int) -> None:
    values = _drift_stream(cls, seed)
    one = cls(**params)
    flags = []
    warnings = []
    for x in values.tolist():
        one.update(x)
        flags.append(one.drift_detected)
        warnings.append(getattr(one, "warning_detected", False))
    expected = np.flatnonzero(flags)
    assert len(expected) >= 2  # the stream really drifts, so resets are exercised too

    whole = cls(**params)
    got = whole.update_many(values)
    assert got.dtype == np.intp
    np.testing.assert_array_equal(got, expected)
    _assert_states_equal(whole.state_dict(), one.state_dict())

    # Chunked, with boundaries right at and after the detections (a pending reset crosses a
    # boundary), empty chunks and single updates mixed in.
    rng = np.random.default_rng(seed)
    cuts = np.unique(
        np.concatenate([expected, expected + 1, rng.integers(0, len(values), 40), [0, 0]])
    )
    chunked = cls(**params)
    hits = []
    bounds = [0, *cuts.tolist(), len(values)]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if k % 3 == 0:
            for i in range(lo, hi):
                chunked.update(values[i])
                if chunked.drift_detected:
                    hits.append(i)
        else:
            hits.extend((chunked.update_many(values[lo:hi]) + lo).tolist())
        if hi > 0:
            assert chunked.drift_detected == flags[hi - 1]
            assert getattr(chunked, "warning_detected", False) == warnings[hi - 1]
    assert hits == expected.tolist()
    _assert_states_equal(chunked.state_dict(), one.state_dict())


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_update_many_accepts_lists_bools_and_empty(cls: type, params: dict) -> None:
    values = _drift_stream(cls, 3)
    a, b, c = cls(**params), cls(**params), cls(**params)
    expected = a.update_many(values)
    as_list = values.tolist()
    np.testing.assert_array_equal(b.update_many(as_list), expected)
    assert c.update_many([]).tolist() == []
    assert c.state_dict() == cls(**params).state_dict()
    if cls.binary_input:
        np.testing.assert_array_equal(c.update_many(values.astype(bool)), expected)
        _assert_states_equal(c.state_dict(), a.state_dict())


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_inputs_not_mutated(cls: type, params: dict) -> None:
    values = _drift_stream(cls, 4)
    original = values.copy()
    as_list = values.tolist()
    det = cls(**params)
    det.update_many(values)
    det.update_many(as_list)
    np.testing.assert_array_equal(values, original)
    assert as_list == original.tolist()


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
@pytest.mark.parametrize("where", ["fresh", "middle", "right_after_drift"])
def test_drift_state_dict_round_trip_continues_identically(
    cls: type, params: dict, where: str
) -> None:
    values = _drift_stream(cls, 5)
    first_hit = int(cls(**params).update_many(values)[0])
    split = {"fresh": 0, "middle": len(values) // 2 + 7, "right_after_drift": first_hit + 1}[where]
    det = cls(**params)
    det.update_many(values[:split])
    state = det.state_dict()
    _assert_json_able(state)
    assert state["type"] == cls.__name__
    if where == "right_after_drift":
        assert det.drift_detected and state["state"]["drift_detected"] is True

    restored = cls(**params)
    restored.update_many(values[: len(values) // 3])  # some other state, to be overwritten
    restored.load_state_dict(_json_round_trip(state))
    _assert_states_equal(restored.state_dict(), state)
    assert restored.drift_detected == det.drift_detected
    np.testing.assert_array_equal(
        restored.update_many(values[split:]), det.update_many(values[split:])
    )
    _assert_states_equal(restored.state_dict(), det.state_dict())


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_load_state_dict_rejects_foreign_states(cls: type, params: dict) -> None:
    det = cls(**params)
    det.update_many(_drift_stream(cls, 6)[:500])
    before = det.state_dict()
    other_cls = next(c for c in DRIFT_CLASSES if c is not cls)
    bad_states: list[Any] = [
        [],
        {**before, "type": other_cls.__name__},
        {**before, "params": {**before["params"], "not_a_param": 1}},
        {**before, "state": None},
        {**before, "state": {k: "x" for k in before["state"]}},
        {**before, "state": {}},
        other_cls().state_dict(),
    ]
    for bad in bad_states:
        with pytest.raises(IncompatibleStateError):
            det.load_state_dict(bad)
        assert det.state_dict() == before


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_clone_is_fresh_and_independent(cls: type, params: dict) -> None:
    values = _drift_stream(cls, 7)
    det = cls(**params)
    det.update_many(values[:1500])
    before = det.state_dict()
    twin = det.clone()
    assert type(twin) is cls and twin is not det
    assert twin.state_dict() == cls(**params).state_dict()
    twin.update_many(values)
    assert det.state_dict() == before
    det.reset()
    assert det.state_dict() == cls(**params).state_dict()


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "1", None, b"0", [0.0]])
def test_drift_bad_values_raise_without_changing_state(cls: type, params: dict, bad: Any) -> None:
    det = cls(**params)
    det.update_many(_drift_stream(cls, 8)[:777])
    before = det.state_dict()
    with pytest.raises(InvalidInputError):
        det.update(bad)
    assert det.state_dict() == before
    with pytest.raises(InvalidInputError):
        det.update_many([0.0, 1.0, bad])
    assert det.state_dict() == before
    with pytest.raises(InvalidInputError):
        det.update_many(np.zeros((3, 2)))
    assert det.state_dict() == before


@pytest.mark.parametrize(("cls", "params"), DRIFT_CASES)
def test_drift_memory_is_bounded(cls: type, params: dict) -> None:
    values = _drift_stream(cls, 9, n_per_segment=5000)
    det = cls(**params)
    det.update_many(values[:100])
    small = _state_size(det.state_dict())
    det.update_many(values[100:])
    assert _state_size(det.state_dict()) == small
    assert len(vars(det)) == len(vars(cls(**params)))


# ---------------------------------------------------------------- anomaly detectors


def _rows_as_dicts(X: np.ndarray, names: list[str]) -> list[dict[str, float]]:
    return [dict(zip(names, row, strict=True)) for row in X.tolist()]


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_hyperparameters_stored_under_their_names(cls: type, params: dict) -> None:
    det = cls(**params)
    signature = inspect.signature(cls.__init__)
    for name, parameter in list(signature.parameters.items())[1:]:
        assert getattr(det, name) == params.get(name, parameter.default)
    assert det.n_features is None and det.feature_names is None


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_scores_before_any_learning(cls: type, params: dict) -> None:
    det = cls(**params)
    X = _anomaly_stream(0)[:10]
    assert det.score_one({"a": 1.0, "b": 2.0}) == 0.0
    np.testing.assert_array_equal(det.score_many(X), np.zeros(10))
    _assert_states_equal(det.state_dict(), cls(**params).state_dict())  # learned nothing


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_anomaly_score_learn_many_equals_one_by_one(cls: type, params: dict, seed: int) -> None:
    X = _anomaly_stream(seed)
    names = [f"f{j}" for j in range(X.shape[1])]
    one = cls(**params)
    expected = []
    for x in _rows_as_dicts(X, names):
        expected.append(one.score_one(x))
        one.learn_one(x)
    expected_arr = np.array(expected)
    assert (expected_arr > 0).any()

    whole = cls(**params)
    np.testing.assert_allclose(whole.score_learn_many(X), expected_arr, rtol=1e-12, atol=1e-12)
    _assert_states_equal(whole.state_dict()["state"]["n"], one.state_dict()["state"]["n"])

    # Uneven batches crossing warm-up, the end of the 1/t phase and internal block edges.
    chunked = cls(**params)
    got = [
        chunked.score_learn_many(X[lo:hi])
        for lo, hi in [(0, 1), (1, 4), (4, 4), (4, 33), (33, 190), (190, 450), (450, len(X))]
    ]
    np.testing.assert_allclose(np.concatenate(got), expected_arr, rtol=1e-12, atol=1e-12)
    for a, b in ((whole, one), (chunked, one)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa["params"] == sb["params"]
        assert sa["state"]["n_features"] == sb["state"]["n_features"]
        for key, value in sb["state"].items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(sa["state"][key], value, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_learn_many_equals_learn_one(cls: type, params: dict) -> None:
    X = _anomaly_stream(3)
    names = [f"f{j}" for j in range(X.shape[1])]
    one = cls(**params)
    for x in _rows_as_dicts(X, names):
        one.learn_one(x)
    many = cls(**params)
    many.learn_many(X[:250])
    many.learn_many(X[250:])
    many.learn_one(dict.fromkeys(names, 0.0))  # names the columns
    one.learn_one(dict.fromkeys(names, 0.0))
    _assert_states_equal(many.state_dict(), one.state_dict(), rtol=1e-12, atol=1e-12)
    probe = _anomaly_stream(4)[:50]
    np.testing.assert_allclose(many.score_many(probe), one.score_many(probe), rtol=1e-12)


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_scoring_learns_nothing(cls: type, params: dict) -> None:
    X = _anomaly_stream(5)
    names = [f"f{j}" for j in range(X.shape[1])]
    det = cls(**params)
    det.learn_many(X[:400])
    before = det.state_dict()
    scores = det.score_many(X[400:])
    one_by_one = [det.score_one(x) for x in _rows_as_dicts(X[400:], names)]
    _assert_states_equal(det.state_dict(), before)
    np.testing.assert_allclose(scores, one_by_one, rtol=1e-12, atol=1e-12)
    assert scores.shape == (len(X) - 400,) and (scores >= 0).all()


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_inputs_not_mutated(cls: type, params: dict) -> None:
    X = _anomaly_stream(6)
    original = X.copy()
    x = {"f0": 1.0, "f1": 2.0, "f2": 3.0, "f3": 4.0}
    x_copy = dict(x)
    det = cls(**params)
    det.score_learn_many(X)
    det.learn_many(X)
    det.score_many(X)
    det.learn_one(x)
    det.score_one(x)
    np.testing.assert_array_equal(X, original)
    assert x == x_copy and list(x) == list(x_copy)


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
@pytest.mark.parametrize("named", [False, True])
def test_anomaly_state_dict_round_trip_continues_identically(
    cls: type, params: dict, named: bool
) -> None:
    X = _anomaly_stream(7)
    det = cls(**params)
    det.score_learn_many(X[:300])
    if named:
        det.learn_one({f"f{j}": 0.5 for j in range(X.shape[1])})
    state = det.state_dict()
    _assert_json_able(state)
    restored = cls(**params)
    restored.learn_many(_anomaly_stream(8, d=2)[:20])  # some other state, to be overwritten
    restored.load_state_dict(_json_round_trip(state))
    _assert_states_equal(restored.state_dict(), state)
    assert restored.feature_names == det.feature_names
    np.testing.assert_array_equal(restored.score_learn_many(X[300:]), det.score_learn_many(X[300:]))
    _assert_states_equal(restored.state_dict(), det.state_dict())
    fresh = cls(**params)
    fresh.load_state_dict(_json_round_trip(cls(**params).state_dict()))
    assert fresh.n_features is None


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_load_state_dict_rejects_foreign_states(cls: type, params: dict) -> None:
    det = cls(**params)
    det.learn_many(_anomaly_stream(9)[:200])
    before = det.state_dict()
    bad_states: list[Any] = [
        None,
        {**before, "type": "Other"},
        {**before, "params": {}},
        {**before, "state": []},
        {**before, "state": {**before["state"], "n_features": 3}},
        {**before, "state": {**before["state"], "feature_names": ["a"]}},
        {**before, "state": {k: "x" for k in before["state"]}},
    ]
    for bad in bad_states:
        with pytest.raises(IncompatibleStateError):
            det.load_state_dict(bad)
        _assert_states_equal(det.state_dict(), before)


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_clone_is_fresh_and_independent(cls: type, params: dict) -> None:
    X = _anomaly_stream(10)
    det = cls(**params)
    det.learn_many(X[:300])
    before = det.state_dict()
    twin = det.clone()
    assert type(twin) is cls and twin is not det
    _assert_states_equal(twin.state_dict(), cls(**params).state_dict())
    twin.learn_many(X[300:] * 3.0)
    twin.learn_one({"x": 1.0, "y": 2.0, "z": 3.0, "w": 4.0})
    _assert_states_equal(det.state_dict(), before)
    assert det.feature_names is None
    det.reset()
    _assert_states_equal(det.state_dict(), cls(**params).state_dict())


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_anomaly_non_finite_values_raise_without_changing_state(
    cls: type, params: dict, bad: float
) -> None:
    X = _anomaly_stream(11)
    names = [f"f{j}" for j in range(X.shape[1])]
    det = cls(**params)
    det.score_learn_many(X[:200])
    det.learn_one(dict(zip(names, X[200].tolist(), strict=True)))
    before = det.state_dict()
    bad_X = X[201:260].copy()
    bad_X[-1, 2] = bad
    bad_x = dict(zip(names, X[201].tolist(), strict=True)) | {"f1": bad}
    calls = [
        lambda: det.score_learn_many(bad_X),
        lambda: det.learn_many(bad_X),
        lambda: det.score_many(bad_X),
        lambda: det.learn_one(bad_x),
        lambda: det.score_one(bad_x),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError):
            call()
        _assert_states_equal(det.state_dict(), before)


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_wrong_shapes_and_names_raise_without_changing_state(
    cls: type, params: dict
) -> None:
    X = _anomaly_stream(12)
    det = cls(**params)
    det.learn_one({"f0": 1.0, "f1": 2.0, "f2": 3.0, "f3": 4.0})
    det.learn_many(X[:100])
    before = det.state_dict()
    bad_calls = [
        lambda: det.learn_many(X[:, :3]),
        lambda: det.score_learn_many(np.zeros((5, 5))),
        lambda: det.score_many(X[0]),
        lambda: det.learn_many(np.zeros((3, 0))),
        lambda: det.learn_many([["a", "b", "c", "d"]]),
        lambda: det.learn_one({"f0": 1.0, "f1": 2.0, "f2": 3.0}),
        lambda: det.learn_one({"f0": 1.0, "f1": 2.0, "f2": 3.0, "g": 4.0}),
        lambda: det.learn_one({"f0": 1.0, "f1": 2.0, "f2": 3.0, "f3": 4.0, "f4": 5.0}),
        lambda: det.score_one({"f0": "1", "f1": 2.0, "f2": 3.0, "f3": 4.0}),
        lambda: det.learn_one({"f0": None, "f1": 2.0, "f2": 3.0, "f3": 4.0}),
        lambda: det.learn_one({}),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidInputError):
            call()
        _assert_states_equal(det.state_dict(), before)
    # Same names in another insertion order are fine: values are read by name.
    shuffled = {"f3": 4.0, "f1": 2.0, "f0": 1.0, "f2": 3.0}
    assert det.score_one(shuffled) == det.score_one({"f0": 1.0, "f1": 2.0, "f2": 3.0, "f3": 4.0})


@pytest.mark.parametrize(("cls", "params"), ANOMALY_CASES)
def test_anomaly_memory_is_bounded(cls: type, params: dict) -> None:
    rng = np.random.default_rng(13)
    det = cls(**params)
    det.score_learn_many(rng.normal(size=(100, 6)))
    small = _state_size(det.state_dict())
    for _ in range(20):
        det.score_learn_many(rng.normal(size=(1000, 6)))
    assert _state_size(det.state_dict()) == small
    assert len(vars(det)) == len(vars(cls(**params)))
