"""StandardScaler: running statistics, zero variance, with_std, composition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import LogisticRegression, Pipeline
from models.preprocessing import StandardScaler


@pytest.mark.parametrize("value", [1, "yes", None])
@pytest.mark.parametrize("name", ["with_std", "mini_batch"])
def test_flags_must_be_bools(name, value) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a bool"):
        StandardScaler(**{name: value})


@pytest.mark.parametrize(
    ("with_std", "values", "x", "expected"),
    [
        (True, [1.0, 2.0, 3.0], 3.0, 1.0 / math.sqrt(2.0 / 3.0)),
        (True, [1.0, 2.0, 3.0], 2.0, 0.0),
        (False, [1.0, 2.0, 3.0], 3.0, 1.0),
        (True, [4.0, 4.0, 4.0], 9.0, 0.0),  # zero variance scales to 0, like River
        (False, [4.0, 4.0, 4.0], 9.0, 5.0),
        (True, [], 9.0, 0.0),  # nothing learned: variance 0
        (False, [], 9.0, 9.0),  # nothing learned: mean 0
    ],
)
def test_transform_matches_hand_computation(with_std, values, x, expected) -> None:
    scaler = StandardScaler(with_std=with_std)
    for value in values:
        scaler.learn_one({"a": value})
    assert scaler.transform_one({"a": x})["a"] == pytest.approx(expected, abs=1e-12)
    assert scaler.transform_many(np.array([[x]]))[0, 0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("mini_batch", [False, True])
def test_running_statistics_are_population_mean_and_variance(mini_batch) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(loc=[100.0, -3.0], scale=[10.0, 0.01], size=(1000, 2))
    scaler = StandardScaler(mini_batch=mini_batch)
    for i in range(0, 1000, 300):
        scaler.learn_many(X[i : i + 300])
    state = scaler.state_dict()
    assert state["n_samples_seen"] == 1000
    np.testing.assert_allclose(state["means"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(state["variances"], X.var(axis=0), rtol=1e-9)
    assert scaler.clone().mini_batch is mini_batch


def test_transform_does_not_learn() -> None:
    scaler = StandardScaler()
    scaler.learn_one({"a": 1.0})
    scaler.learn_one({"a": 3.0})
    first = scaler.transform_one({"a": 10.0})
    assert scaler.transform_one({"a": 10.0}) == first == {"a": 8.0}
    assert scaler.state_dict()["n_samples_seen"] == 2


def test_output_keys_follow_the_fitted_order() -> None:
    scaler = StandardScaler()
    scaler.learn_one({"b": 1.0, "a": 2.0})
    assert list(scaler.transform_one({"a": 0.0, "b": 0.0})) == ["b", "a"]


def test_pipe_operator_builds_a_pipeline() -> None:
    scaler, model = StandardScaler(), LogisticRegression()
    pipeline = scaler | model
    assert isinstance(pipeline, Pipeline)
    assert pipeline.steps == (scaler, model)
