"""LinearRegression: River parity with every optimizer and penalty, hand computations, checks."""

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
from models.linear_regression import LinearRegression
from models.optim import SGD, AdaGrad, Adam, FTRLProximal
from models.optim.schedulers import InverseScaling, Optimal

TOLERANCE = 1e-9


def load(name: str, n: int) -> tuple[list[dict[str, float]], list[float]]:
    """A regression stream, standardised online by River's scaler (learn, then transform), so
    plain SGD converges and both libraries see the same rows."""
    stream = datasets.TrumpApproval() if name == "trump" else datasets.synth.Friedman(seed=42)
    scaler = river_preprocessing.StandardScaler()
    xs, ys = [], []
    for x, y in itertools.islice(stream, n):
        scaler.learn_one(x)
        xs.append({f"x{k}": v for k, v in scaler.transform_one(x).items()})
        ys.append(float(y))
    return xs, ys


STREAMS = {name: load(name, 800) for name in ("trump", "friedman")}

# (our hyperparameters, River's), built fresh for every model.
CONFIGS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]] = {
    "defaults": (dict, dict),
    "l2-clipped": (
        lambda: {"optimizer": SGD(0.02), "l2": 0.01, "clip_gradient": 2.0, "intercept_lr": 0.1},
        lambda: {
            "optimizer": optim.SGD(0.02),
            "l2": 0.01,
            "clip_gradient": 2.0,
            "intercept_lr": 0.1,
        },
    ),
    "l1": (
        lambda: {"optimizer": SGD(0.01), "l1": 0.01, "intercept_init": 40.0},
        lambda: {"optimizer": optim.SGD(0.01), "l1": 0.01, "intercept_init": 40.0},
    ),
    "schedules": (
        lambda: {
            "optimizer": SGD(InverseScaling(0.05, power=0.3)),
            "intercept_lr": Optimal("squared", alpha=1.0),
            "l1": 0.001,
        },
        lambda: {
            "optimizer": optim.SGD(optim.schedulers.InverseScaling(0.05, power=0.3)),
            "intercept_lr": optim.schedulers.Optimal(optim.losses.Squared(), alpha=1.0),
            "l1": 0.001,
        },
    ),
    "adam": (
        lambda: {"optimizer": Adam(0.1), "l2": 0.001, "intercept_lr": 0.3},
        lambda: {"optimizer": optim.Adam(0.1), "l2": 0.001, "intercept_lr": 0.3},
    ),
    "adam-l1": (
        lambda: {"optimizer": Adam(0.1), "l1": 0.001},
        lambda: {"optimizer": optim.Adam(0.1), "l1": 0.001},
    ),
    "adagrad": (
        lambda: {"optimizer": AdaGrad(0.5), "intercept_lr": 0.1},
        lambda: {"optimizer": optim.AdaGrad(0.5), "intercept_lr": 0.1},
    ),
    "ftrl": (
        lambda: {"optimizer": FTRLProximal(alpha=0.5, l1=0.1), "intercept_lr": 0.1},
        lambda: {"optimizer": optim.FTRLProximal(alpha=0.5, l1=0.1), "intercept_lr": 0.1},
    ),
}


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_river(stream, config) -> None:
    xs, ys = STREAMS[stream]
    ours, theirs = CONFIGS[config]
    reference = linear_model.LinearRegression(**theirs())
    expected = []
    for x, y in zip(xs, ys, strict=True):
        expected.append(reference.predict_one(x))
        reference.learn_one(x, y)

    one_by_one = LinearRegression(**ours())
    got_one = []
    for x, y in zip(xs, ys, strict=True):
        got_one.append(one_by_one.predict_one(x))
        one_by_one.learn_one(x, y)
    batched = LinearRegression(**ours())
    X, Y = np.array([list(x.values()) for x in xs]), np.array(ys)
    got_many = np.concatenate(
        [batched.predict_learn_many(X[i : i + 300], Y[i : i + 300]) for i in range(0, len(Y), 300)]
    )
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got_one, expected, rtol=0, atol=TOLERANCE * scale)
    np.testing.assert_allclose(got_many, expected, rtol=0, atol=TOLERANCE * scale)
    # learned: the last predictions beat predicting the first target
    errors = np.abs(np.array(expected) - Y)[-200:]
    assert errors.mean() < np.abs(Y[-200:] - Y[0]).mean()
    state = batched.state_dict()
    np.testing.assert_allclose(
        state["weights"], [reference.weights[k] for k in xs[0]], rtol=1e-9, atol=1e-12
    )
    assert state["intercept"] == pytest.approx(reference.intercept, rel=1e-9)
    assert state["optimizer.n_iterations"] == reference.optimizer.n_iterations == len(ys)
    if "l1" in config:
        assert state["max_cum_l1"] == pytest.approx(reference.max_cum_l1, rel=1e-12)
        np.testing.assert_allclose(
            state["cum_l1"], [reference.cum_l1[k] for k in xs[0]], rtol=1e-9, atol=1e-12
        )


def test_l1_zeroes_useless_weights() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6))
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + rng.normal(scale=0.1, size=2000)
    plain, sparse = LinearRegression(), LinearRegression(l1=0.01)
    plain.learn_many(X, y)
    sparse.learn_many(X, y)
    assert (plain.weights[2:] != 0.0).all()
    assert (sparse.weights[2:] == 0.0).sum() >= 3
    np.testing.assert_allclose(sparse.weights[:2], [3.0, -2.0], atol=0.1)


# One step by hand: t = w.x + b, g = 2 (t - y) clipped, w -= lr (g x + l2 w), b -= intercept_lr g.
@pytest.mark.parametrize(
    ("params", "weights", "intercept"),
    [
        ({"optimizer": SGD(0.1)}, [1.2, -0.6], 0.06),
        ({"optimizer": SGD(0.1), "clip_gradient": 1.0}, [0.2, -0.1], 0.01),
        ({"optimizer": SGD(0.1), "intercept_lr": 0.5, "intercept_init": 1.0}, [0.8, -0.4], 3.0),
        # Adam's first step moves each weight by lr against the sign of its gradient
        ({"optimizer": Adam(0.1), "intercept_lr": 0.0}, [0.1, -0.1], 0.0),
    ],
)
def test_one_step_matches_hand_computation(params, weights, intercept) -> None:
    model = LinearRegression(**params)
    model.learn_one({"a": 2.0, "b": -1.0}, 3.0)
    np.testing.assert_allclose(model.weights, weights, rtol=1e-6)
    assert model.intercept == pytest.approx(intercept, rel=1e-12)


def test_predictions_before_learning_are_the_initial_intercept() -> None:
    model = LinearRegression(intercept_init=2.5)
    assert model.predict_one({"a": 1.0}) == 2.5
    assert model.predict_many(np.ones((3, 2))).tolist() == [2.5, 2.5, 2.5]
    assert model.n_features_in_ is None


def test_targets_outside_the_learn_mask_are_ignored() -> None:
    model, reference = LinearRegression(optimizer=SGD(0.1)), LinearRegression(optimizer=SGD(0.1))
    X = np.array([[1.0], [2.0], [3.0]])
    preds = model.predict_learn_many(X, np.array([np.nan, 4.0, np.inf]), np.array([0, 1, 0], bool))
    reference.learn_one({"x": 2.0}, 4.0)
    assert preds[0] == preds[1] == 0.0
    assert preds[2] == reference.predict_one({"x": 3.0})
    np.testing.assert_array_equal(model.weights, reference.weights)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"optimizer": optim.SGD(0.1)}, "optimizer must be None or a models.optim Optimizer"),
        ({"l1": 0.1, "l2": 0.1}, "l1 and l2 cannot be combined"),
        ({"l1": 0.1, "optimizer": FTRLProximal()}, "l1 needs an optimizer"),
        ({"intercept_lr": math.nan}, "intercept_lr must be finite"),
        ({"clip_gradient": -1.0}, "clip_gradient must be > 0"),
        ({"mini_batch": "yes"}, "mini_batch must be a bool"),
    ],
)
def test_invalid_hyperparameters_raise(params, message) -> None:
    with pytest.raises(ValueError, match=message):
        LinearRegression(**params)


def test_state_dict_holds_the_optimizer_and_penalty_state(roundtrip) -> None:
    model = LinearRegression(optimizer=AdaGrad(), l1=0.01)
    X, y = np.random.default_rng(1).normal(size=(50, 3)), np.arange(50.0)
    model.learn_many(X, y)
    state = model.state_dict()
    assert set(state) == {
        "feature_names",
        "n_features",
        "weights",
        "intercept",
        "optimizer.n_iterations",
        "optimizer.g2",
        "cum_l1",
        "max_cum_l1",
    }
    assert state["optimizer.n_iterations"] == 50 and state["optimizer.g2"].shape == (3,)
    restored = LinearRegression(optimizer=AdaGrad(), l1=0.01)
    restored.load_state_dict(roundtrip(state))
    model.learn_many(X, y)
    restored.learn_many(X, y)
    np.testing.assert_array_equal(restored.weights, model.weights)
    with pytest.raises(InvalidInputError, match="expected state keys"):
        LinearRegression(optimizer=Adam()).load_state_dict(state)  # another optimizer's state
