"""LogisticRegression: hyperparameters, hand-computed updates, feature-order semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import InvalidInputError, LogisticRegression
from models.optim import SGD, Adam, FTRLProximal
from models.optim.schedulers import InverseScaling


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"optimizer": "sgd"}, "optimizer must be None or a models.optim Optimizer"),
        ({"optimizer": 0.1}, "optimizer must be None or a models.optim Optimizer"),
        ({"l2": -1e-3}, "l2 must be >= 0"),
        ({"l2": math.nan}, "l2 must be finite"),
        ({"l1": -1.0}, "l1 must be >= 0"),
        ({"l1": 0.1, "l2": 0.1}, "l1 and l2 cannot be combined"),
        ({"l1": 0.1, "optimizer": FTRLProximal()}, "l1 needs an optimizer with a learning rate"),
        ({"intercept_init": math.inf}, "intercept_init must be finite"),
        ({"intercept_init": "0"}, "intercept_init must be a real number"),
        ({"intercept_lr": -0.01}, "intercept_lr must be >= 0"),
        ({"intercept_lr": "fast"}, "intercept_lr must be a real number or"),
        ({"clip_gradient": 0.0}, "clip_gradient must be > 0"),
        ({"clip_gradient": math.nan}, "clip_gradient must be finite"),
        ({"clip_gradient": None}, "clip_gradient must be a real number"),
        ({"mini_batch": 1}, "mini_batch must be a bool"),
    ],
)
def test_invalid_hyperparameters_raise(params, message) -> None:
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params)


def test_hyperparameters_are_stored_under_their_names() -> None:
    optimizer, schedule = Adam(0.5), InverseScaling(0.1)
    model = LogisticRegression(
        optimizer=optimizer, l1=0.1, intercept_init=-1, intercept_lr=schedule, mini_batch=True
    )
    assert (model.optimizer, model.l1, model.l2, model.intercept_init) == (optimizer, 0.1, 0.0, -1)
    assert (model.intercept_lr, model.clip_gradient, model.mini_batch) == (schedule, 1e12, True)
    clone = model.clone()
    assert repr(clone.optimizer) == repr(optimizer) and clone.optimizer is not optimizer
    assert (clone.l1, clone.intercept_init, clone.intercept_lr, clone.mini_batch) == (
        0.1,
        -1,
        schedule,
        True,
    )
    assert repr(LogisticRegression().optimizer) == "SGD(lr=0.01)"  # River's default


def test_the_given_optimizer_is_never_stepped() -> None:
    optimizer = Adam()
    a, b = LogisticRegression(optimizer=optimizer), LogisticRegression(optimizer=optimizer)
    a.learn_one({"x": 1.0}, 1)
    assert optimizer.n_iterations == 0 and optimizer.state_dict()["m"].shape == (0,)
    assert a.state_dict()["optimizer.n_iterations"] == 1
    b.learn_one({"x": 1.0}, 1)
    np.testing.assert_array_equal(a.weights, b.weights)  # not sharing one optimizer's moments


# One SGD step by hand: logit t = w.x + b, g = sigmoid(t) - y (clipped), w -= lr * (g x + l2 w),
# b -= intercept_lr * g; with l1, River's cumulative penalty then shrinks w towards 0.
@pytest.mark.parametrize(
    ("lr", "params", "steps", "weights", "intercept"),
    [
        (0.1, {}, [({"a": 2.0, "b": -1.0}, 1)], [0.1, -0.05], 0.005),
        (0.1, {}, [({"a": 2.0, "b": -1.0}, 0)], [-0.1, 0.05], -0.005),
        (0.1, {"clip_gradient": 0.2}, [({"a": 2.0, "b": -1.0}, 1)], [0.04, -0.02], 0.002),
        (0.1, {"intercept_lr": 0.0}, [({"a": 2.0, "b": -1.0}, 1)], [0.1, -0.05], 0.0),
        (
            0.1,
            {"intercept_init": 0.5},
            [({"a": 0.0, "b": 0.0}, 0)],
            [0.0, 0.0],
            0.5 - 0.01 * 0.6225,
        ),
        (
            1.0,
            {"l2": 0.5, "intercept_lr": 0.0},
            [({"a": 1.0, "b": 0.0}, 1), ({"a": 0.0, "b": 1.0}, 1)],
            # step 1: w = (0.5, 0); step 2: t = 0, g = -0.5, w = (0.5 - 0.25, 0 + 0.5)
            [0.25, 0.5],
            0.0,
        ),
        (
            1.0,
            {"l1": 0.1, "intercept_lr": 0.0},
            [({"a": 1.0, "b": -4.0}, 1), ({"a": 1.0, "b": 0.0}, 1)],
            # step 1: w = (0.5, -2), shrunk by the total penalty 0.1: (0.4, -1.9); step 2:
            # t = 0.4, g = -0.4013, w = (0.8013, -1.9), each shrunk by what it still owes of
            # the total 0.2 (0.1 each): (0.7013, -1.8)
            [0.7013123, -1.8],
            0.0,
        ),
    ],
)
def test_sgd_steps_match_hand_computation(lr, params, steps, weights, intercept) -> None:
    model = LogisticRegression(optimizer=SGD(lr), **params)
    for x, y in steps:
        model.learn_one(x, y)
    state = model.state_dict()
    np.testing.assert_allclose(state["weights"], weights, rtol=0, atol=1e-6)
    assert state["intercept"] == pytest.approx(intercept, abs=1e-5)
    assert state["optimizer.n_iterations"] == len(steps)


@pytest.mark.parametrize(("x", "expected"), [(40.0, 1.0), (-40.0, 0.0), (0.0, 0.5)])
def test_probabilities_saturate_exactly_like_river(x, expected) -> None:
    model = LogisticRegression(optimizer=SGD(1.0), intercept_lr=0.0)
    model.learn_one({"a": 2.0}, 1)  # w = 1.0 exactly
    assert model.predict_proba_one({"a": x}) == {0: 1.0 - expected, 1: expected}
    assert model.predict_proba_many(np.array([[x]]))[0].tolist() == [1.0 - expected, expected]


def test_a_tie_predicts_zero() -> None:
    model = LogisticRegression()
    assert model.predict_one({"a": 1.0}) == 0
    assert model.predict_many(np.ones((3, 1))).tolist() == [0, 0, 0]


def test_dict_order_fixes_array_columns() -> None:
    by_dict, by_array = (LogisticRegression(optimizer=SGD(0.3)) for _ in range(2))
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
    model = LogisticRegression(optimizer=SGD(0.5))
    X = np.array([[1.0], [1.0], [1.0]])
    probas = model.predict_learn_many(X, np.array([-1, 1, 7]), np.array([False, True, False]))
    assert probas[0] == probas[1] == 0.5
    assert probas[2] > 0.5
    reference = LogisticRegression(optimizer=SGD(0.5))
    reference.learn_one({"a": 1.0}, 1)
    np.testing.assert_array_equal(model.state_dict()["weights"], reference.state_dict()["weights"])


def test_state_dict_contents() -> None:
    model = LogisticRegression()
    model.learn_one({"a": 1.0, "b": 2.0}, True)
    state = model.state_dict()
    assert set(state) == {
        "feature_names",
        "n_features",
        "weights",
        "intercept",
        "optimizer.n_iterations",
    }
    assert state["feature_names"] == ["a", "b"] and state["n_features"] == 2
    assert state["weights"].dtype == np.float64 and state["weights"].shape == (2,)
    assert type(state["intercept"]) is float
    adam_l1 = LogisticRegression(optimizer=Adam(), l1=0.01)
    adam_l1.learn_one({"a": 1.0, "b": 2.0}, True)
    extra = set(adam_l1.state_dict()) - set(state)
    assert extra == {"optimizer.m", "optimizer.v", "cum_l1", "max_cum_l1"}
    assert adam_l1.state_dict()["optimizer.m"].shape == (2,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_names": ["a", "a"]}, "distinct"),
        ({"feature_names": ["a"]}, "n_features distinct names"),
        ({"n_features": -1}, "n_features"),
        ({"weights": np.array(["x", "y"])}, "weights must be a float array"),
        ({"intercept": "0.5"}, "intercept"),
        ({"intercept": math.inf}, "intercept"),
        ({"optimizer.n_iterations": -2}, "n_iterations"),
        ({"optimizer.m": np.zeros(3)}, "same length"),
        ({"optimizer.m": np.zeros(3), "optimizer.v": np.zeros(3)}, "sized for 2 weights"),
        ({"cum_l1": np.zeros(1)}, "cum_l1 must be a float array"),
        ({"max_cum_l1": math.nan}, "max_cum_l1 must be a finite number"),
    ],
)
def test_load_state_dict_rejects_inconsistent_states(change, message) -> None:
    model = LogisticRegression(optimizer=Adam(), l1=0.01)
    model.learn_one({"a": 1.0, "b": 2.0}, 1)
    before = model.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        model.load_state_dict({**before, **change})
    np.testing.assert_array_equal(model.state_dict()["weights"], before["weights"])
    assert model.feature_names_in_ == ("a", "b")
