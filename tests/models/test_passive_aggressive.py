"""PARegressor and PAClassifier: River parity, hand-computed steps, merging, validation."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model

from models import InvalidInputError
from models.pa_classifier import PAClassifier
from models.pa_regressor import PARegressor

NAMES = ["a", "b", "c", "d", "e"]


def river_stream(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features on mixed scales and offsets; a noisy linear target and its binary version."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * rng.uniform(0.1, 10.0, size=5) + rng.uniform(-3, 3, size=5)
    y = X @ rng.normal(size=5) + rng.normal(size=n)
    return X, y, (y > np.median(y)).astype(np.int64)


def dicts(X: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(NAMES, row, strict=True)) for row in X.tolist()]


def close(a: object, b: object) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-9)


REGRESSOR_SETTINGS = [
    {"C": C, "mode": mode, "eps": eps, "learn_intercept": li}
    for mode, C, eps, li in itertools.product([0, 1, 2], [0.01, 1.0], [0.0, 0.1], [True, False])
    if not (mode == 0 and C != 1.0)  # mode 0 ignores C
]
CLASSIFIER_SETTINGS = [
    {"C": C, "mode": mode, "learn_intercept": li}
    for mode, C, li in itertools.product([0, 1, 2], [0.01, 1.0], [True, False])
    if not (mode == 0 and C != 1.0)
]


@pytest.mark.parametrize("params", REGRESSOR_SETTINGS, ids=str)
def test_regressor_matches_river_one_by_one(params) -> None:
    X, y, _ = river_stream()
    river, model, fast = linear_model.PARegressor(**params), PARegressor(**params), None
    expected, got = [], []
    for x, target in zip(dicts(X), y.tolist(), strict=True):
        expected.append(river.predict_one(x))
        got.append(model.predict_one(x))
        river.learn_one(x, target)
        model.learn_one(x, target)
    close(got, expected)
    close(model.state_dict()["weights"], [river.weights[k] for k in NAMES])
    close(model.state_dict()["intercept"], river.intercept)
    # The batch hot path gives the same predictions (exactly the one-by-one ones).
    fast = PARegressor(**params)
    preds = np.concatenate(
        [fast.predict_learn_many(X[i : i + 64], y[i : i + 64]) for i in range(0, len(X), 64)]
    )
    np.testing.assert_array_equal(preds, got)
    np.testing.assert_array_equal(fast.predict_many(X), model.predict_many(X))


@pytest.mark.parametrize("params", CLASSIFIER_SETTINGS, ids=str)
def test_classifier_matches_river_one_by_one(params) -> None:
    X, _, y = river_stream()
    river, model = linear_model.PAClassifier(**params), PAClassifier(**params)
    expected, got = [], []
    for x, label in zip(dicts(X), y.tolist(), strict=True):
        expected.append(river.predict_proba_one(x)[True])
        got.append(model.predict_proba_one(x)[1])
        assert model.predict_one(x) == int(river.predict_one(x))
        river.learn_one(x, bool(label))
        model.learn_one(x, label)
    close(got, expected)
    close(model.state_dict()["weights"], [river.weights[k] for k in NAMES])
    close(model.state_dict()["intercept"], river.intercept)
    fast = PAClassifier(**params)
    probas = np.concatenate(
        [fast.predict_learn_many(X[i : i + 64], y[i : i + 64]) for i in range(0, len(X), 64)]
    )
    np.testing.assert_array_equal(probas, got)
    accuracy = ((probas > 0.5) == y)[500:].mean()
    assert accuracy > 0.75


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3),
            st.floats(-1e3, 1e3),
        ),
        min_size=1,
        max_size=40,
    ),
    mode=st.sampled_from([0, 1, 2]),
    C=st.floats(1e-3, 1e3),
    eps=st.floats(0.0, 10.0),
    learn_intercept=st.booleans(),
)
def test_both_match_river_on_arbitrary_streams(rows, mode, C, eps, learn_intercept) -> None:
    reg = (
        linear_model.PARegressor(C, mode, eps, learn_intercept),
        PARegressor(C, mode, eps, learn_intercept),
    )
    clf = (
        linear_model.PAClassifier(C, mode, learn_intercept),
        PAClassifier(C, mode, learn_intercept),
    )
    for values, target in rows:
        x = dict(zip("xyz", values, strict=True))
        close(reg[1].predict_one(x), reg[0].predict_one(x))
        close(clf[1].predict_proba_one(x)[1], clf[0].predict_proba_one(x)[True])
        for model in reg:
            model.learn_one(x, target)
        for model in clf:
            model.learn_one(x, target > 0)
    close(reg[1].state_dict()["weights"], [reg[0].weights.get(k, 0.0) for k in "xyz"])
    close(clf[1].state_dict()["weights"], [clf[0].weights.get(k, 0.0) for k in "xyz"])


# --- the steps by hand ---------------------------------------------------------------------


def test_regressor_step_uses_rivers_target_mapping() -> None:
    # River's epsilon-insensitive loss compares the prediction with 2 * y - 1: from zero
    # weights, y = 3 gives loss |0 - 5| - 0.1 = 4.9, |x|^2 = 4, tau = min(10, 4.9 / 4) = 1.225.
    model = PARegressor(C=10.0, mode=1, eps=0.1)
    model.learn_one({"a": 2.0}, 3.0)
    assert model.state_dict()["weights"].tolist() == [2.45]
    assert model.state_dict()["intercept"] == 1.225
    assert model.predict_one({"a": 1.0}) == 2.45 + 1.225


def test_regressor_is_passive_inside_the_insensitive_zone() -> None:
    model = PARegressor(eps=0.5)
    model.learn_one({"a": 1.0}, 0.6)  # 2 * 0.6 - 1 = 0.2 is within 0.5 of the prediction 0
    assert model.state_dict()["weights"].tolist() == [0.0]
    assert model.predict_one({"a": 3.0}) == 0.0


@pytest.mark.parametrize(
    ("mode", "C", "weights", "intercept"),
    [(0, 1.0, [0.2, -0.4], 0.2), (1, 0.1, [0.1, -0.2], 0.1), (2, 0.5, [1 / 6, -1 / 3], 1 / 6)],
)
def test_classifier_step_by_mode(mode, C, weights, intercept) -> None:
    # y = 1 at margin 0: hinge loss 1, |x|^2 = 5; tau = 1/5, min(C, 1/5), 1 / (5 + 1 / (2 C)).
    model = PAClassifier(C=C, mode=mode)
    model.learn_one({"a": 1.0, "b": -2.0}, 1)
    close(model.state_dict()["weights"], weights)
    close(model.state_dict()["intercept"], intercept)


def test_classifier_is_passive_beyond_the_margin() -> None:
    model = PAClassifier(mode=0)
    model.learn_one({"a": 1.0, "b": -2.0}, 1)  # the margin becomes 0.2 + 0.8 + 0.2 = 1.2
    state = model.state_dict()
    model.learn_one({"a": 1.0, "b": -2.0}, 1)
    np.testing.assert_array_equal(model.state_dict()["weights"], state["weights"])
    model.learn_one({"a": 1.0, "b": -2.0}, 0)  # wrong side: loss 2.2, tau 2.2 / 5, label -1
    close(model.state_dict()["weights"], [0.2 - 0.44, -0.4 + 0.88])
    close(model.state_dict()["intercept"], 0.2 - 0.44)


@pytest.mark.parametrize("mode", [0, 1])
def test_a_zero_row_changes_nothing_in_modes_0_and_1(mode) -> None:
    model = PAClassifier(mode=mode)
    model.learn_one({"a": 0.0, "b": 0.0}, 1)
    assert model.state_dict()["intercept"] == 0.0


def test_a_zero_row_moves_only_the_intercept_in_mode_2() -> None:
    model = PAClassifier(C=0.5, mode=2)
    model.learn_one({"a": 0.0, "b": 0.0}, 1)  # tau = 1 / (0 + 1 / (2 * 0.5)) = 1
    assert model.state_dict()["weights"].tolist() == [0.0, 0.0]
    assert model.state_dict()["intercept"] == 1.0


@pytest.mark.parametrize(
    "model", [PARegressor(learn_intercept=False), PAClassifier(learn_intercept=False)]
)
def test_without_intercept_learning_the_intercept_stays_zero(model) -> None:
    X, y, labels = river_stream(200)
    model.learn_many(X, y if isinstance(model, PARegressor) else labels)
    assert model.state_dict()["intercept"] == 0.0
    assert np.abs(model.state_dict()["weights"]).sum() > 0.0


def test_probabilities_saturate_exactly_like_river() -> None:
    model = PAClassifier()
    model.load_state_dict(
        {"feature_names": ["a"], "n_features": 1, "weights": np.array([1.0]), "intercept": 0.0}
    )
    assert model.predict_proba_one({"a": 31.0}) == {0: 0.0, 1: 1.0}
    assert model.predict_proba_one({"a": -31.0}) == {0: 1.0, 1: 0.0}
    np.testing.assert_array_equal(
        model.predict_proba_many([[31.0], [-31.0]]), [[0.0, 1.0], [1.0, 0.0]]
    )


# --- hyperparameters -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [PARegressor, PAClassifier])
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"C": 0.0}, "C must be"),
        ({"C": -1.0}, "C must be"),
        ({"C": float("nan")}, "C must be"),
        ({"C": float("inf")}, "C must be"),
        ({"C": True}, "C must be"),
        ({"C": "1"}, "C must be"),
        ({"mode": 3}, "mode must be"),
        ({"mode": -1}, "mode must be"),
        ({"mode": 1.0}, "mode must be"),
        ({"mode": True}, "mode must be"),
        ({"learn_intercept": 1}, "learn_intercept must be a bool"),
        ({"learn_intercept": None}, "learn_intercept must be a bool"),
    ],
)
def test_invalid_hyperparameters_raise(cls, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**params)


@pytest.mark.parametrize("eps", [-0.1, float("nan"), float("inf"), True, None])
def test_invalid_eps_raises(eps) -> None:
    with pytest.raises(ValueError, match="eps must be"):
        PARegressor(eps=eps)


def test_hyperparameters_are_stored_and_cloned() -> None:
    reg = PARegressor(C=0.5, mode=2, eps=0.3, learn_intercept=False)
    clf = PAClassifier(C=2, mode=0, learn_intercept=False)
    assert (reg.C, reg.mode, reg.eps, reg.learn_intercept) == (0.5, 2, 0.3, False)
    assert (clf.C, clf.mode, clf.learn_intercept) == (2, 0, False)
    assert vars(reg.clone()).keys() == vars(reg).keys()
    assert (reg.clone().C, reg.clone().eps, clf.clone().C) == (0.5, 0.3, 2)


# --- state -----------------------------------------------------------------------------------


def fitted(cls: type, names: list[str], weights: list[float], intercept: float) -> Any:
    model = cls()
    model.load_state_dict(
        {
            "feature_names": names,
            "n_features": len(weights),
            "weights": np.array(weights),
            "intercept": intercept,
        }
    )
    return model


@pytest.mark.parametrize("cls", [PARegressor, PAClassifier])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": np.array([1.0])}, r"shape \(2,\)"),
        ({"weights": np.array([1.0, np.inf])}, "finite"),
        ({"weights": np.array(["1", "2"])}, "float array"),
        ({"intercept": float("nan")}, "intercept must be a finite number"),
        ({"intercept": True}, "intercept must be a finite number"),
        ({"intercept": "0"}, "intercept must be a finite number"),
        ({"n_features": 3}, "feature_names must be n_features distinct names"),
        ({"feature_names": ["a", "a"]}, "distinct"),
        ({"extra": 1}, "expected state keys"),
    ],
)
def test_load_state_dict_rejects_bad_states(cls, change, message) -> None:
    model = fitted(cls, ["a", "b"], [1.0, 2.0], 0.5)
    state = model.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        model.load_state_dict({**state, **change})
    assert model.state_dict()["weights"].tolist() == [1.0, 2.0]
    assert model.feature_names_in_ == ("a", "b")


def test_state_dict_contents() -> None:
    model = PARegressor()
    assert model.state_dict()["weights"].shape == (0,)
    model.learn_many(np.array([[1.0, 2.0]]), np.array([3.0]))
    state = model.state_dict()
    assert sorted(state) == ["feature_names", "intercept", "n_features", "weights"]
    assert state["feature_names"] is None and state["n_features"] == 2
    assert state["weights"].dtype == np.float64 and type(state["intercept"]) is float


# --- merging ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [PARegressor, PAClassifier])
def test_merge_is_the_weighted_average(cls) -> None:
    a = fitted(cls, ["x", "y"], [1.0, -2.0], 0.5)
    b = fitted(cls, ["x", "y"], [3.0, 2.0], -1.5)
    c = fitted(cls, ["x", "y"], [0.0, 4.0], 1.0)
    merged = a.merge([b, c], weights=[2.0, 1.0, 1.0])
    close(merged.state_dict()["weights"], [5 / 4, 2 / 4])
    close(merged.state_dict()["intercept"], 0.125)
    equal = a.merge([b])
    close(equal.state_dict()["weights"], [2.0, 0.0])
    close(equal.state_dict()["intercept"], -0.5)
    assert a.state_dict()["weights"].tolist() == [1.0, -2.0]  # the inputs are left alone
    assert b.state_dict()["intercept"] == -1.5
    assert merged.feature_names_in_ == ("x", "y")


def test_merge_keeps_this_models_hyperparameters_and_learns_on() -> None:
    a = fitted(PAClassifier, ["x"], [1.0], 0.0)
    a_fast = PAClassifier(C=0.1, mode=2)
    a_fast.load_state_dict(a.state_dict())
    merged = a_fast.merge([a])
    assert (merged.C, merged.mode) == (0.1, 2)
    merged.learn_one({"x": -1.0}, 1)
    assert merged.state_dict()["weights"][0] != 1.0


def test_unfitted_models_count_as_zeros() -> None:
    a = fitted(PARegressor, ["x", "y"], [1.0, -2.0], 0.5)
    merged = a.merge([PARegressor()])
    close(merged.state_dict()["weights"], [0.5, -1.0])
    close(merged.state_dict()["intercept"], 0.25)
    empty = PARegressor().merge([PARegressor()])
    assert empty.n_features_in_ is None
    assert PARegressor().merge([a], weights=[0.0, 1.0]).feature_names_in_ == ("x", "y")


def test_merge_accepts_array_fitted_models_of_the_same_width() -> None:
    a = fitted(PARegressor, ["x", "y"], [1.0, -2.0], 0.5)
    b = PARegressor()
    b.learn_many(np.array([[1.0, 1.0]]), np.array([2.0]))
    merged = b.merge([a])
    assert merged.feature_names_in_ == ("x", "y")


@pytest.mark.parametrize(
    ("others", "weights", "message"),
    [
        ([fitted(PARegressor, ["x", "z"], [1.0, 2.0], 0.0)], None, "different features"),
        ([fitted(PARegressor, ["x"], [1.0], 0.0)], None, "different features"),
        ([fitted(PAClassifier, ["x", "y"], [1.0, 2.0], 0.0)], None, "only merge PARegressor"),
        ([PARegressor()], [1.0], "weights must be 2 numbers"),
        ([PARegressor()], [1.0, -1.0], ">= 0"),
        ([PARegressor()], [0.0, 0.0], "not all 0"),
        ([PARegressor()], [1.0, float("inf")], "finite"),
        ([PARegressor()], [1.0, True], "weights must be 2 numbers"),
        ([PARegressor()], "ab", "sequence of numbers"),
    ],
)
def test_merge_rejects_bad_inputs(others, weights, message) -> None:
    a = fitted(PARegressor, ["x", "y"], [1.0, -2.0], 0.5)
    with pytest.raises(InvalidInputError, match=message):
        a.merge(others, weights=weights)
    assert a.state_dict()["weights"].tolist() == [1.0, -2.0]
