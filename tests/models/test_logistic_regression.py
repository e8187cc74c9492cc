"""LogisticRegression: hyperparameters, hand-computed updates, feature-order semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import InvalidInputError, LogisticRegression


@pytest.mark.parametrize(
    "params",
    [
        {"lr": 0.0},
        {"lr": -0.1},
        {"lr": math.nan},
        {"lr": math.inf},
        {"lr": "0.1"},
        {"lr": True},
        {"l2": -1e-3},
        {"l2": math.nan},
        {"intercept_lr": -0.01},
        {"clip_gradient": 0.0},
        {"clip_gradient": math.nan},
        {"clip_gradient": None},
    ],
)
def test_invalid_hyperparameters_raise(params) -> None:
    with pytest.raises(ValueError, match=next(iter(params))):
        LogisticRegression(**params)


def test_hyperparameters_are_stored_under_their_names() -> None:
    model = LogisticRegression(lr=0.5, l2=0.1, intercept_lr=0, clip_gradient=math.inf)
    assert (model.lr, model.l2, model.intercept_lr, model.clip_gradient) == (0.5, 0.1, 0, math.inf)
    clone = model.clone()
    assert (clone.lr, clone.l2, clone.intercept_lr, clone.clip_gradient) == (0.5, 0.1, 0, math.inf)


# One SGD step by hand: logit t = w.x + b, g = sigmoid(t) - y (clipped), w -= lr * (g x + l2 w),
# b -= intercept_lr * g.
@pytest.mark.parametrize(
    ("params", "steps", "weights", "intercept"),
    [
        ({"lr": 0.1}, [({"a": 2.0, "b": -1.0}, 1)], [0.1, -0.05], 0.005),
        ({"lr": 0.1}, [({"a": 2.0, "b": -1.0}, 0)], [-0.1, 0.05], -0.005),
        ({"lr": 0.1, "clip_gradient": 0.2}, [({"a": 2.0, "b": -1.0}, 1)], [0.04, -0.02], 0.002),
        ({"lr": 0.1, "intercept_lr": 0.0}, [({"a": 2.0, "b": -1.0}, 1)], [0.1, -0.05], 0.0),
        (
            {"lr": 1.0, "l2": 0.5, "intercept_lr": 0.0},
            [({"a": 1.0, "b": 0.0}, 1), ({"a": 0.0, "b": 1.0}, 1)],
            # step 1: w = (0.5, 0); step 2: t = 0, g = -0.5, w = (0.5 - 0.25, 0 + 0.5)
            [0.25, 0.5],
            0.0,
        ),
    ],
)
def test_sgd_steps_match_hand_computation(params, steps, weights, intercept) -> None:
    model = LogisticRegression(**params)
    for x, y in steps:
        model.learn_one(x, y)
    state = model.state_dict()
    np.testing.assert_allclose(state["weights"], weights, rtol=0, atol=1e-15)
    assert state["intercept"] == pytest.approx(intercept, abs=1e-15)


@pytest.mark.parametrize(("x", "expected"), [(40.0, 1.0), (-40.0, 0.0), (0.0, 0.5)])
def test_probabilities_saturate_exactly_like_river(x, expected) -> None:
    model = LogisticRegression(lr=1.0, intercept_lr=0.0)
    model.learn_one({"a": 2.0}, 1)  # w = 1.0 exactly
    assert model.predict_proba_one({"a": x}) == {0: 1.0 - expected, 1: expected}
    assert model.predict_proba_many(np.array([[x]]))[0].tolist() == [1.0 - expected, expected]


def test_a_tie_predicts_zero() -> None:
    model = LogisticRegression()
    assert model.predict_one({"a": 1.0}) == 0
    assert model.predict_many(np.ones((3, 1))).tolist() == [0, 0, 0]


def test_dict_order_fixes_array_columns() -> None:
    by_dict, by_array = LogisticRegression(lr=0.3), LogisticRegression(lr=0.3)
    rows = [({"b": 1.0, "a": -2.0}, 1), ({"a": 0.5, "b": 3.0}, 0), ({"b": -1.0, "a": 1.5}, 1)]
    for x, y in rows:
        by_dict.learn_one(x, y)
    assert by_dict.feature_names_in_ == ("b", "a")
    by_array.learn_many(np.array([[x["b"], x["a"]] for x, _ in rows]), np.array([1, 0, 1]))
    np.testing.assert_array_equal(by_dict.state_dict()["weights"], by_array.state_dict()["weights"])
    proba = by_dict.predict_proba_many(np.array([[2.0, 1.0]]))[0, 1]
    assert proba == by_dict.predict_proba_one({"a": 1.0, "b": 2.0})[1]
    assert proba != by_dict.predict_proba_one({"a": 2.0, "b": 1.0})[1]


def test_arrays_first_then_dicts_fix_the_names() -> None:
    model = LogisticRegression()
    model.learn_many(np.ones((2, 2)), np.array([1, 0]))
    assert (model.n_features_in_, model.feature_names_in_) == (2, None)
    with pytest.raises(InvalidInputError, match="expected 2 features, got 3"):
        model.learn_one({"a": 1.0, "b": 2.0, "c": 3.0}, 1)
    model.learn_one({"x": 1.0, "y": 2.0}, 1)
    assert model.feature_names_in_ == ("x", "y")
    with pytest.raises(InvalidInputError, match=r"missing \['y'\], unknown \['z'\]"):
        model.predict_one({"x": 1.0, "z": 2.0})


def test_predicting_fixes_nothing() -> None:
    model = LogisticRegression()
    model.predict_one({"a": 1.0})
    model.predict_many(np.ones((2, 5)))
    assert model.n_features_in_ is None
    model.learn_one({"b": 1.0, "c": 2.0}, 1)
    assert model.feature_names_in_ == ("b", "c")


def test_rows_outside_the_learn_mask_are_only_predicted() -> None:
    model = LogisticRegression(lr=0.5)
    X = np.array([[1.0], [1.0], [1.0]])
    probas = model.predict_learn_many(X, np.array([-1, 1, 7]), np.array([False, True, False]))
    assert probas[0] == probas[1] == 0.5
    assert probas[2] > 0.5
    reference = LogisticRegression(lr=0.5)
    reference.learn_one({"a": 1.0}, 1)
    np.testing.assert_array_equal(model.state_dict()["weights"], reference.state_dict()["weights"])


def test_state_dict_contents() -> None:
    model = LogisticRegression()
    model.learn_one({"a": 1.0, "b": 2.0}, True)
    state = model.state_dict()
    assert set(state) == {"feature_names", "n_features", "weights", "intercept"}
    assert state["feature_names"] == ["a", "b"] and state["n_features"] == 2
    assert state["weights"].dtype == np.float64 and state["weights"].shape == (2,)
    assert type(state["intercept"]) is float


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_names": ["a", "a"]}, "distinct"),
        ({"feature_names": ["a"]}, "n_features distinct names"),
        ({"n_features": -1}, "n_features"),
        ({"weights": np.array(["x", "y"])}, "weights must be a float array"),
        ({"intercept": "0.5"}, "intercept"),
        ({"intercept": math.inf}, "intercept"),
    ],
)
def test_load_state_dict_rejects_inconsistent_states(change, message) -> None:
    model = LogisticRegression()
    model.learn_one({"a": 1.0, "b": 2.0}, 1)
    before = model.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        model.load_state_dict({**before, **change})
    np.testing.assert_array_equal(model.state_dict()["weights"], before["weights"])
    assert model.feature_names_in_ == ("a", "b")
