"""Mini-batch mode: one vectorised update per call, its documented semantics and its accuracy
bound against the exact (River-identical) path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from river import datasets

from models import LogisticRegression, Pipeline
from models.linear_regression import LinearRegression
from models.optim import SGD, Adam
from models.preprocessing import StandardScaler
from models.softmax_regression import SoftmaxRegression


def load(stream, n: int) -> tuple[np.ndarray, np.ndarray]:
    rows = list(itertools.islice(stream, n))
    X = np.array([list(x.values()) for x, _ in rows], dtype=float)
    return X, np.array([int(y) for _, y in rows])


STREAMS = {
    "agrawal": load(datasets.synth.Agrawal(seed=42), 20_000),
    "phishing": load(datasets.Phishing(), 1_250),
    "hyperplane": load(datasets.synth.Hyperplane(seed=42, n_features=10), 10_000),
}
BATCH = 256


def prequential(mini_batch: bool, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    model = StandardScaler(mini_batch=mini_batch) | LogisticRegression(mini_batch=mini_batch)
    return np.concatenate(
        [
            model.predict_learn_many(X[i : i + BATCH], y[i : i + BATCH])
            for i in range(0, len(y), BATCH)
        ]
    )


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.parametrize("name", list(STREAMS))
def test_accuracy_stays_within_half_a_point_of_the_exact_path(name) -> None:
    X, y = STREAMS[name]
    exact, batched = prequential(False, X, y), prequential(True, X, y)
    # The first batch is predicted before anything is learned (up to 20 points lost on its rows
    # alone, 4 on the whole of Phishing); from the second batch on the two runs must agree.
    after = slice(BATCH, None)
    accuracy = {k: np.mean((p[after] > 0.5) == y[after]) for k, p in (("e", exact), ("b", batched))}
    assert abs(accuracy["b"] - accuracy["e"]) <= 0.005, accuracy
    if name == "agrawal":  # 20k rows: the whole stream too
        assert abs(np.mean((batched > 0.5) == y) - np.mean((exact > 0.5) == y)) <= 0.005
    # Summing the gradients keeps the probabilities calibrated (a mean would leave them near 0.5).
    assert log_loss(batched[after], y[after]) <= log_loss(exact[after], y[after]) + 0.01
    assert np.abs(batched[after] - exact[after]).mean() < 0.05


def test_one_step_on_the_summed_gradient() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    model = LogisticRegression(optimizer=SGD(0.1), l2=0.01, intercept_lr=0.05, mini_batch=True)
    model.learn_many(X[:32], y[:32])
    w, b = model.weights, model.intercept
    expected_p = model.predict_proba_many(X[32:])[:, 1]
    p = model.predict_learn_many(X[32:], y[32:])
    np.testing.assert_allclose(p, expected_p, rtol=1e-12, atol=1e-15)  # state before the batch
    g = expected_p - y[32:]
    np.testing.assert_allclose(model.weights, w - 0.1 * (X[32:].T @ g + 32 * 0.01 * w), rtol=1e-10)
    assert model.intercept == pytest.approx(b - 0.05 * g.sum(), rel=1e-10)
    assert model.state_dict()["optimizer.n_iterations"] == 2  # one step per call


def test_linear_regression_steps_once_per_call_and_respects_the_mask() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    mask = np.arange(20) % 3 != 0
    model = LinearRegression(optimizer=SGD(0.01), l1=0.01, mini_batch=True)
    preds = model.predict_learn_many(X, np.where(mask, y, np.nan), mask)
    assert preds.tolist() == [0.0] * 20
    g = 2.0 * (0.0 - y[mask])
    w = -0.01 * (X[mask].T @ g)
    # River's cumulative L1, with the penalty of every learned row at once
    w = np.sign(w) * np.maximum(0.0, np.abs(w) - mask.sum() * 0.01 * 0.01)
    np.testing.assert_allclose(model.weights, w, rtol=1e-12)
    assert model.intercept == pytest.approx(-0.01 * g.sum())


@pytest.mark.parametrize(
    "make",
    [
        lambda mb: LogisticRegression(optimizer=Adam(), l1=0.001, mini_batch=mb),
        lambda mb: LinearRegression(optimizer=SGD(0.02), l2=0.1, mini_batch=mb),
        lambda mb: SoftmaxRegression(optimizer=SGD(0.05), l2=0.01, mini_batch=mb),
        lambda mb: StandardScaler(mini_batch=mb) | LogisticRegression(mini_batch=mb),
    ],
)
def test_batches_of_one_row_are_the_exact_path(make, make_stream) -> None:
    X, y = make_stream(200)
    if isinstance(make(False), LinearRegression):
        y = y * 2.0 - 0.5
    if isinstance(make(False), SoftmaxRegression):
        y = np.array(["a", "b", "c"])[(y + (X[:, 0] > 5)).astype(int)]
    exact, batched = make(False), make(True)
    want = exact.predict_learn_many(X, y)
    parts = [batched.predict_learn_many(X[i : i + 1], y[i : i + 1]) for i in range(200)]
    if want.ndim == 2:  # SoftmaxRegression: earlier rows knew fewer classes (0 for the others)
        parts = [np.pad(p, ((0, 0), (0, want.shape[1] - p.shape[1]))) for p in parts]
    np.testing.assert_allclose(np.concatenate(parts), want, rtol=1e-9, atol=1e-12)
    assert np.abs(want[-50:] - want[0]).max() > 0.05  # it learned


def test_dict_methods_are_unchanged_in_mini_batch_mode(stream, as_dicts) -> None:
    X, y = stream
    exact, batched = LogisticRegression(), LogisticRegression(mini_batch=True)
    for x, label in zip(as_dicts(X), y.tolist(), strict=True):
        assert batched.predict_proba_one(x) == exact.predict_proba_one(x)
        exact.learn_one(x, label)
        batched.learn_one(x, label)
    np.testing.assert_array_equal(batched.weights, exact.weights)


def test_scaler_batch_statistics_equal_welford() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(loc=[1e4, -3.0, 0.0], scale=[50.0, 0.01, 1.0], size=(1000, 3))
    X[:, 2] = 7.0  # constant column: variance stays 0, scales to 0
    exact, batched = StandardScaler(), StandardScaler(mini_batch=True)
    exact.learn_many(X)
    for chunk in (X[:1], X[1:300], X[300:300], X[300:]):
        batched.learn_many(chunk)
    a, b = exact.state_dict(), batched.state_dict()
    assert b["n_samples_seen"] == 1000
    np.testing.assert_allclose(b["means"], a["means"], rtol=1e-13)
    np.testing.assert_allclose(b["variances"], a["variances"], rtol=1e-9, atol=1e-20)
    assert b["variances"][2] == 0.0
    np.testing.assert_allclose(batched.transform_many(X), exact.transform_many(X), atol=1e-9)
    centred = StandardScaler(with_std=False, mini_batch=True)
    centred.learn_many(X)
    np.testing.assert_allclose(centred.state_dict()["means"], X.mean(axis=0), rtol=1e-12)
    assert centred.state_dict()["variances"].tolist() == [0.0, 0.0, 0.0]


def test_pipeline_batch_semantics(stream) -> None:
    X, y = stream
    mask = np.arange(len(y)) % 4 != 0
    pipeline = StandardScaler(mini_batch=True) | LogisticRegression(mini_batch=True)
    scaler, model = StandardScaler(mini_batch=True), LogisticRegression(mini_batch=True)
    pipeline.learn_many(X[:100], y[:100])
    scaler.learn_many(X[:100])
    model.learn_many(scaler.transform_many(X[:100]), y[:100])
    before = pipeline.predict_proba_many(X[100:])[:, 1]
    p = pipeline.predict_learn_many(X[100:], np.where(mask, y, -1)[100:], mask[100:])
    np.testing.assert_allclose(p, before, rtol=1e-12, atol=1e-15)
    # the scaler learns the learned rows at once, the model one step on them, freshly scaled
    scaler.learn_many(X[100:][mask[100:]])
    model.learn_many(scaler.transform_many(X[100:][mask[100:]]), y[100:][mask[100:]])
    np.testing.assert_allclose(pipeline.steps[1].weights, model.weights, rtol=1e-12)
    assert pipeline.steps[0].state_dict()["n_samples_seen"] == 100 + mask[100:].sum()


def test_softmax_batch_registers_new_classes_in_order() -> None:
    model = SoftmaxRegression(mini_batch=True)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p = model.predict_learn_many(X, ["b", "a", "b"])
    assert model.classes_ == ("b", "a")
    assert p.shape == (3, 2) and not p.any()  # nothing known before the batch
    p = model.predict_learn_many(X, np.array(["c", "a", "b"]))
    assert model.classes_ == ("b", "a", "c")
    assert p.shape == (3, 3) and (p[:, 2] == 0.0).all()
    np.testing.assert_allclose(p[:, :2].sum(axis=1), 1.0)
    assert model.state_dict()["optimizer.n_iterations"] == [2, 2, 1]


def test_a_pipeline_runs_in_mini_batch_mode_iff_its_model_does() -> None:
    assert (StandardScaler() | LogisticRegression(mini_batch=True))._batched
    assert not (StandardScaler(mini_batch=True) | LogisticRegression())._batched
    assert Pipeline(LogisticRegression(mini_batch=True))._batched
