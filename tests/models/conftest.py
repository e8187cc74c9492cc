"""Shared helpers of the `models` tests: seeded streams, the state encoding of the registry, and
the adapters through which the conformance suite drives every kind of estimator the same way."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from models.base import Classifier, Estimator, MultiClassifier, Regressor, Transformer

State = dict[str, Any]


def _is_jsonable(value: object) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)  # NaN and inf are not JSON (orjson writes null)
    if isinstance(value, list | tuple):
        return type(value) in (list, tuple) and all(_is_jsonable(v) for v in value)
    if isinstance(value, dict):
        return type(value) is dict and all(
            type(k) is str and _is_jsonable(v) for k, v in value.items()
        )
    return False


def encode_decode(state: Mapping[str, Any]) -> State:
    """Round-trip a state through the registry's format: a JSON header plus an npz of arrays."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    header = {k: v for k, v in state.items() if k not in arrays}
    bad = [k for k, v in header.items() if not _is_jsonable(v)]
    assert not bad, f"state values neither arrays nor plain finite JSON: {bad}"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return {**json.loads(json.dumps(header, allow_nan=False)), **loaded}


def assert_states_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    """Exact equality of two state dicts (arrays compared element-wise, dtypes included)."""
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray) or isinstance(b[key], np.ndarray):
            left, right = np.asarray(a[key]), np.asarray(b[key])
            assert left.dtype == right.dtype, key
            np.testing.assert_array_equal(left, right, err_msg=key, strict=True)
        else:
            assert a[key] == b[key], key


def make_stream(n: int = 300, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features on different scales, the last one constant (zero variance), noisy labels."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 50.0, size=d) + rng.uniform(-20, 20, size=d)
    X[:, -1] = 3.0
    logits = (X - X.mean(axis=0))[:, :-1] @ rng.normal(size=d - 1) / X.std(axis=0)[:-1].mean()
    y = (logits + rng.normal(scale=0.5, size=n) > 0).astype(np.int64)
    return X, y


CLASS_NAMES = ("cat", "dog", "emu")


def make_multiclass_stream(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`make_stream`'s features with three str classes; "emu" first appears mid-stream, at row
    `min(n // 2, 150)` (so long streams have seen every class early)."""
    X, _ = make_stream(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    z = (X[:, :-1] - X[:, :-1].mean(axis=0)) / X[:, :-1].std(axis=0)
    scores = z @ rng.normal(size=(3, 3)) + rng.normal(scale=0.3, size=(n, 3))
    first = min(n // 2, 150)
    scores[:first, 2] = -np.inf
    labels = scores.argmax(axis=1)
    labels[first] = 2
    return X, np.array(CLASS_NAMES)[labels]


def make_regression_stream(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Moderately scaled features (stable for plain SGD), the last one constant, a linear target
    with noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * rng.uniform(0.5, 2.0, size=4) + rng.uniform(-2.0, 2.0, size=4)
    X[:, -1] = 3.0
    y = (X[:, :-1] - X[:, :-1].mean(axis=0)) @ rng.normal(size=3) + 1.0
    return X, y + rng.normal(scale=0.1, size=n)


def as_dicts(X: np.ndarray, names: list[str] | None = None) -> list[dict[str, float]]:
    names = names or [f"f{j}" for j in range(X.shape[1])]
    return [dict(zip(names, row, strict=True)) for row in X.tolist()]


# --- one adapter per kind of estimator --------------------------------------------------------


class Kind:
    """How the conformance suite feeds and reads one kind of estimator.

    `outputs_many`/`outputs_one` give what the estimator computes without learning (class
    probabilities, predictions, transformed rows) as a 2-D array, so the checks can compare them
    for every kind alike.
    """

    name = ""
    placeholder: object = None  # a label for rows outside a learn mask

    def stream(self, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return make_stream(n, seed=seed)

    def learn_one(self, est: Any, x: dict[str, float], y: object) -> None:
        est.learn_one(x, y)

    def learn_many(self, est: Any, X: np.ndarray, y: np.ndarray) -> None:
        est.learn_many(X, y)

    def learn_dicts(self, est: Any, X: np.ndarray, y: np.ndarray) -> None:
        for x, label in zip(as_dicts(X), y.tolist(), strict=True):
            self.learn_one(est, x, label)

    def outputs_many(self, est: Any, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def outputs_one(self, est: Any, dicts: Sequence[dict[str, float]]) -> np.ndarray:
        raise NotImplementedError

    def labels_many(self, est: Any, X: np.ndarray) -> list[Any]:
        return list(est.predict_many(X).tolist())

    def with_placeholders(self, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = y.astype(object)
        out[~mask] = self.placeholder
        return out

    def predict_learn_many(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray | None, batch: int
    ) -> np.ndarray:
        """`predict_learn_many` over consecutive batches, as one array."""
        parts = []
        for i in range(0, len(X), batch):
            m = None if mask is None else mask[i : i + batch]
            parts.append(np.asarray(est.predict_learn_many(X[i : i + batch], y[i : i + batch], m)))
        return np.concatenate(parts)

    def predict_then_learn(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """The one-by-one reference of `predict_learn_many`."""
        out = []
        for x, label, learn in zip(as_dicts(X), y.tolist(), mask.tolist(), strict=True):
            out.append(self.outputs_one(est, [x])[0])
            if learn:
                self.learn_one(est, x, label)
        return np.array(out)

    def assert_neutral(self, est: Any, X: np.ndarray, default: bool) -> None:
        """What the estimator predicts before any learning."""
        raise NotImplementedError


class BinaryKind(Kind):
    name = "classifier"
    placeholder = -1

    def with_placeholders(self, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, y, -1)

    def outputs_many(self, est: Any, X: np.ndarray) -> np.ndarray:
        proba = est.predict_proba_many(X)
        assert proba.shape == (len(X), 2)
        return np.asarray(proba)

    def outputs_one(self, est: Any, dicts: Sequence[dict[str, float]]) -> np.ndarray:
        probas = [est.predict_proba_one(x) for x in dicts]
        assert all(list(p) == [0, 1] for p in probas)
        return np.array([[p[0], p[1]] for p in probas]).reshape(len(dicts), 2)

    def predict_then_learn(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        return super().predict_then_learn(est, X, y, mask)[:, 1]

    def assert_neutral(self, est: Any, X: np.ndarray, default: bool) -> None:
        x = as_dicts(X)[0]
        assert est.predict_proba_one(x) == {0: 0.5, 1: 0.5}
        assert est.predict_one(x) == 0
        np.testing.assert_array_equal(est.predict_proba_many(X), np.full((len(X), 2), 0.5))
        np.testing.assert_array_equal(est.predict_many(X), np.zeros(len(X), dtype=np.int64))
        assert est.predict_proba_many(X[:, :2]).shape == (len(X), 2)  # nothing fixed yet


class MultiKind(Kind):
    name = "multiclass"
    placeholder = None

    def stream(self, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return make_multiclass_stream(n, seed=seed)

    def outputs_many(self, est: Any, X: np.ndarray) -> np.ndarray:
        proba = est.predict_proba_many(X)
        assert proba.shape == (len(X), len(est.classes_))
        return np.asarray(proba)

    def outputs_one(self, est: Any, dicts: Sequence[dict[str, float]]) -> np.ndarray:
        classes = est.classes_
        probas = [est.predict_proba_one(x) for x in dicts]
        assert all(tuple(p) == classes for p in probas), "keys must follow classes_"
        return np.array([[p[c] for c in classes] for p in probas]).reshape(len(dicts), -1)

    def predict_learn_many(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray | None, batch: int
    ) -> np.ndarray:
        parts = []
        for i in range(0, len(X), batch):
            m = None if mask is None else mask[i : i + batch]
            part = est.predict_learn_many(X[i : i + batch], y[i : i + batch], m)
            assert part.shape == (len(X[i : i + batch]), len(est.classes_))
            parts.append(part)
        width = len(est.classes_)  # earlier batches knew fewer classes: 0 for those
        return np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts])

    def predict_then_learn(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        rows = []
        for x, label, learn in zip(as_dicts(X), y.tolist(), mask.tolist(), strict=True):
            rows.append(est.predict_proba_one(x))
            if learn:
                est.learn_one(x, label)
        return np.array([[p.get(c, 0.0) for c in est.classes_] for p in rows])

    def labels_many(self, est: Any, X: np.ndarray) -> list[Any]:
        labels = est.predict_many(X)
        assert labels.dtype == object
        return list(labels.tolist())

    def assert_neutral(self, est: Any, X: np.ndarray, default: bool) -> None:
        x = as_dicts(X)[0]
        assert est.classes_ == ()
        assert est.predict_proba_one(x) == {}
        assert est.predict_one(x) is None
        assert est.predict_proba_many(X).shape == (len(X), 0)
        assert est.predict_many(X).tolist() == [None] * len(X)
        assert est.predict_proba_many(X[:, :2]).shape == (len(X), 0)  # nothing fixed yet


class RegressionKind(Kind):
    name = "regressor"
    placeholder = float("nan")

    def stream(self, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return make_regression_stream(n, seed=seed)

    def with_placeholders(self, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, y, np.nan)

    def outputs_many(self, est: Any, X: np.ndarray) -> np.ndarray:
        preds = est.predict_many(X)
        assert preds.shape == (len(X),) and preds.dtype == np.float64
        return np.asarray(preds)[:, None]

    def outputs_one(self, est: Any, dicts: Sequence[dict[str, float]]) -> np.ndarray:
        preds = [est.predict_one(x) for x in dicts]
        assert all(type(p) is float for p in preds), "predict_one must return a float"
        return np.array(preds, dtype=np.float64).reshape(len(dicts), 1)

    def predict_then_learn(
        self, est: Any, X: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        return super().predict_then_learn(est, X, y, mask)[:, 0]

    def assert_neutral(self, est: Any, X: np.ndarray, default: bool) -> None:
        preds = est.predict_many(X)
        assert preds.shape == (len(X),) and np.isfinite(preds).all()
        np.testing.assert_array_equal(preds, np.full(len(X), preds[0]))  # x cannot matter yet
        assert est.predict_one(as_dicts(X)[0]) == preds[0]
        assert est.predict_many(X[:, :2]).shape == (len(X),)  # nothing fixed yet
        if default:
            assert preds[0] == 0.0, "a regressor predicts 0.0 before learning, as River's do"


class TransformerKind(Kind):
    name = "transformer"

    def learn_one(self, est: Any, x: dict[str, float], y: object) -> None:
        est.learn_one(x)

    def learn_many(self, est: Any, X: np.ndarray, y: np.ndarray) -> None:
        est.learn_many(X)

    def outputs_many(self, est: Any, X: np.ndarray) -> np.ndarray:
        out = est.transform_many(X)
        assert out.shape == X.shape
        return np.asarray(out)

    def outputs_one(self, est: Any, dicts: Sequence[dict[str, float]]) -> np.ndarray:
        outs = [est.transform_one(x) for x in dicts]
        assert all(list(o) == list(x) for o, x in zip(outs, dicts, strict=True))
        return np.array([list(o.values()) for o in outs]).reshape(len(dicts), -1)

    def assert_neutral(self, est: Any, X: np.ndarray, default: bool) -> None:
        x = as_dicts(X)[0]
        out = est.transform_one(x)
        assert list(out) == list(x) and np.isfinite(list(out.values())).all()
        assert est.transform_many(X).shape == X.shape
        assert est.transform_many(X[:, :2]).shape == (len(X), 2)  # nothing fixed yet


KINDS: dict[type[Estimator], Kind] = {
    Classifier: BinaryKind(),
    MultiClassifier: MultiKind(),
    Regressor: RegressionKind(),
    Transformer: TransformerKind(),
}


def kind_name(est: Estimator) -> str | None:
    """The kind of `est` ("classifier", "multiclass", "regressor", "transformer"), if any."""
    return next((kind.name for base, kind in KINDS.items() if isinstance(est, base)), None)


def kind_of(est: Estimator) -> Kind:
    return next(kind for base, kind in KINDS.items() if isinstance(est, base))


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def stream() -> tuple[np.ndarray, np.ndarray]:
    return make_stream()


@pytest.fixture(name="make_stream")
def make_stream_fixture() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return make_stream


@pytest.fixture(name="as_dicts")
def as_dicts_fixture() -> Callable[..., list[dict[str, float]]]:
    return as_dicts


@pytest.fixture
def roundtrip() -> Callable[[Mapping[str, Any]], State]:
    return encode_decode


@pytest.fixture
def states_equal() -> Callable[[Mapping[str, Any], Mapping[str, Any]], None]:
    return assert_states_equal


@pytest.fixture(name="kind_of")
def kind_of_fixture() -> Callable[[Estimator], Kind]:
    return kind_of


@pytest.fixture
def kind(case: Any) -> Kind:
    """The adapter of the conformance case under test (`case` is parametrized by the suite)."""
    return kind_of(case.make())
