"""Conformance suite: every estimator in `models`, discovered, checked the same way.

Discovery finds every public concrete `Estimator` defined in a `models` module, so a new
estimator is checked as soon as it lands. Its kind comes from its base class (`Classifier`,
`MultiClassifier`, `Regressor`, `Transformer`; see the adapters in `conftest.py`). Settings:

- a class's `_unit_test_params()` classmethod yields keyword-argument dicts, one estimator
  each; without it the default constructor is used. Composites, whose constructors take other
  estimators (`Pipeline`), are built in `composites()` below;
- a class with a `mini_batch` hyperparameter gets a `mini_batch=True` setting too (unless one
  of its settings has it). An estimator in mini-batch mode (or built from one) is checked
  only for what that mode keeps: no batch == one-by-one, and `predict_many == predict_one`
  to 1e-12 instead of exactly;
- a class whose state grows with the stream says why in a class attribute
  `_unbounded_memory = "reason"`; the bounded-memory check is then skipped with that reason.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytest

import models
from models import InvalidInputError
from models.base import Classifier, Estimator, MultiClassifier, Regressor, Transformer

# --- discovery -------------------------------------------------------------------------------

BROKEN: dict[str, str] = {}  # what could not be imported or built, and why


def discover() -> list[type[Estimator]]:
    found: set[type[Estimator]] = set()

    def failed(name: str) -> None:
        BROKEN[name] = "the package cannot be imported"

    for info in pkgutil.walk_packages(models.__path__, prefix="models.", onerror=failed):
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            BROKEN[info.name] = repr(exc)
            continue
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Estimator)
                and not inspect.isabstract(obj)
                and obj.__module__.startswith("models.")
                and not name.startswith("_")
            ):
                found.add(obj)
    return sorted(found, key=lambda cls: (cls.__name__, cls.__module__))


ESTIMATORS = discover()
BASES = {
    Classifier: "classifier",
    MultiClassifier: "multiclass",
    Regressor: "regressor",
    Transformer: "transformer",
}


def kind_name(est: object) -> str | None:
    return next((name for base, name in BASES.items() if isinstance(est, base)), None)


BY_NAME = {cls.__name__: cls for cls in ESTIMATORS}


def _nested(est: object) -> Iterator[object]:
    """`est` and every estimator among its hyperparameters, recursively."""
    yield est
    if isinstance(est, list | tuple):
        for item in est:
            yield from _nested(item)
    elif isinstance(est, Estimator):
        for name in inspect.signature(type(est)).parameters:
            value = getattr(est, name, None)
            if value is not est and isinstance(value, Estimator | list | tuple):
                yield from _nested(value)


def uses_mini_batch(est: Estimator) -> bool:
    return any(getattr(e, "mini_batch", False) is True for e in _nested(est))


def unbounded_memory(est: Estimator) -> str | None:
    reasons = [getattr(type(e), "_unbounded_memory", None) for e in _nested(est)]
    return next((r for r in reasons if r), None)


def _nth(params: Callable[[], Iterable[dict[str, Any]]], k: int) -> dict[str, Any]:
    return dict(list(params())[k])


def _build(cls: type[Estimator], params: Callable[[], dict[str, Any]]) -> Estimator:
    return cls(**params())


def _settings(cls: type[Estimator]) -> list[Callable[[], dict[str, Any]]]:
    """Fresh keyword arguments for each setting (called anew so no instance is shared)."""
    params = getattr(cls, "_unit_test_params", None)
    if params is None:
        getters: list[Callable[[], dict[str, Any]]] = [dict]
    else:
        getters = [partial(_nth, params, k) for k in range(len(list(params())))]
    if "mini_batch" in inspect.signature(cls).parameters and not any(
        g().get("mini_batch") is True for g in getters
    ):
        first = getters[0]
        getters.append(lambda: {**first(), "mini_batch": True})
    return getters


def _try(cls: type[Estimator]) -> Any:
    try:
        return cls()
    except (TypeError, ValueError):
        return None


def composites() -> dict[str, list[tuple[str, Callable[[], Estimator]]]]:
    """Estimators whose constructors take other estimators."""
    from models import LogisticRegression, Pipeline
    from models.pa_classifier import PAClassifier
    from models.preprocessing import StandardScaler

    pipelines: list[tuple[str, Callable[[], Estimator]]] = [
        ("scaler-logreg", lambda: StandardScaler() | LogisticRegression()),
        (
            "scalers-logreg",
            lambda: Pipeline(StandardScaler(), StandardScaler(), LogisticRegression()),
        ),
        ("logreg", lambda: Pipeline(LogisticRegression())),
        ("scaler-pa", lambda: StandardScaler() | PAClassifier(mode=2)),
    ]
    for cls in ESTIMATORS:
        if cls.__name__ != "StandardScaler" and kind_name(_try(cls)) == "transformer":
            pipelines.append((f"{cls.__name__}-pa", lambda cls=cls: cls() | PAClassifier()))
    if all(
        "mini_batch" in inspect.signature(c).parameters
        for c in (StandardScaler, LogisticRegression)
    ):
        pipelines.append(
            (
                "scaler-logreg-mini_batch",
                lambda: StandardScaler(mini_batch=True) | LogisticRegression(mini_batch=True),
            )
        )
    return {"Pipeline": pipelines}


@dataclass(eq=False)
class Case:
    id: str
    cls: type[Estimator]
    build: Callable[[], Estimator]
    kind: str
    mini_batch: bool
    default: bool  # built by the default constructor

    def make(self) -> Any:
        return self.build()


def cases() -> list[Case]:
    found = []
    extra = composites()
    for cls in ESTIMATORS:
        if cls.__name__ in extra:
            builders = [
                (f"{cls.__name__}-{label}", make, False) for label, make in extra[cls.__name__]
            ]
        else:
            builders = []
            try:
                settings = _settings(cls)
            except Exception as exc:
                BROKEN[cls.__name__] = f"_unit_test_params(): {exc!r}"
                continue
            for k, params in enumerate(settings):
                default = params() == {}
                builders.append((f"{cls.__name__}-{k}", partial(_build, cls, params), default))
        for case_id, make, default in builders:
            try:
                est = make()
            except Exception as exc:
                BROKEN[case_id] = repr(exc)
                continue
            kind = kind_name(est)
            if kind is None:
                BROKEN[case_id] = "not a Classifier, MultiClassifier, Regressor or Transformer"
                continue
            mini = uses_mini_batch(est)
            if mini and not case_id.endswith("mini_batch"):
                case_id += "-mini_batch"
            found.append(Case(case_id, cls, make, kind, mini, default))
    return found


CASES = cases()


def params(
    *kinds: str, exact_only: bool = False, where: Callable[[Case], bool] | None = None
) -> list[Any]:
    return [
        pytest.param(c, id=c.id)
        for c in CASES
        if (not kinds or c.kind in kinds)
        and not (exact_only and c.mini_batch)
        and (where is None or where(c))
    ]


PREDICTORS = ("classifier", "multiclass", "regressor")
ALL = params()
EXACT = params(exact_only=True)


def test_discovery_finds_every_estimator() -> None:
    assert not BROKEN, f"estimators that cannot be imported or built: {BROKEN}"
    assert {
        "LogisticRegression",
        "PAClassifier",
        "PARegressor",
        "Pipeline",
        "StandardScaler",
    } <= set(BY_NAME)
    covered = {c.cls for c in CASES}
    assert covered == set(ESTIMATORS), "give the uncovered estimators `_unit_test_params`"
    assert {c.kind for c in CASES} >= {"classifier", "regressor", "transformer"}


def without_names(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.endswith("feature_names")}


def assert_same_outputs(a: np.ndarray, b: np.ndarray, mini_batch: bool) -> None:
    if mini_batch:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(a, b)


# --- batch == one by one (exact modes only) ---------------------------------------------------


@pytest.mark.parametrize("case", EXACT)
def test_learn_many_equals_learn_one_in_order(case, kind, states_equal) -> None:
    X, y = kind.stream()
    single = case.make()
    kind.learn_dicts(single, X, y)
    expected_state = without_names(single.state_dict())
    expected = kind.outputs_many(single, X)
    for chunks in ([300], [1, 2, 97, 200], [0, 150, 0, 150]):
        batch, start = case.make(), 0
        for size in chunks:
            kind.learn_many(batch, X[start : start + size], y[start : start + size])
            start += size
        states_equal(without_names(batch.state_dict()), expected_state)
        np.testing.assert_array_equal(kind.outputs_many(batch, X), expected, err_msg=str(chunks))


@pytest.mark.parametrize("case", params(*PREDICTORS, exact_only=True))
@pytest.mark.parametrize("masked", [True, False], ids=["masked", "every-row"])
def test_predict_learn_many_equals_predict_then_learn(case, kind, masked, states_equal) -> None:
    X, y = kind.stream()
    mask = np.random.default_rng(1).random(len(y)) < 0.7 if masked else np.ones(len(y), bool)
    single = case.make()
    expected = kind.predict_then_learn(single, X, y, mask)
    assert not np.allclose(expected[-50:], expected[0]), "predictions never changed"
    for batch in (1, 7, 300) if masked else (300,):
        fast = case.make()
        labels = kind.with_placeholders(y, mask) if masked else y
        got = kind.predict_learn_many(fast, X, labels, mask if masked else None, batch)
        np.testing.assert_array_equal(got, expected, err_msg=f"batches of {batch}")
        states_equal(without_names(fast.state_dict()), without_names(single.state_dict()))


@pytest.mark.parametrize("case", ALL)
def test_empty_batches_change_nothing(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:100], y[:100])
    before = est.state_dict()
    kind.learn_many(est, X[:0], y[:0])
    assert kind.outputs_many(est, X[:0]).shape[0] == 0
    if case.kind in PREDICTORS:
        assert len(est.predict_learn_many(X[:0], y[:0])) == 0
        assert len(est.predict_many(X[:0])) == 0
    states_equal(est.state_dict(), before)


# --- predicting ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL)
def test_predict_many_equals_predict_one(case, kind, as_dicts, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:200], y[:200])
    before = est.state_dict()
    many = kind.outputs_many(est, X)
    assert_same_outputs(many, kind.outputs_one(est, as_dicts(X)), case.mini_batch)
    if case.kind in ("classifier", "multiclass"):
        labels = kind.labels_many(est, X)
        assert labels == [est.predict_one(x) for x in as_dicts(X)]
        assert len(set(labels)) > 1, "always the same class after 200 rows"
        if case.kind == "classifier":
            assert est.predict_many(X).dtype == np.int64
    elif case.kind == "regressor":
        assert kind.labels_many(est, X) == [est.predict_one(x) for x in as_dicts(X)]
    states_equal(est.state_dict(), before)  # predicting never learns


@pytest.mark.parametrize("case", ALL)
def test_predict_before_learning(case, kind, states_equal) -> None:
    X, _ = kind.stream()
    est = case.make()
    fresh = est.state_dict()
    kind.assert_neutral(est, X, case.default)
    assert est.n_features_in_ is None and est.feature_names_in_ is None
    states_equal(est.state_dict(), fresh)


@pytest.mark.parametrize("case", params("multiclass"))
def test_classes_follow_the_stream(case, kind, roundtrip) -> None:
    X, y = kind.stream()
    first_seen = list(dict.fromkeys(y.tolist()))
    est = case.make()
    kind.learn_many(est, X[:150], y[:150])
    assert list(est.classes_) == first_seen[:2]
    kind.learn_many(est, X[150:], y[150:])
    assert list(est.classes_) == first_seen
    assert all(type(c) is str for c in est.classes_)
    restored = case.make()
    restored.load_state_dict(roundtrip(est.state_dict()))
    assert restored.classes_ == est.classes_


# --- inputs are never mutated ----------------------------------------------------------------


@pytest.mark.parametrize("case", ALL)
def test_inputs_not_mutated(case, kind, as_dicts) -> None:
    X, y = kind.stream()
    mask = np.arange(len(y)) % 3 != 0
    y_pl = kind.with_placeholders(y, mask)
    inputs = (X.copy(), y.copy(), mask.copy(), y_pl.copy(), as_dicts(X))
    X_in, y_in, mask_in, y_pl_in, dicts_in = copy.deepcopy(inputs)
    est = case.make()
    if case.kind in PREDICTORS:
        est.predict_learn_many(X_in, y_pl_in, mask_in)
    kind.learn_many(est, X_in, y_in)
    kind.outputs_many(est, X_in)
    if case.kind != "transformer":
        est.predict_many(X_in)
    for x, label in zip(dicts_in[:100], y_in[:100].tolist(), strict=True):
        kind.outputs_one(est, [x])
        kind.learn_one(est, x, label)
    np.testing.assert_array_equal(X_in, inputs[0], strict=True)
    np.testing.assert_array_equal(y_in, inputs[1], strict=True)
    np.testing.assert_array_equal(mask_in, inputs[2], strict=True)
    assert [repr(v) for v in y_pl_in.tolist()] == [repr(v) for v in inputs[3].tolist()]
    assert dicts_in == inputs[4]


# --- serialization, clones, memory -----------------------------------------------------------


@pytest.mark.parametrize("case", ALL)
@pytest.mark.parametrize("fit_with", ["dicts", "arrays", "nothing"])
def test_state_dict_round_trip(case, kind, fit_with, as_dicts, roundtrip, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    if fit_with == "dicts":
        kind.learn_dicts(est, X[:150], y[:150])
    elif fit_with == "arrays":
        kind.learn_many(est, X[:150], y[:150])
    restored = case.make().clone()
    restored.load_state_dict(roundtrip(est.state_dict()))
    states_equal(restored.state_dict(), est.state_dict())
    assert restored.feature_names_in_ == est.feature_names_in_
    assert restored.n_features_in_ == est.n_features_in_
    np.testing.assert_array_equal(kind.outputs_many(restored, X), kind.outputs_many(est, X))
    if fit_with == "dicts":
        x = as_dicts(X)[200:201]
        np.testing.assert_array_equal(kind.outputs_one(restored, x), kind.outputs_one(est, x))
    # Both keep learning identically afterwards.
    kind.learn_many(est, X[150:], y[150:])
    kind.learn_many(restored, X[150:], y[150:])
    states_equal(restored.state_dict(), est.state_dict())
    np.testing.assert_array_equal(kind.outputs_many(restored, X), kind.outputs_many(est, X))


@pytest.mark.parametrize("case", ALL)
def test_state_dict_is_a_copy(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:100], y[:100])
    saved = est.state_dict()
    frozen = copy.deepcopy(saved)
    kind.learn_many(est, X[100:], y[100:])
    states_equal(saved, frozen)


@pytest.mark.parametrize("case", ALL)
def test_clone_is_unfitted_and_independent(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    fresh = case.make().state_dict()
    kind.learn_many(est, X[:100], y[:100])
    clone = est.clone()
    assert type(clone) is type(est)
    assert clone.n_features_in_ is None
    states_equal(clone.state_dict(), fresh)
    learned = est.state_dict()
    kind.learn_many(clone, X[100:], y[100:])
    states_equal(est.state_dict(), learned)
    twin = case.make()
    kind.learn_many(twin, X[100:], y[100:])
    states_equal(clone.state_dict(), twin.state_dict())  # same hyperparameters


@pytest.mark.parametrize("case", ALL)
def test_hyperparameters_are_stored_under_their_names(case) -> None:
    est = case.make()
    clone = est.clone()
    for name, parameter in inspect.signature(type(est)).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        assert hasattr(est, name), f"hyperparameter {name!r} is not stored under its name"
        value = getattr(est, name)
        if value is None or type(value) in (bool, int, float, str):
            assert getattr(clone, name) == value, f"clone changed {name!r}"


def state_size(value: object) -> int:
    """How many numbers a state holds (its shape, not its values: counters may grow)."""
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, dict):
        return sum(state_size(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(state_size(v) for v in value) + 1
    return len(value) if isinstance(value, str) else 1


@pytest.mark.parametrize("case", ALL)
def test_memory_is_bounded(case, kind) -> None:
    est = case.make()
    reason = unbounded_memory(est)
    if reason:
        pytest.skip(f"declared unbounded: {reason}")
    X, y = kind.stream(20_000, seed=3)
    kind.learn_many(est, X[:2_000], y[:2_000])
    small = {k: state_size(v) for k, v in est.state_dict().items()}
    for start in range(2_000, 20_000, 6_000):
        kind.learn_many(est, X[start : start + 6_000], y[start : start + 6_000])
    assert {k: state_size(v) for k, v in est.state_dict().items()} == small


# --- invalid input ---------------------------------------------------------------------------
#
# Each check below runs a table of bad inputs against one estimator; a failure names the row.


@contextlib.contextmanager
def subcase(label: object) -> Iterator[None]:
    """Name the table row in the report when a check fails inside it."""
    try:
        yield
    except BaseException as exc:
        exc.add_note(f"in subcase {label!r}")
        raise


def _bad_matrices(X: np.ndarray) -> Iterator[tuple[str, object, str]]:
    good = X[:20]
    for value in (np.nan, -np.inf):
        bad = good.copy()
        bad[7, 1] = value
        yield str(value), bad, "row 7, column 1"
    yield "too many columns", np.hstack([good, good[:, :1]]), "expected 4 columns, got 5"
    yield "too few columns", good[:, :-1], "expected 4 columns, got 3"
    yield "one dimensional", good[0], "2-D"
    yield "strings", good.astype(str), "numeric"


@pytest.mark.parametrize("case", ALL)
def test_bad_matrix_raises_and_leaves_state(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:50], y[:50])
    before = est.state_dict()
    for label, bad, message in _bad_matrices(X):
        calls = {"learn_many": lambda bad=bad: kind.learn_many(est, bad, y[:20])}
        if case.kind == "transformer":
            calls["transform_many"] = lambda bad=bad: est.transform_many(bad)
        else:
            calls["predict_learn_many"] = lambda bad=bad: est.predict_learn_many(bad, y[:20])
            calls["predict_many"] = lambda bad=bad: est.predict_many(bad)
        if case.kind in ("classifier", "multiclass"):
            calls["predict_proba_many"] = lambda bad=bad: est.predict_proba_many(bad)
        for name, call in calls.items():
            with subcase(f"{name}: {label}"), pytest.raises(InvalidInputError, match=message):
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

# A valid label per kind, for the calls that need one.
GOOD_LABEL = {"classifier": 1, "multiclass": "cat", "regressor": 1.5, "transformer": None}


@pytest.mark.parametrize("case", ALL)
def test_bad_dict_raises_and_leaves_state(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_dicts(est, X[:50], y[:50])
    before = est.state_dict()
    for x, message in DICT_CASES:
        calls = {
            "learn_one": lambda x=x: kind.learn_one(est, x, GOOD_LABEL[case.kind]),
            "predict/transform_one": lambda x=x: kind.outputs_one(est, [x]),
        }
        if case.kind != "transformer":
            calls["predict_one"] = lambda x=x: est.predict_one(x)
        for name, call in calls.items():
            with subcase(f"{name}: {x}"), pytest.raises(InvalidInputError, match=message):
                call()
            states_equal(est.state_dict(), before)


def _objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# (labels for 20 rows, learn mask, message) for `learn_many` and `predict_learn_many`
BAD_LABELS: dict[str, list[tuple[Any, Any, str]]] = {
    "classifier": [
        (np.array([0, 1, 2] + [0] * 17), None, "row 2: label must be 0 or 1, got 2"),
        (np.array([0.0, np.nan] + [1.0] * 18), None, "row 1: label must be 0 or 1"),
        (np.array([0.5] + [1.0] * 19), None, "row 0: label must be 0 or 1"),
        (np.zeros(19, dtype=int), None, r"expected 20 labels"),
        (np.array(["a"] * 20), None, "numeric"),
        (np.array([-1] + [1] * 19), np.ones(20, bool), "row 0: label"),  # a learned placeholder
        (np.ones(20, dtype=int), np.ones(20, dtype=int), "learn_mask must be a boolean array"),
        (np.ones(20, dtype=int), np.ones(19, dtype=bool), "learn_mask must be a boolean array"),
    ],
    "multiclass": [
        (np.array([0.5] * 20), None, "class label must be an int, str or bool"),
        (_objects(*(["cat"] * 3 + [None] + ["dog"] * 16)), None, "got None"),
        (_objects(*([[1]] + ["dog"] * 19)), None, "class label must be"),
        (np.array(["cat"] * 19), None, r"expected 20 labels"),
        (_objects(None, *(["cat"] * 19)), np.ones(20, bool), "got None"),
        (np.array(["cat"] * 20), np.ones(20, dtype=int), "learn_mask must be a boolean array"),
        (np.array(["cat"] * 20), np.ones(19, dtype=bool), "learn_mask must be a boolean array"),
    ],
    "regressor": [
        (np.array([0.0, np.nan] + [1.0] * 18), None, "row 1: target must be finite"),
        (np.array([0.0, 1.0, np.inf] + [1.0] * 17), None, "row 2: target must be finite"),
        (np.ones(20, dtype=bool), None, "targets must be numeric"),
        (np.array(["1.0"] * 20), None, "targets must be numeric"),
        (np.zeros(19), None, r"expected 20 targets"),
        (np.array([np.nan] + [1.0] * 19), np.ones(20, bool), "row 0"),
        (np.ones(20), np.ones(20, dtype=int), "learn_mask must be a boolean array"),
        (np.ones(20), np.ones(19, dtype=bool), "learn_mask must be a boolean array"),
    ],
}

# single labels `learn_one` refuses
BAD_LABEL_ONE: dict[str, tuple[list[object], str]] = {
    "classifier": ([2, -1, 0.5, float("nan"), None, "1", [1], np.int64(2)], "label must be 0 or 1"),
    "multiclass": (
        [0.5, float("nan"), None, [1], ("cat",), b"cat", np.float64(1.0)],
        "class label must be an int, str or bool",
    ),
    "regressor": (
        [float("nan"), float("inf"), None, "1", True, [1.0], np.bool_(True), 1j],
        "target must be a finite number",
    ),
}


@pytest.mark.parametrize("case", params(*PREDICTORS))
def test_bad_labels_raise_and_leave_state(case, kind, as_dicts, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:50], y[:50])
    before = est.state_dict()
    for k, (labels, mask, message) in enumerate(BAD_LABELS[case.kind]):
        with subcase(f"predict_learn_many, row {k} of BAD_LABELS"):
            with pytest.raises(InvalidInputError, match=message):
                est.predict_learn_many(X[:20], labels, mask)
            if mask is None:
                with pytest.raises(InvalidInputError, match=message):
                    est.learn_many(X[:20], labels)
            states_equal(est.state_dict(), before)
    values, message = BAD_LABEL_ONE[case.kind]
    for label in values:
        with subcase(f"learn_one({label!r})"), pytest.raises(InvalidInputError, match=message):
            est.learn_one(as_dicts(X)[0], label)
        states_equal(est.state_dict(), before)


# (label as given, the label it stands for)
GOOD_LABELS: dict[str, list[tuple[object, object]]] = {
    "classifier": [
        (v, int(v)) for v in (0, 1, True, False, np.int64(1), np.bool_(False), 1.0, np.float32(0))
    ],
    "multiclass": [
        ("cat", "cat"),
        (np.str_("cat"), "cat"),
        (7, 7),
        (np.int64(7), 7),
        (np.uint8(7), 7),
        (False, False),
        (np.bool_(False), False),
    ],
    "regressor": [
        (v, float(v))
        for v in (2, 2.5, np.float32(2.5), np.int64(-3), np.float64(1e300), np.uint16(4))
    ],
}


@pytest.mark.parametrize("case", params(*PREDICTORS))
def test_label_forms_accepted(case, kind, as_dicts, roundtrip) -> None:
    X, _ = kind.stream()
    x0, x1 = as_dicts(X[:2])
    for label, canonical in GOOD_LABELS[case.kind]:
        with subcase(label):
            reference, est = case.make(), case.make()
            reference.learn_one(x0, canonical)
            est.learn_one(x0, label)
            np.testing.assert_array_equal(
                kind.outputs_one(est, [x1]), kind.outputs_one(reference, [x1])
            )
            if case.kind == "multiclass":
                assert est.classes_ == (canonical,) and type(est.classes_[0]) is type(canonical)
                assert est.predict_one(x1) == canonical
                restored = case.make()
                restored.load_state_dict(roundtrip(est.state_dict()))
                assert restored.classes_ == est.classes_
                assert type(restored.classes_[0]) is type(canonical)


def _float_arrays(state: dict[str, Any]) -> list[str]:
    return [
        k
        for k, v in state.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size > 0
    ]


STATE_MUTATIONS = {
    "missing key": lambda s: s.pop(next(iter(s))),
    "extra key": lambda s: s.update(extra=1),
    "short arrays": lambda s: s.update({k: s[k][:-1] for k in _float_arrays(s) if s[k].ndim}),
    "NaN arrays": lambda s: s.update({k: np.full_like(s[k], np.nan) for k in _float_arrays(s)}),
    "object value": lambda s: s.update({next(iter(s)): object()}),
}


@pytest.mark.parametrize("case", ALL)
def test_bad_state_raises_and_leaves_state(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:50], y[:50])
    before = est.state_dict()
    for name, mutate in STATE_MUTATIONS.items():
        state = est.state_dict()
        if name.endswith("arrays") and not _float_arrays(state):
            continue  # nothing to corrupt
        mutate(state)
        with subcase(name), pytest.raises(InvalidInputError):
            est.load_state_dict(state)
        states_equal(est.state_dict(), before)


FIRST_BAD_LABEL = {"classifier": 3, "multiclass": 0.5, "regressor": float("nan")}


@pytest.mark.parametrize("case", ALL)
def test_bad_first_input_leaves_the_estimator_unfitted(case, kind, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    fresh = est.state_dict()
    bad_matrix = X[:10].copy()
    bad_matrix[4, 2] = np.nan
    calls = [
        lambda: kind.learn_one(est, {"f0": 1.0, "f1": float("nan")}, GOOD_LABEL[case.kind]),
        lambda: kind.learn_many(est, bad_matrix, y[:10]),
    ]
    if case.kind in PREDICTORS:
        bad = FIRST_BAD_LABEL[case.kind]
        calls += [
            lambda: est.learn_one({"f0": 1.0}, bad),
            lambda: est.learn_many(X[:10], np.array([bad] * 10)),
            lambda: est.predict_learn_many(bad_matrix, y[:10]),
            lambda: est.predict_learn_many(X[:10], np.array([bad] * 10)),
            lambda: est.predict_learn_many(X[:10], y[:10], np.ones(10)),
        ]
    for k, call in enumerate(calls):
        with subcase(f"call {k}"), pytest.raises(InvalidInputError):
            call()
        assert est.n_features_in_ is None
        states_equal(est.state_dict(), fresh)


# --- merging (where an estimator defines it) -------------------------------------------------
#
# `merge(others, weights=None)` returns a new estimator averaging this one's and `others`'
# parameters (`weights`: one per model, this one first); no input model changes.

MERGEABLE = params(where=lambda c: callable(getattr(c.cls, "merge", None)))


@pytest.mark.parametrize("case", MERGEABLE)
def test_merge_with_itself_keeps_predictions(case, kind, roundtrip, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_dicts(est, X[:150], y[:150])
    twin = case.make()
    twin.load_state_dict(roundtrip(est.state_dict()))
    before = est.state_dict()
    merged = est.merge([twin])
    assert type(merged) is type(est) and merged is not est
    np.testing.assert_allclose(
        kind.outputs_many(merged, X), kind.outputs_many(est, X), rtol=1e-12, atol=1e-12
    )
    assert merged.feature_names_in_ == est.feature_names_in_ == ("f0", "f1", "f2", "f3")
    states_equal(est.state_dict(), before)
    states_equal(twin.state_dict(), before)
    kind.learn_many(merged, X[150:], y[150:])  # the merged model learns on
    states_equal(est.state_dict(), before)


@pytest.mark.parametrize("case", MERGEABLE)
def test_merge_weights_pick_the_models(case, kind, roundtrip) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_many(est, X[:100], y[:100])
    other = case.make()
    other.load_state_dict(roundtrip(est.state_dict()))
    kind.learn_many(other, X[100:150], y[100:150])
    for weights, expected in (([1.0, 0.0], est), ([0.0, 2.0], other)):
        merged = est.merge([other], weights=weights)
        np.testing.assert_allclose(
            kind.outputs_many(merged, X), kind.outputs_many(expected, X), rtol=1e-9, atol=1e-12
        )
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(InvalidInputError):
            est.merge([other], weights=bad)


@pytest.mark.parametrize("case", MERGEABLE)
def test_merge_validates_feature_spaces(case, kind, as_dicts, states_equal) -> None:
    X, y = kind.stream()
    est = case.make()
    kind.learn_dicts(est, X[:50], y[:50])
    before = est.state_dict()
    narrow, renamed = case.make(), case.make()
    kind.learn_many(narrow, X[:50, :3], y[:50])
    for x, label in zip(as_dicts(X[:50], ["g0", "g1", "g2", "g3"]), y[:50].tolist(), strict=True):
        kind.learn_one(renamed, x, label)
    for other in (narrow, renamed, object()):
        with pytest.raises(InvalidInputError):
            est.merge([other])
        states_equal(est.state_dict(), before)
