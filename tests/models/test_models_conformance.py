"""Conformance suite: every classifier and transformer in `models`, discovered, same checks."""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from collections.abc import Callable

import numpy as np
import pytest

import models
from models import InvalidInputError, LogisticRegression, Pipeline
from models.base import Classifier, Estimator, Transformer
from models.preprocessing import StandardScaler

# Estimators whose constructor needs arguments, and extra hyperparameter settings worth covering.
EXAMPLES: dict[type[Estimator], list[Callable[[], Estimator]]] = {
    LogisticRegression: [
        lambda: LogisticRegression(lr=0.05, l2=0.01, intercept_lr=0.0, clip_gradient=0.2),
    ],
    StandardScaler: [lambda: StandardScaler(with_std=False)],
    Pipeline: [
        lambda: StandardScaler() | LogisticRegression(lr=0.1),
        lambda: StandardScaler(with_std=False) | LogisticRegression(l2=0.1, clip_gradient=0.5),
        lambda: Pipeline(StandardScaler(), StandardScaler(with_std=False), LogisticRegression()),
        lambda: Pipeline(LogisticRegression(lr=0.2)),
    ],
}


def discover() -> list[type[Estimator]]:
    found: set[type[Estimator]] = set()
    for info in pkgutil.walk_packages(models.__path__, prefix="models."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Estimator)
                and not inspect.isabstract(obj)
                and obj.__module__.startswith("models.")
            ):
                found.add(obj)
    return sorted(found, key=lambda cls: cls.__name__)


ESTIMATORS = discover()


def factories() -> list[pytest.param]:
    params = []
    for cls in ESTIMATORS:
        makers = list(EXAMPLES.get(cls, []))
        try:
            cls()
        except (TypeError, ValueError):
            pass  # needs arguments: EXAMPLES must cover it
        else:
            makers.insert(0, cls)
        for k, make in enumerate(makers):
            params.append(pytest.param(make, id=f"{cls.__name__}-{k}"))
    return params


FACTORIES = factories()
CLASSIFIERS = [p for p in FACTORIES if isinstance(p.values[0](), Classifier)]
TRANSFORMERS = [p for p in FACTORIES if isinstance(p.values[0](), Transformer)]


def test_discovery_finds_every_estimator() -> None:
    assert {cls.__name__ for cls in ESTIMATORS} >= {
        "LogisticRegression",
        "Pipeline",
        "StandardScaler",
    }
    covered = {type(p.values[0]()) for p in FACTORIES}
    assert covered == set(ESTIMATORS), "add an EXAMPLES entry for the uncovered estimators"


# --- helpers -------------------------------------------------------------------------------


def fitted_rows(est: Estimator, X: np.ndarray, y: np.ndarray) -> None:
    if isinstance(est, Classifier):
        est.learn_many(X, y)
    else:
        assert isinstance(est, Transformer)
        est.learn_many(X)


def outputs(est: Estimator, X: np.ndarray) -> np.ndarray:
    if isinstance(est, Classifier):
        return est.predict_proba_many(X)
    assert isinstance(est, Transformer)
    return est.transform_many(X)


def without_names(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.endswith("feature_names")}


# --- batch == one by one -------------------------------------------------------------------


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("chunks", [[300], [1, 2, 97, 200], [150, 0, 150]])
def test_learn_many_equals_learn_one_in_order(make, chunks, stream, as_dicts, states_equal) -> None:
    X, y = stream
    batch, single = make(), make()
    start = 0
    for size in chunks:
        fitted_rows(batch, X[start : start + size], y[start : start + size])
        start += size
    for x, label in zip(as_dicts(X), y.tolist(), strict=True):
        if isinstance(single, Classifier):
            single.learn_one(x, label)
        else:
            single.learn_one(x)
    states_equal(without_names(batch.state_dict()), without_names(single.state_dict()))
    np.testing.assert_array_equal(outputs(batch, X), outputs(single, X))


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize("batch_size", [1, 7, 300])
def test_predict_learn_many_equals_predict_then_learn(
    make, batch_size, stream, as_dicts, states_equal
) -> None:
    X, y = stream
    rng = np.random.default_rng(1)
    mask = rng.random(len(y)) < 0.7
    y_placeholder = np.where(mask, y, -1)
    batch, single = make(), make()
    got = np.concatenate(
        [
            batch.predict_learn_many(
                X[i : i + batch_size], y_placeholder[i : i + batch_size], mask[i : i + batch_size]
            )
            for i in range(0, len(y), batch_size)
        ]
    )
    expected = []
    for x, label, learn in zip(as_dicts(X), y.tolist(), mask.tolist(), strict=True):
        expected.append(single.predict_proba_one(x)[1])
        if learn:
            single.learn_one(x, label)
    assert got.shape == (len(y),)
    np.testing.assert_array_equal(got, np.array(expected))
    states_equal(without_names(batch.state_dict()), without_names(single.state_dict()))
    # The model learned something: predictions moved away from the prior.
    assert np.abs(got[-50:] - 0.5).mean() > 0.05


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_predict_many_equals_predict_one(make, stream, as_dicts) -> None:
    X, y = stream
    model = make()
    model.learn_many(X[:200], y[:200])
    proba = model.predict_proba_many(X)
    assert proba.shape == (len(X), 2)
    one = [model.predict_proba_one(x) for x in as_dicts(X)]
    np.testing.assert_array_equal(proba, np.array([[p[0], p[1]] for p in one]))
    labels = model.predict_many(X)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [model.predict_one(x) for x in as_dicts(X)])
    assert set(labels.tolist()) == {0, 1}


@pytest.mark.parametrize("make", TRANSFORMERS)
def test_transform_many_equals_transform_one(make, stream, as_dicts, states_equal) -> None:
    X, _ = stream
    est = make()
    est.learn_many(X[:200])
    before = est.state_dict()
    many = est.transform_many(X)
    one = np.array([list(est.transform_one(x).values()) for x in as_dicts(X)])
    np.testing.assert_array_equal(many, one)
    states_equal(est.state_dict(), before)  # transforming never learns


# --- before learning -------------------------------------------------------------------------


@pytest.mark.parametrize("make", FACTORIES)
def test_predict_before_learning(make, stream, as_dicts, states_equal) -> None:
    X, _ = stream
    est = make()
    fresh = est.state_dict()
    x = as_dicts(X)[0]
    if isinstance(est, Classifier):
        assert est.predict_proba_one(x) == {0: 0.5, 1: 0.5}
        assert est.predict_one(x) == 0
        np.testing.assert_array_equal(est.predict_proba_many(X), np.full((len(X), 2), 0.5))
        np.testing.assert_array_equal(est.predict_many(X), np.zeros(len(X), dtype=np.int64))
        # a different width also works: nothing is fixed before learning
        assert est.predict_proba_many(X[:, :2]).shape == (len(X), 2)
    else:
        out = est.transform_one(x)
        assert list(out) == list(x)
        assert est.transform_many(X).shape == X.shape
    assert est.n_features_in_ is None and est.feature_names_in_ is None
    states_equal(est.state_dict(), fresh)


# --- inputs are never mutated ----------------------------------------------------------------


@pytest.mark.parametrize("make", FACTORIES)
def test_inputs_not_mutated(make, stream, as_dicts) -> None:
    X, y = stream
    X_in, y_in, dicts = X.copy(), y.copy(), as_dicts(X)
    dicts_in = copy.deepcopy(dicts)
    mask = np.arange(len(y)) % 3 != 0
    mask_in = mask.copy()
    est = make()
    if isinstance(est, Classifier):
        est.predict_learn_many(X_in, y_in, mask_in)
        est.learn_many(X_in, y_in)
        est.predict_proba_many(X_in)
        est.predict_many(X_in)
        for x, label in zip(dicts_in, y_in.tolist(), strict=True):
            est.predict_one(x)
            est.learn_one(x, label)
    else:
        est.learn_many(X_in)
        est.transform_many(X_in)
        for x in dicts_in:
            est.learn_one(x)
            est.transform_one(x)
    np.testing.assert_array_equal(X_in, X)
    np.testing.assert_array_equal(y_in, y)
    np.testing.assert_array_equal(mask_in, mask)
    assert dicts_in == dicts


# --- serialization, clones, memory -----------------------------------------------------------


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("fit_with", ["dicts", "arrays", "nothing"])
def test_state_dict_round_trip(make, fit_with, stream, as_dicts, roundtrip, states_equal) -> None:
    X, y = stream
    est = make()
    if fit_with == "dicts":
        for x, label in zip(as_dicts(X[:150]), y[:150].tolist(), strict=True):
            est.learn_one(x, label) if isinstance(est, Classifier) else est.learn_one(x)
    elif fit_with == "arrays":
        fitted_rows(est, X[:150], y[:150])
    restored = make().clone()
    restored.load_state_dict(roundtrip(est.state_dict()))
    states_equal(restored.state_dict(), est.state_dict())
    assert restored.feature_names_in_ == est.feature_names_in_
    assert restored.n_features_in_ == est.n_features_in_
    np.testing.assert_array_equal(outputs(restored, X), outputs(est, X))
    if fit_with == "dicts":
        x = as_dicts(X)[200]
        if isinstance(est, Classifier):
            assert restored.predict_proba_one(x) == est.predict_proba_one(x)
        else:
            assert restored.transform_one(x) == est.transform_one(x)
    # Both keep learning identically afterwards.
    fitted_rows(est, X[150:], y[150:])
    fitted_rows(restored, X[150:], y[150:])
    states_equal(restored.state_dict(), est.state_dict())


@pytest.mark.parametrize("make", FACTORIES)
def test_state_dict_is_a_copy(make, stream, states_equal) -> None:
    X, y = stream
    est = make()
    fitted_rows(est, X[:100], y[:100])
    saved = est.state_dict()
    frozen = copy.deepcopy(saved)
    fitted_rows(est, X[100:], y[100:])
    states_equal(saved, frozen)


@pytest.mark.parametrize("make", FACTORIES)
def test_clone_is_unfitted_and_independent(make, stream, states_equal) -> None:
    X, y = stream
    est = make()
    fresh = make().state_dict()
    fitted_rows(est, X[:100], y[:100])
    clone = est.clone()
    assert type(clone) is type(est)
    assert clone.n_features_in_ is None
    states_equal(clone.state_dict(), fresh)
    learned = est.state_dict()
    fitted_rows(clone, X[100:], y[100:])
    states_equal(est.state_dict(), learned)
    twin = make()
    fitted_rows(twin, X[100:], y[100:])
    states_equal(clone.state_dict(), twin.state_dict())  # same hyperparameters


@pytest.mark.parametrize("make", FACTORIES)
def test_memory_is_bounded(make, make_stream) -> None:
    X, y = make_stream(n=3000)
    est = make()
    fitted_rows(est, X[:100], y[:100])
    small = {k: np.asarray(v).nbytes for k, v in est.state_dict().items()}
    fitted_rows(est, X[100:], y[100:])
    assert {k: np.asarray(v).nbytes for k, v in est.state_dict().items()} == small


# --- invalid input ---------------------------------------------------------------------------


def _bad_matrix(kind: str, X: np.ndarray) -> object:
    bad = X[:20].copy()
    if kind == "nan":
        bad[7, 1] = np.nan
    elif kind == "inf":
        bad[7, 1] = -np.inf
    elif kind == "too_many_columns":
        bad = np.hstack([bad, bad[:, :1]])
    elif kind == "too_few_columns":
        bad = bad[:, :-1]
    elif kind == "one_dimensional":
        bad = bad[0]
    elif kind == "strings":
        bad = bad.astype(str)
    return bad


MATRIX_CASES = [
    ("nan", "row 7, column 1"),
    ("inf", "row 7, column 1"),
    ("too_many_columns", "expected 4 columns, got 5"),
    ("too_few_columns", "expected 4 columns, got 3"),
    ("one_dimensional", "2-D"),
    ("strings", "numeric"),
]


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize(("kind", "message"), MATRIX_CASES)
def test_bad_matrix_raises_and_leaves_state(make, kind, message, stream, states_equal) -> None:
    X, y = stream
    est = make()
    fitted_rows(est, X[:50], y[:50])
    before = est.state_dict()
    bad = _bad_matrix(kind, X)
    calls: list[Callable[[], object]]
    if isinstance(est, Classifier):
        calls = [
            lambda: est.learn_many(bad, y[:20]),
            lambda: est.predict_learn_many(bad, y[:20]),
            lambda: est.predict_proba_many(bad),
            lambda: est.predict_many(bad),
        ]
    else:
        calls = [lambda: est.learn_many(bad), lambda: est.transform_many(bad)]
    for call in calls:
        with pytest.raises(InvalidInputError, match=message):
            call()
        states_equal(est.state_dict(), before)


DICT_CASES = [
    ({"f0": 1.0, "f1": float("nan"), "f2": 0.0, "f3": 3.0}, "feature 'f1'.*nan"),
    ({"f0": 1.0, "f1": 2.0, "f2": float("inf"), "f3": 3.0}, "feature 'f2'.*inf"),
    ({"f0": 1.0, "f1": 2.0, "f2": 0.0}, r"missing \['f3'\]"),
    ({"f0": 1.0, "f1": 2.0, "f2": 0.0, "f3": 3.0, "f4": 1.0}, r"unknown \['f4'\]"),
    ({"f0": 1.0, "f1": 2.0, "f2": 0.0, "g3": 3.0}, r"missing \['f3'\], unknown \['g3'\]"),
    ({"f0": 1.0, "f1": "2.0", "f2": 0.0, "f3": 3.0}, "feature 'f1'.*real number"),
    ({"f0": 1.0, "f1": None, "f2": 0.0, "f3": 3.0}, "feature 'f1'.*real number"),
    ({"f0": 1.0, "f1": 10**400, "f2": 0.0, "f3": 3.0}, "feature 'f1'.*inf"),
]


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize(("x", "message"), DICT_CASES)
def test_bad_dict_raises_and_leaves_state(make, x, message, stream, as_dicts, states_equal):
    X, y = stream
    est = make()
    for row, label in zip(as_dicts(X[:50]), y[:50].tolist(), strict=True):
        est.learn_one(row, label) if isinstance(est, Classifier) else est.learn_one(row)
    before = est.state_dict()
    calls: list[Callable[[], object]]
    if isinstance(est, Classifier):
        calls = [
            lambda: est.learn_one(x, 1),
            lambda: est.predict_one(x),
            lambda: est.predict_proba_one(x),
        ]
    else:
        calls = [lambda: est.learn_one(x), lambda: est.transform_one(x)]
    for call in calls:
        with pytest.raises(InvalidInputError, match=message):
            call()
        states_equal(est.state_dict(), before)


LABEL_CASES = [
    (np.array([0, 1, 2] + [0] * 17), None, "row 2: label must be 0 or 1, got 2"),
    (np.array([0.0, np.nan] + [1.0] * 18), None, "row 1: label must be 0 or 1"),
    (np.array([0.5] + [1.0] * 19), None, "row 0: label must be 0 or 1"),
    (np.zeros(19, dtype=int), None, r"expected 20 labels"),
    (np.array(["a"] * 20), None, "numeric"),
    # a placeholder is fine only where the row is not learned
    (np.array([-1] + [1] * 19), np.array([True] * 20), "row 0: label must be 0 or 1"),
    (np.ones(20, dtype=int), np.ones(20, dtype=int), "learn_mask must be a boolean array"),
    (np.ones(20, dtype=int), np.ones(19, dtype=bool), "learn_mask must be a boolean array"),
]


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize(("labels", "mask", "message"), LABEL_CASES)
def test_bad_labels_raise_and_leave_state(make, labels, mask, message, stream, states_equal):
    X, y = stream
    model = make()
    model.learn_many(X[:50], y[:50])
    before = model.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        model.predict_learn_many(X[:20], labels, mask)
    if mask is None:
        with pytest.raises(InvalidInputError, match=message):
            model.learn_many(X[:20], labels)
    states_equal(model.state_dict(), before)


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize("label", [2, -1, 0.5, float("nan"), None, "1", [1]])
def test_bad_label_one_raises_and_leaves_state(make, label, stream, as_dicts, states_equal):
    X, y = stream
    model = make()
    model.learn_many(X[:50], y[:50])
    before = model.state_dict()
    with pytest.raises(InvalidInputError, match="label must be 0 or 1"):
        model.learn_one(as_dicts(X)[0], label)
    states_equal(model.state_dict(), before)


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize("label", [0, 1, True, False, np.int64(1), np.bool_(False), 1.0])
def test_label_forms_accepted(make, label, stream, as_dicts) -> None:
    X, _ = stream
    reference, model = make(), make()
    reference.learn_one(as_dicts(X)[0], int(label))
    model.learn_one(as_dicts(X)[0], label)
    assert model.predict_proba_one(as_dicts(X)[1]) == reference.predict_proba_one(as_dicts(X)[1])


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s.pop(next(iter(s))), id="missing-key"),
        pytest.param(lambda s: s.update(extra=1), id="extra-key"),
        pytest.param(
            lambda s: s.update({k: v[:-1] for k, v in s.items() if isinstance(v, np.ndarray)}),
            id="short-arrays",
        ),
        pytest.param(
            lambda s: s.update(
                {k: np.full_like(v, np.nan) for k, v in s.items() if isinstance(v, np.ndarray)}
            ),
            id="nan-arrays",
        ),
    ],
)
def test_bad_state_raises_and_leaves_state(make, mutate, stream, states_equal) -> None:
    X, y = stream
    est = make()
    fitted_rows(est, X[:50], y[:50])
    before = est.state_dict()
    state = est.state_dict()
    mutate(state)
    with pytest.raises(InvalidInputError):
        est.load_state_dict(state)
    states_equal(est.state_dict(), before)


@pytest.mark.parametrize("make", FACTORIES)
def test_bad_first_input_leaves_the_estimator_unfitted(make, stream, states_equal) -> None:
    X, y = stream
    est = make()
    fresh = est.state_dict()
    bad_matrix = X[:10].copy()
    bad_matrix[4, 2] = np.nan
    bad_dict = {"f0": 1.0, "f1": float("nan")}
    calls: list[Callable[[], object]]
    if isinstance(est, Classifier):
        calls = [
            lambda: est.learn_one(bad_dict, 1),
            lambda: est.learn_one({"f0": 1.0}, 3),
            lambda: est.learn_many(bad_matrix, y[:10]),
            lambda: est.learn_many(X[:10], np.full(10, 2)),
            lambda: est.predict_learn_many(bad_matrix, y[:10]),
            lambda: est.predict_learn_many(X[:10], y[:10], np.ones(10)),
        ]
    else:
        calls = [lambda: est.learn_one(bad_dict), lambda: est.learn_many(bad_matrix)]
    for call in calls:
        with pytest.raises(InvalidInputError):
            call()
        assert est.n_features_in_ is None
        states_equal(est.state_dict(), fresh)
