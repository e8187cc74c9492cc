"""Parity with River 0.26.1, the reference implementation, on its own bundled streams."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from river import datasets, linear_model, optim
from river import metrics as river_metrics
from river import preprocessing as river_preprocessing
from river import utils as river_utils

from models import LogisticRegression, metrics
from models.optim import SGD, AdaGrad, Adam, FTRLProximal
from models.optim.schedulers import InverseScaling, Optimal
from models.preprocessing import StandardScaler

TOLERANCE = 1e-9


def load(name: str, n: int) -> tuple[list[dict[str, float]], list[int]]:
    stream = datasets.Phishing() if name == "phishing" else datasets.synth.Agrawal(seed=42)
    rows = list(itertools.islice(stream, n))
    return [x for x, _ in rows], [int(y) for _, y in rows]


STREAMS = {name: load(name, 1200) for name in ("phishing", "agrawal")}

# (our hyperparameters, River's), built fresh for every model.
CONFIGS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]] = {
    "defaults": (dict, dict),
    "sgd": (lambda: {"optimizer": SGD(0.1)}, lambda: {"optimizer": optim.SGD(0.1)}),
    "l2": (
        lambda: {"optimizer": SGD(0.05), "l2": 0.01, "intercept_lr": 0.1},
        lambda: {"optimizer": optim.SGD(0.05), "l2": 0.01, "intercept_lr": 0.1},
    ),
    "clipped": (
        lambda: {"optimizer": SGD(0.5), "clip_gradient": 0.1, "intercept_lr": 0.0},
        lambda: {"optimizer": optim.SGD(0.5), "clip_gradient": 0.1, "intercept_lr": 0.0},
    ),
    "l1": (
        lambda: {"optimizer": SGD(0.05), "l1": 0.001, "intercept_init": 0.3},
        lambda: {"optimizer": optim.SGD(0.05), "l1": 0.001, "intercept_init": 0.3},
    ),
    "schedules": (
        lambda: {
            "optimizer": SGD(InverseScaling(0.5, power=0.6)),
            "intercept_lr": InverseScaling(0.1),
            "l1": 0.0005,
        },
        lambda: {
            "optimizer": optim.SGD(optim.schedulers.InverseScaling(0.5, power=0.6)),
            "intercept_lr": optim.schedulers.InverseScaling(0.1),
            "l1": 0.0005,
        },
    ),
    "optimal": (
        lambda: {"optimizer": SGD(Optimal("log", alpha=0.01)), "l2": 0.001},
        lambda: {
            "optimizer": optim.SGD(optim.schedulers.Optimal(optim.losses.Log(), alpha=0.01)),
            "l2": 0.001,
        },
    ),
    "adam": (
        lambda: {"optimizer": Adam(0.05), "l2": 0.001},
        lambda: {"optimizer": optim.Adam(0.05), "l2": 0.001},
    ),
    "adam-l1": (
        lambda: {"optimizer": Adam(), "l1": 0.001},
        lambda: {"optimizer": optim.Adam(), "l1": 0.001},
    ),
    "adagrad": (
        lambda: {"optimizer": AdaGrad(), "intercept_lr": 0.05},
        lambda: {"optimizer": optim.AdaGrad(), "intercept_lr": 0.05},
    ),
    "ftrl": (
        lambda: {"optimizer": FTRLProximal(l1=0.5, l2=0.1)},
        lambda: {"optimizer": optim.FTRLProximal(l1=0.5, l2=0.1)},
    ),
}


def river_run(model, xs, ys) -> np.ndarray:
    probas = []
    for x, y in zip(xs, ys, strict=True):
        probas.append(model.predict_proba_one(x)[True])
        model.learn_one(x, y)
    return np.array(probas, dtype=float)


def as_matrix(xs: list[dict[str, float]]) -> np.ndarray:
    return np.array([list(x.values()) for x in xs])


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_scaled_logistic_regression_matches_river(stream, config) -> None:
    xs, ys = STREAMS[stream]
    ours, theirs = CONFIGS[config]
    with_std = config != "l2"  # the scaler's with_std=False path too
    reference = river_preprocessing.StandardScaler(with_std=with_std) | (
        linear_model.LogisticRegression(**theirs())
    )
    expected = river_run(reference, xs, ys)

    one_by_one = StandardScaler(with_std=with_std) | LogisticRegression(**ours())
    got_one = []
    for x, y in zip(xs, ys, strict=True):
        got_one.append(one_by_one.predict_proba_one(x)[1])
        one_by_one.learn_one(x, y)

    batched = StandardScaler(with_std=with_std) | LogisticRegression(**ours())
    X, y = as_matrix(xs), np.array(ys)
    got_many = np.concatenate(
        [batched.predict_learn_many(X[i : i + 500], y[i : i + 500]) for i in range(0, len(y), 500)]
    )
    np.testing.assert_allclose(got_one, expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(got_many, expected, rtol=0, atol=TOLERANCE)
    assert np.abs(expected - 0.5).mean() > 0.1  # the stream is actually learned

    scaler, model = batched.steps
    river_scaler, river_model = reference.steps.values()
    names = list(xs[0])
    state = model.state_dict()
    np.testing.assert_allclose(
        state["weights"], [river_model.weights[k] for k in names], rtol=1e-9, atol=1e-12
    )
    assert state["intercept"] == pytest.approx(river_model.intercept, rel=1e-9, abs=1e-12)
    assert state["optimizer.n_iterations"] == river_model.optimizer.n_iterations == len(ys)
    scaler_state = scaler.state_dict()
    assert scaler_state["n_samples_seen"] == len(ys)
    np.testing.assert_allclose(scaler_state["means"], [river_scaler.means[k] for k in names])
    if with_std:
        np.testing.assert_allclose(scaler_state["variances"], [river_scaler.vars[k] for k in names])


@pytest.mark.parametrize("config", list(CONFIGS))
def test_logistic_regression_matches_river_on_raw_features(config) -> None:
    xs, ys = STREAMS["phishing"]
    ours, theirs = CONFIGS[config]
    expected = river_run(linear_model.LogisticRegression(**theirs()), xs, ys)
    model = LogisticRegression(**ours())
    got = model.predict_learn_many(as_matrix(xs), np.array(ys))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    one = LogisticRegression(**ours())
    for i, (x, y) in enumerate(zip(xs[:300], ys[:300], strict=True)):
        assert one.predict_proba_one(x)[1] == got[i]  # the dict path is the same loop
        one.learn_one(x, y)


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("with_std", [True, False])
def test_standard_scaler_matches_river(stream, with_std) -> None:
    xs, _ = STREAMS[stream]
    reference = river_preprocessing.StandardScaler(with_std=with_std)
    scaler = StandardScaler(with_std=with_std)
    for x in xs[:500]:
        # before learning too: River scales a never-seen feature to 0.0 (or leaves it centred)
        assert scaler.transform_one(x) == pytest.approx(reference.transform_one(x), abs=1e-12)
        reference.learn_one(x)
        scaler.learn_one(x)
        assert scaler.transform_one(x) == pytest.approx(reference.transform_one(x), abs=1e-12)


def river_predictions(stream: str) -> tuple[list[int], list[int]]:
    xs, ys = STREAMS[stream]
    model = river_preprocessing.StandardScaler() | linear_model.LogisticRegression(
        optimizer=optim.SGD(0.1)
    )
    predictions = []
    for x, y in zip(xs, ys, strict=True):
        predictions.append(int(model.predict_one(x)))
        model.learn_one(x, y)
    return ys, predictions


@pytest.mark.parametrize("stream", list(STREAMS))
def test_accuracy_matches_river(stream) -> None:
    ys, predictions = river_predictions(stream)
    reference, metric = river_metrics.Accuracy(), metrics.Accuracy()
    assert metric.get() == reference.get() == 0.0
    for y, p in zip(ys, predictions, strict=True):
        reference.update(y, p)
        metric.update(y, p)
        assert metric.get() == reference.get()
    batched = metrics.Accuracy()
    for i in range(0, len(ys), 333):
        batched.update_many(np.array(ys[i : i + 333]), np.array(predictions[i : i + 333]))
    assert batched.get() == reference.get()
    assert 0.5 < reference.get() < 1.0


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("window_size", [1, 10, 250, 5000])
def test_rolling_accuracy_matches_river(stream, window_size) -> None:
    ys, predictions = river_predictions(stream)
    reference = river_utils.Rolling(river_metrics.Accuracy, window_size=window_size)
    metric = metrics.RollingAccuracy(window_size=window_size)
    batched = metrics.RollingAccuracy(window_size=window_size)
    values = []
    for i, (y, p) in enumerate(zip(ys, predictions, strict=True)):
        reference.update(y, p)
        metric.update(y, p)
        assert metric.get() == reference.get()
        values.append(reference.get())
        if i % 97 == 96:
            batched.update_many(np.array(ys[i - 96 : i + 1]), np.array(predictions[i - 96 : i + 1]))
            assert batched.get() == reference.get()
    assert len(set(values)) > 1
