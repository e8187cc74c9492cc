"""SoftmaxRegression: River parity on multiclass streams, class growth, state, checks."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from river import datasets, linear_model, optim
from river import preprocessing as river_preprocessing

from models import InvalidInputError
from models.optim import SGD, AdaGrad, Adam, FTRLProximal
from models.optim.schedulers import InverseScaling
from models.softmax_regression import SoftmaxRegression


def load(name: str, n: int) -> tuple[list[dict[str, float]], list[Any]]:
    """A multiclass stream standardised online by River's scaler (learn, then transform)."""
    if name == "segments":
        stream = datasets.ImageSegments()
    else:
        stream = datasets.synth.RandomRBF(seed_model=7, seed_sample=3, n_classes=3, n_features=6)
    scaler = river_preprocessing.StandardScaler()
    xs, ys = [], []
    for x, y in itertools.islice(stream, n):
        scaler.learn_one(x)
        xs.append({str(k): v for k, v in scaler.transform_one(x).items()})
        ys.append(y)
    return xs, ys


STREAMS = {name: load(name, 500) for name in ("segments", "rbf")}

CONFIGS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]] = {
    "defaults": (dict, dict),
    "sgd-l2": (
        lambda: {"optimizer": SGD(0.1), "l2": 0.01},
        lambda: {"optimizer": optim.SGD(0.1), "l2": 0.01},
    ),
    "sgd-schedule": (
        lambda: {"optimizer": SGD(InverseScaling(0.5))},
        lambda: {"optimizer": optim.SGD(optim.schedulers.InverseScaling(0.5))},
    ),
    "adam": (
        lambda: {"optimizer": Adam(0.05), "l2": 0.001},
        lambda: {"optimizer": optim.Adam(0.05), "l2": 0.001},
    ),
    "adagrad": (lambda: {"optimizer": AdaGrad()}, lambda: {"optimizer": optim.AdaGrad()}),
    "ftrl": (
        lambda: {"optimizer": FTRLProximal(l1=0.1)},
        lambda: {"optimizer": optim.FTRLProximal(l1=0.1)},
    ),
}


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_river(stream, config) -> None:
    xs, ys = STREAMS[stream]
    ours, theirs = CONFIGS[config]
    reference = linear_model.SoftmaxRegression(**theirs())
    expected = []
    for x, y in zip(xs, ys, strict=True):
        expected.append(reference.predict_proba_one(x))
        reference.learn_one(x, y)

    model = SoftmaxRegression(**ours())
    X = np.array([list(x.values()) for x in xs])
    got = [
        model.predict_learn_many(X[i : i + 200], ys[i : i + 200]) for i in range(0, len(ys), 200)
    ]
    classes = model.classes_
    assert classes == tuple(reference.weights)  # River's order of first appearance
    probas = np.concatenate([np.pad(p, ((0, 0), (0, len(classes) - p.shape[1]))) for p in got])
    wanted = np.array([[p.get(c, 0.0) for c in classes] for p in expected])
    np.testing.assert_allclose(probas, wanted, rtol=0, atol=1e-9)
    names = list(xs[0])
    np.testing.assert_allclose(
        model.weights,
        [[reference.weights[c][k] for k in names] for c in classes],
        rtol=1e-9,
        atol=1e-12,
    )
    accuracy = np.mean([classes[i] == y for i, y in zip(probas.argmax(axis=1), ys, strict=True)])
    assert accuracy > 1.25 / len(classes)  # it learns

    one = SoftmaxRegression(**ours())
    for i, (x, y) in enumerate(zip(xs[:200], ys[:200], strict=True)):
        proba = one.predict_proba_one(x)
        assert [proba.get(c, 0.0) for c in classes] == probas[i].tolist()
        one.learn_one(x, y)


def test_a_new_class_enters_like_rivers_defaultdicts() -> None:
    model = SoftmaxRegression(optimizer=SGD(1.0))
    assert model.predict_proba_one({"a": 1.0}) == {} and model.predict_one({"a": 1.0}) is None
    model.learn_one({"a": 2.0, "b": -1.0}, "x")
    # p("x") was 0 (unknown), clamped to 1e-15: gradient (1e-15 - 1) * x
    np.testing.assert_array_equal(model.weights, [[-2.0 * (1e-15 - 1.0), 1.0 * (1e-15 - 1.0)]])
    assert model.predict_proba_one({"a": 0.0, "b": 0.0}) == {"x": 1.0}
    model.learn_one({"a": 1.0, "b": 0.0}, "y")
    # "x" had p = 1 (clamped to 1 - 1e-15), "y" entered with p = 0 and zero weights
    np.testing.assert_allclose(model.weights, [[1.0, -1.0], [1.0, 0.0]], atol=1e-14)
    assert model.classes_ == ("x", "y")
    assert model.state_dict()["optimizer.n_iterations"] == [2, 1]


def test_rows_not_learned_never_register_a_class() -> None:
    model = SoftmaxRegression()
    X = np.array([[1.0], [2.0], [3.0]])
    probas = model.predict_learn_many(X, ["a", None, "b"], np.array([True, False, False]))
    assert model.classes_ == ("a",)
    assert probas.shape == (3, 1)
    assert probas[:, 0].tolist() == [0.0, 1.0, 1.0]


def test_state_round_trip_with_per_class_optimizers(roundtrip) -> None:
    xs, ys = STREAMS["rbf"]
    X = np.array([list(x.values()) for x in xs])
    model = SoftmaxRegression(optimizer=Adam(0.05))
    model.learn_many(X[:300], ys[:300])
    state = model.state_dict()
    k, d = len(model.classes_), X.shape[1]
    assert state["weights"].shape == state["optimizer.m"].shape == (k, d)
    assert len(state["optimizer.n_iterations"]) == k
    restored = SoftmaxRegression(optimizer=Adam(0.05))
    restored.load_state_dict(roundtrip(state))
    np.testing.assert_array_equal(restored.predict_proba_many(X), model.predict_proba_many(X))
    model.learn_many(X[300:], ys[300:])
    restored.learn_many(X[300:], ys[300:])
    np.testing.assert_array_equal(restored.weights, model.weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": np.zeros((2, 6))}, "weights must be a float array of shape"),
        ({"classes": ["a", "a", "b"]}, "distinct"),
        ({"classes": [0.5, 1, 2]}, "class label"),
        ({"optimizer.n_iterations": [1, 2]}, "n_iterations must be a list of 3 ints"),
        ({"optimizer.n_iterations": [1, -2, 3]}, "n_iterations must be an int >= 0"),
        ({"optimizer.m": np.zeros((3, 5))}, r"optimizer.m must be an array of shape \(3, 6\)"),
        ({"optimizer.v": -np.ones((3, 6))}, "'v' must be finite and >= 0"),
    ],
)
def test_load_state_dict_rejects_inconsistent_states(change, message) -> None:
    xs, ys = STREAMS["rbf"]
    model = SoftmaxRegression(optimizer=Adam())
    model.learn_many(np.array([list(x.values()) for x in xs[:100]]), ys[:100])
    assert len(model.classes_) == 3
    before = model.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        model.load_state_dict({**before, **change})
    np.testing.assert_array_equal(model.state_dict()["weights"], before["weights"])
    assert model.classes_ == tuple(before["classes"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"optimizer": optim.Adam()}, "optimizer must be None or a models.optim Optimizer"),
        ({"l2": -0.1}, "l2 must be >= 0"),
        ({"l2": math.inf}, "l2 must be finite"),
        ({"mini_batch": None}, "mini_batch must be a bool"),
    ],
)
def test_invalid_hyperparameters_raise(params, message) -> None:
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(**params)
