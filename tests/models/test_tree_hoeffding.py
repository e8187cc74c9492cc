"""HoeffdingTreeClassifier: what it learns, batch == one by one, state, memory, bad input."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from river.datasets import synth

from models import InvalidInputError, LogisticRegression
from models.preprocessing import StandardScaler
from models.tree import HoeffdingTreeClassifier


def agrawal(function: int, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rows = list(itertools.islice(synth.Agrawal(classification_function=function, seed=seed), n))
    return np.array([list(x.values()) for x, _ in rows]), np.array([int(y) for _, y in rows])


def three_classes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 10.0, 100.0, 0.1]
    y = np.where(X[:, 0] > 0.3, "a", np.where(X[:, 2] + 30 * X[:, 3] > 20, "b", "c"))
    y[: n // 4][y[: n // 4] == "c"] = "b"  # "c" first shows up a quarter into the stream
    return X, y


def prequential(model: Any, X: np.ndarray, y: np.ndarray, batch: int = 500) -> np.ndarray:
    """Test-then-train predictions (labels) in batches."""
    out = []
    for i in range(0, len(y), batch):
        proba = model.predict_learn_many(X[i : i + batch], y[i : i + batch])
        if proba.ndim == 1:  # a binary Classifier: P(y=1)
            out.append((proba > 0.5).astype(int))
        else:
            out.append(np.array((*model.classes_, None), dtype=object)[proba.argmax(axis=1)])
    return np.concatenate(out)


@pytest.mark.parametrize("function", [0, 3])
def test_learns_agrawal_where_a_linear_model_fails(function) -> None:
    X, y = agrawal(function, 5000)
    tree = prequential(HoeffdingTreeClassifier(), X, y)
    linear = prequential(StandardScaler() | LogisticRegression(), X, y)
    tree_acc, linear_acc = (tree == y)[2500:].mean(), (linear == y)[2500:].mean()
    majority = max(y[2500:].mean(), 1 - y[2500:].mean())
    assert linear_acc < majority + 0.02  # the linear model is no better than a constant
    assert tree_acc > linear_acc + 0.15


CONFIGS = [
    pytest.param({"grace_period": 50}, id="nba"),
    pytest.param({"grace_period": 40, "leaf_prediction": "mc"}, id="mc"),
    pytest.param({"grace_period": 40, "leaf_prediction": "nb", "nb_threshold": 30}, id="nb"),
    pytest.param({"grace_period": 30, "max_depth": 2}, id="max-depth"),
    pytest.param({"grace_period": 50, "split_criterion": "gini", "tau": 0.2}, id="gini"),
    pytest.param({"grace_period": 25, "max_nodes": 7}, id="max-nodes"),
    # leaves dominated by a class restart their splitters, inside batches
    pytest.param({"grace_period": 20, "max_share_to_split": 0.7}, id="restarts"),
]


@pytest.mark.parametrize("params", CONFIGS)
def test_batches_equal_row_by_row(params, states_equal) -> None:
    """Uneven batches with a learn mask, str labels and a class that appears mid-batch give
    the same probabilities and state as single rows (and as the dict methods)."""
    X, y = three_classes(800)
    mask = np.random.default_rng(1).random(len(y)) < 0.8
    labels = np.where(mask, y, "?")  # placeholders where a row is not learned
    batched, single = HoeffdingTreeClassifier(**params), HoeffdingTreeClassifier(**params)
    got, start = [], 0
    for size in itertools.cycle([1, 7, 300, 64, 1000]):
        if start >= len(y):
            break
        end = start + size
        got.append(batched.predict_learn_many(X[start:end], labels[start:end], mask[start:end]))
        start = end
    expected = [
        single.predict_learn_many(X[i : i + 1], labels[i : i + 1], mask[i : i + 1])
        for i in range(len(y))
    ]
    width = len(batched.classes_)
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
    np.testing.assert_array_equal(
        np.concatenate([pad(a) for a in got]), np.concatenate([pad(a) for a in expected])
    )
    states_equal(batched.state_dict(), single.state_dict())
    assert batched.n_nodes >= 3 and batched.classes_ == ("b", "a", "c")
    names = [f"f{j}" for j in range(4)]
    dicts = HoeffdingTreeClassifier(**params)
    for row, label, learn in zip(X[:200].tolist(), labels[:200].tolist(), mask[:200], strict=True):
        x = dict(zip(names, row, strict=True))
        dicts.predict_proba_one(x)
        if learn:
            dicts.learn_one(x, label)
    reference = HoeffdingTreeClassifier(**params)
    reference.learn_many(X[:200][mask[:200]], y[:200][mask[:200]])
    np.testing.assert_array_equal(dicts.predict_proba_many(X), reference.predict_proba_many(X))


def test_unseen_classes_get_zero_until_learned() -> None:
    X, y = three_classes(600)
    model = HoeffdingTreeClassifier(grace_period=50)
    proba = model.predict_learn_many(X, y)
    first_c = int(np.argmax(y == "c"))
    c = model.classes_.index("c")
    assert (proba[: first_c + 1, c] == 0.0).all()
    assert proba[first_c + 1 :, c].max() > 0.5
    assert proba.sum(axis=1)[1:] == pytest.approx(1.0)
    x = dict(zip(["f0", "f1", "f2", "f3"], X[0].tolist(), strict=True))
    assert set(model.predict_proba_one(x)) == {"a", "b", "c"}


def test_predict_before_learning() -> None:
    model = HoeffdingTreeClassifier()
    assert model.predict_proba_one({"a": 1.0}) == {}
    assert model.predict_one({"a": 1.0}) is None
    assert model.predict_proba_many(np.ones((3, 2))).shape == (3, 0)
    assert model.predict_many(np.ones((3, 2))).tolist() == [None, None, None]
    assert (model.n_nodes, model.n_leaves, model.height) == (0, 0, 0)


def test_state_round_trip_mid_stream(roundtrip, states_equal) -> None:
    X, y = agrawal(2, 3000)
    model = HoeffdingTreeClassifier(grace_period=40, delta=1e-3)
    model.learn_many(X[:1500], y[:1500])
    grown = model.n_nodes
    assert grown > 1
    restored = HoeffdingTreeClassifier(grace_period=40, delta=1e-3)
    restored.load_state_dict(roundtrip(model.state_dict()))
    states_equal(restored.state_dict(), model.state_dict())
    for i in range(1500, 3000, 256):
        a = model.predict_learn_many(X[i : i + 256], y[i : i + 256])
        b = restored.predict_learn_many(X[i : i + 256], y[i : i + 256])
        np.testing.assert_array_equal(a, b)
    states_equal(restored.state_dict(), model.state_dict())
    assert restored.n_nodes > grown  # it went on splitting after the restore


def test_memory_is_fixed_by_max_nodes(states_equal) -> None:
    X, y = agrawal(2, 8000)
    model = HoeffdingTreeClassifier(grace_period=30, delta=0.01, max_nodes=9)
    model.learn_many(X[:10], y[:10])
    sizes = {k: np.asarray(v).nbytes for k, v in model.state_dict().items()}
    nodes = []
    for i in range(10, len(y), 999):
        model.learn_many(X[i : i + 999], y[i : i + 999])
        nodes.append(model.n_nodes)
        assert {k: np.asarray(v).nbytes for k, v in model.state_dict().items()} == sizes
    assert max(nodes) == 9 and model.n_leaves == 5
    assert model.state_dict()["node_feature"].shape == (9,)


def test_max_depth_bounds_the_tree() -> None:
    X, y = agrawal(2, 4000)
    model = HoeffdingTreeClassifier(grace_period=30, delta=0.01, max_depth=2)
    model.learn_many(X, y)
    state = model.state_dict()
    leaves = state["node_feature"][: model.n_nodes] < 0
    assert model.height == 2 and model.n_nodes > 3
    # leaves at max_depth stopped feeding their splitters and predict the majority class
    deep = state["node_slot"][: model.n_nodes][leaves & (state["node_depth"][: model.n_nodes] == 2)]
    assert not state["leaf_active"][deep].any()
    assert (state["gauss_count"][deep] == 0).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"grace_period": 0}, "grace_period"),
        ({"grace_period": 2.5}, "grace_period"),
        ({"max_depth": -1}, "max_depth"),
        ({"split_criterion": "hellinger"}, "split_criterion"),
        ({"delta": 0.0}, "delta"),
        ({"delta": 1.0}, "delta"),
        ({"tau": -0.1}, "tau"),
        ({"leaf_prediction": "knn"}, "leaf_prediction"),
        ({"nb_threshold": -1}, "nb_threshold"),
        ({"n_splits": 0}, "n_splits"),
        ({"binary_split": 1}, "binary_split"),
        ({"min_branch_fraction": 1.0}, "min_branch_fraction"),
        ({"max_share_to_split": 1.5}, "max_share_to_split"),
        ({"merit_preprune": "yes"}, "merit_preprune"),
        ({"max_nodes": 0}, "max_nodes"),
    ],
)
def test_bad_hyperparameters(params, message) -> None:
    with pytest.raises(ValueError, match=message):
        HoeffdingTreeClassifier(**params)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.array([[1.0, np.inf, 0.0, 0.0]]), ["a"], "row 0, column 1"),
        (np.array([[1.0, 2.0, 3.0]]), ["a"], "expected 4 columns"),
        (np.array([[1.0, 2.0, 3.0, 4.0]]), [2.5], "class label"),
        (np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([np.nan]), "class label"),
        (np.array([[1.0, 2.0, 3.0, 4.0]] * 2), ["a"], "expected 2 labels"),
    ],
)
def test_bad_input_raises_and_leaves_state(X, y, message, states_equal) -> None:
    model = HoeffdingTreeClassifier(grace_period=20)
    model.learn_many(*three_classes(200))
    before = model.state_dict()
    for call in (model.learn_many, model.predict_learn_many):
        with pytest.raises(InvalidInputError, match=message):
            call(X, y)
        states_equal(model.state_dict(), before)


def test_inconsistent_state_is_refused(states_equal) -> None:
    model = HoeffdingTreeClassifier(grace_period=20)
    model.learn_many(*three_classes(300))
    assert model.n_nodes >= 3
    before = model.state_dict()
    cyclic = model.state_dict()
    cyclic["node_left"][0] = 0  # the root as its own child: routing would never end
    other_size = HoeffdingTreeClassifier(grace_period=20, max_nodes=15).state_dict()
    for state in (cyclic, {**before, "n_leaves": before["n_leaves"] + 1}, other_size):
        with pytest.raises(InvalidInputError):
            model.load_state_dict(state)
        states_equal(model.state_dict(), before)
