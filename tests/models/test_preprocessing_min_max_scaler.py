"""MinMaxScaler: River parity one row at a time, windows, batches, state and composition."""

from __future__ import annotations

import numpy as np
import pytest
from river import preprocessing as rp

from models import InvalidInputError, LogisticRegression
from models.preprocessing import MinMaxScaler


def stream(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 100.0, 1e-3] + [0.0, -50.0, 7.0]
    X[:, 2] = np.where(np.arange(n) < 50, 7.0, X[:, 2])  # constant at first: range 0
    return X


def dicts(X: np.ndarray) -> list[dict[str, float]]:
    return [{"a": a, "b": b, "c": c} for a, b, c in X.tolist()]


@pytest.mark.parametrize("window_size", [None, 1, 3, 50])
def test_matches_river_one_row_at_a_time(window_size) -> None:
    X = stream()
    ours, theirs = MinMaxScaler(window_size=window_size), rp.MinMaxScaler(window_size=window_size)
    probe = {"a": 0.5, "b": 300.0, "c": 7.0}  # partly outside the learned range
    for x in dicts(X):
        ours.learn_one(x)
        theirs.learn_one(x)
        assert ours.transform_one(x) == theirs.transform_one(x)
        assert ours.transform_one(probe) == theirs.transform_one(probe)
    out = ours.transform_many(X)
    if window_size is None:  # the whole stream is inside its own range
        assert out.min() == 0.0
        np.testing.assert_array_equal(out.max(axis=0), [1.0, 1.0, 1.0])
    elif window_size == 1:  # a range of one row is 0
        assert not out.any()
    else:  # older rows fall outside the recent range
        assert out.min() < 0.0 and out.max() > 1.0


@pytest.mark.parametrize("window_size", [None, 1, 3, 50])
@pytest.mark.parametrize("chunks", [[400], [1, 2, 5, 7, 100, 285], [60, 0, 340]])
def test_learn_many_equals_learn_one(window_size, chunks, states_equal) -> None:
    X = stream()
    batch, single = MinMaxScaler(window_size), MinMaxScaler(window_size)
    start = 0
    for size in chunks:
        batch.learn_many(X[start : start + size])
        start += size
    for x in dicts(X):
        single.learn_one(x)
    without_names = {k: v for k, v in single.state_dict().items() if k != "feature_names"}
    states_equal(
        {k: v for k, v in batch.state_dict().items() if k != "feature_names"}, without_names
    )
    many = batch.transform_many(X)
    np.testing.assert_array_equal(many, [list(single.transform_one(x).values()) for x in dicts(X)])


def test_before_learning_everything_scales_to_zero() -> None:
    scaler = MinMaxScaler()
    assert scaler.transform_one({"a": 3.0, "b": -1.0}) == {"a": 0.0, "b": 0.0}
    scaler.learn_many(np.zeros((0, 2)))  # fixes the width, learns nothing
    np.testing.assert_array_equal(scaler.transform_many(np.ones((2, 2))), np.zeros((2, 2)))
    scaler.learn_one({"a": 3.0, "b": -1.0})
    assert scaler.transform_one({"a": 4.0, "b": -1.0}) == {"a": 0.0, "b": 0.0}


@pytest.mark.parametrize("window_size", [None, 4, 50])
@pytest.mark.parametrize("fill", [0, 2, 30])
def test_state_round_trip(window_size, fill, roundtrip, states_equal) -> None:
    X = stream(n=60)
    scaler = MinMaxScaler(window_size)
    scaler.learn_many(X[:fill])
    restored = MinMaxScaler(window_size)
    restored.load_state_dict(roundtrip(scaler.state_dict()))
    states_equal(restored.state_dict(), scaler.state_dict())
    for x in dicts(X[fill:]):
        scaler.learn_one(x)
        restored.learn_one(x)
        assert restored.transform_one(x) == scaler.transform_one(x)
    if window_size is not None:
        assert scaler.state_dict()["window"].shape == (window_size, 3)


@pytest.mark.parametrize(
    ("window_size", "mutate"),
    [
        (None, lambda s: s.update(mins=s["maxs"] + 1.0)),
        (None, lambda s: s.update(n_samples_seen=-1)),
        (None, lambda s: s.pop("maxs")),
        (4, lambda s: s.update(window=s["window"][:-1])),
        (4, lambda s: s.update(window=np.full((4, 3), np.inf))),
        (4, lambda s: s.update(mins=np.zeros(3))),
    ],
)
def test_bad_states_raise_and_leave_state(window_size, mutate, states_equal) -> None:
    scaler = MinMaxScaler(window_size)
    scaler.learn_many(stream(n=20))
    before, state = scaler.state_dict(), scaler.state_dict()
    mutate(state)
    with pytest.raises(InvalidInputError):
        scaler.load_state_dict(state)
    states_equal(scaler.state_dict(), before)


@pytest.mark.parametrize("window_size", [0, -1, 2.5, True, "3"])
def test_invalid_window_size(window_size) -> None:
    with pytest.raises(ValueError, match="window_size"):
        MinMaxScaler(window_size=window_size)


def test_in_a_pipeline_with_logistic_regression() -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform([0.0, 1000.0], [1.0, 5000.0], size=(2000, 2))
    y = (X[:, 0] + (X[:, 1] - 1000.0) / 4000.0 > 1.0).astype(int)
    model = MinMaxScaler() | LogisticRegression()
    single = MinMaxScaler() | LogisticRegression()
    probas = model.predict_learn_many(X, y)
    expected = []
    for x, label in zip(dicts(np.c_[X, np.zeros(len(X))]), y.tolist(), strict=True):
        row = {"a": x["a"], "b": x["b"]}
        expected.append(single.predict_proba_one(row)[1])
        single.learn_one(row, label)
    np.testing.assert_array_equal(probas, expected)
    assert ((probas[-500:] > 0.5) == y[-500:]).mean() > 0.85
