"""merge(): weighted parameter averages for LinearRegression, LogisticRegression and
SoftmaxRegression (combining models learned on different partitions of a stream)."""

from __future__ import annotations

import numpy as np
import pytest

from models import InvalidInputError, LogisticRegression
from models.linear_regression import LinearRegression
from models.optim import SGD, Adam
from models.softmax_regression import SoftmaxRegression


def stream(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.3, size=n) > 0).astype(int)


@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression])
def test_parameters_are_the_weighted_average(cls) -> None:
    X, y = stream()
    a, b, c = cls(optimizer=SGD(0.05)), cls(optimizer=SGD(0.05)), cls(optimizer=SGD(0.05))
    a.learn_many(X[:100], y[:100])
    b.learn_many(X[100:250], y[100:250])
    c.learn_many(X[250:], y[250:])
    merged = a.merge([b, c], weights=[1.0, 2.0, 1.0])
    expected = 0.25 * a.weights + 0.5 * b.weights + 0.25 * c.weights
    np.testing.assert_allclose(merged.weights, expected, rtol=1e-12)
    assert merged.intercept == pytest.approx(
        0.25 * a.intercept + 0.5 * b.intercept + 0.25 * c.intercept, rel=1e-12
    )
    equal = a.merge([b, c])
    np.testing.assert_allclose(equal.weights, (a.weights + b.weights + c.weights) / 3, rtol=1e-12)


def test_merge_leaves_the_inputs_and_takes_self_optimizer_state() -> None:
    X, y = stream()
    a = LogisticRegression(optimizer=Adam(), l1=0.001)
    b = LogisticRegression(optimizer=Adam(), l1=0.001)
    a.learn_many(X[:100], y[:100])
    b.learn_many(X[100:], y[100:])
    before_a, before_b = a.state_dict(), b.state_dict()
    merged = a.merge([b])
    state = merged.state_dict()
    for key in ("optimizer.n_iterations", "optimizer.m", "optimizer.v", "cum_l1", "max_cum_l1"):
        np.testing.assert_array_equal(state[key], before_a[key])
    for model, before in ((a, before_a), (b, before_b)):
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[key])
    merged.learn_many(X, y)  # it learns on, alone
    np.testing.assert_array_equal(a.weights, before_a["weights"])
    assert merged.optimizer is not a.optimizer and merged.mini_batch == a.mini_batch


def test_an_unfitted_model_counts_as_zeros_and_its_initial_intercept() -> None:
    X, y = stream()
    fitted, empty = LinearRegression(intercept_init=1.0), LinearRegression(intercept_init=3.0)
    fitted.learn_many(X, y.astype(float))
    merged = fitted.merge([empty])
    np.testing.assert_allclose(merged.weights, fitted.weights / 2)
    assert merged.intercept == pytest.approx((fitted.intercept + 3.0) / 2)
    assert empty.merge([fitted], weights=[0.0, 1.0]).n_features_in_ == 3
    np.testing.assert_array_equal(empty.merge([fitted], weights=[0.0, 1.0]).weights, fitted.weights)


def test_feature_names_and_widths_must_agree() -> None:
    X, y = stream()
    named, unnamed, other_names = LogisticRegression(), LogisticRegression(), LogisticRegression()
    named.learn_one({"a": 1.0, "b": 2.0, "c": 3.0}, 1)
    unnamed.learn_many(X, y)
    other_names.learn_one({"a": 1.0, "b": 2.0, "d": 3.0}, 1)
    assert named.merge([unnamed]).feature_names_in_ == ("a", "b", "c")
    assert unnamed.merge([named]).feature_names_in_ == ("a", "b", "c")
    narrow = LogisticRegression()
    narrow.learn_many(X[:, :2], y)
    for other in (other_names, narrow, LinearRegression(), "model"):
        with pytest.raises(InvalidInputError):
            named.merge([other])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "weights", [[1.0], [1.0, 2.0, 3.0], [-1.0, 2.0], [0.0, 0.0], [np.inf, 1.0], [np.nan, 1.0]]
)
def test_bad_weights_are_rejected(weights) -> None:
    a, b = LogisticRegression(), LogisticRegression()
    with pytest.raises(InvalidInputError, match="merge weights"):
        a.merge([b], weights=weights)


def test_merging_partition_models_recovers_the_full_model() -> None:
    X, y = stream(4000, seed=3)
    full = LogisticRegression(optimizer=SGD(0.05))
    full.learn_many(X, y)
    parts = [LogisticRegression(optimizer=SGD(0.05)) for _ in range(4)]
    for k, part in enumerate(parts):
        part.learn_many(X[k::4], y[k::4])
    merged = parts[0].merge(parts[1:])
    X_test, y_test = stream(2000, seed=4)
    accuracy = np.mean(merged.predict_many(X_test) == y_test)
    assert accuracy >= np.mean(full.predict_many(X_test) == y_test) - 0.01
    assert accuracy > 0.9
    cosine = merged.weights @ full.weights / np.linalg.norm(merged.weights)
    assert cosine / np.linalg.norm(full.weights) > 0.99


def test_softmax_classes_are_matched_by_label() -> None:
    a, b = SoftmaxRegression(optimizer=Adam()), SoftmaxRegression(optimizer=Adam())
    a.learn_one({"x": 1.0, "y": 0.0}, "cat")
    a.learn_one({"x": 0.0, "y": 1.0}, "dog")
    b.learn_one({"x": 1.0, "y": 1.0}, "dog")
    b.learn_one({"x": -1.0, "y": 0.0}, "emu")
    merged = a.merge([b], weights=[3.0, 1.0])
    assert merged.classes_ == ("cat", "dog", "emu")
    wa, wb = a.weights, b.weights
    # "dog" is known to both: 3:1 average; "cat" and "emu" to one model each: kept as they are
    np.testing.assert_allclose(merged.weights[0], wa[0])
    np.testing.assert_allclose(merged.weights[1], 0.75 * wa[1] + 0.25 * wb[0])
    np.testing.assert_allclose(merged.weights[2], wb[1])
    counts = merged.state_dict()["optimizer.n_iterations"]
    assert counts == a.state_dict()["optimizer.n_iterations"] + [1]  # emu's from b
    np.testing.assert_array_equal(
        merged.state_dict()["optimizer.m"][2], b.state_dict()["optimizer.m"][1]
    )


def test_softmax_merge_of_partitions_predicts_like_its_parts() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=3000)
    X = centres[labels] + rng.normal(size=(3000, 2))
    names = np.array(["r", "g", "b"])[labels]
    parts = [SoftmaxRegression(optimizer=SGD(0.05)) for _ in range(3)]
    for k, part in enumerate(parts):
        part.learn_many(X[k::3], names[k::3])
    merged = parts[0].merge(parts[1:])
    accuracy = np.mean(merged.predict_many(X).astype(str) == names)
    assert accuracy > 0.85
    assert accuracy >= min(np.mean(p.predict_many(X).astype(str) == names) for p in parts) - 0.01
