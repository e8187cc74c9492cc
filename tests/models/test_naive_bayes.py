"""GaussianNB: parity with River's `naive_bayes.GaussianNB`, batches, state, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from river import naive_bayes as river_naive_bayes
from river.datasets import synth

from models import InvalidInputError
from models.naive_bayes import GaussianNB

TOLERANCE = 1e-9


def agrawal(n: int) -> tuple[np.ndarray, list[int]]:
    rows = list(itertools.islice(synth.Agrawal(classification_function=2, seed=3), n))
    return np.array([list(x.values()) for x, _ in rows]), [int(y) for _, y in rows]


def three_classes(n: int) -> tuple[np.ndarray, list[str]]:
    """Three str classes, "z" unseen before row n // 3; column 2 is constant (zero variance
    everywhere) and column 3 is constant within class "y"."""
    rng = np.random.default_rng(5)
    labels = rng.choice(["x", "y"], size=n).astype(object)
    late = np.arange(n) >= n // 3
    labels[late & (rng.random(n) < 0.4)] = "z"
    centre = {"x": -1.0, "y": 1.5, "z": 4.0}
    X = rng.normal(size=(n, 4)) + np.array([centre[c] for c in labels])[:, None]
    X[:, 2] = 7.0
    X[labels == "y", 3] = -2.0
    return X, [str(c) for c in labels]


STREAMS = {"agrawal": agrawal(1500), "three-classes": three_classes(900)}


def names(X: np.ndarray) -> list[str]:
    return [f"f{j}" for j in range(X.shape[1])]


def river_reference(X: np.ndarray, y: list) -> list[dict]:
    model = river_naive_bayes.GaussianNB()
    out = []
    for row, label in zip(X.tolist(), y, strict=True):
        x = dict(zip(names(X), row, strict=True))
        out.append(model.predict_proba_one(x))
        model.learn_one(x, label)
    return out


@pytest.fixture(scope="module")
def references() -> dict[str, list[dict]]:
    return {name: river_reference(*stream) for name, stream in STREAMS.items()}


@pytest.mark.parametrize("stream", list(STREAMS))
def test_matches_river_one_by_one(stream, references) -> None:
    X, y = STREAMS[stream]
    model = GaussianNB()
    for row, label, expected in zip(X.tolist(), y, references[stream], strict=True):
        got = model.predict_proba_one(dict(zip(names(X), row, strict=True)))
        assert got.keys() == expected.keys()
        for c in got:
            assert got[c] == pytest.approx(expected[c], abs=TOLERANCE)
        model.learn_one(dict(zip(names(X), row, strict=True)), label)
    assert max(max(p.values(), default=0.0) for p in references[stream][50:]) > 0.9


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("batch", [1, 64, 500])
def test_matches_river_in_batches(stream, batch, references) -> None:
    X, y = STREAMS[stream]
    labels = np.array(y)
    model = GaussianNB()
    parts = [
        (i, model.predict_learn_many(X[i : i + batch], labels[i : i + batch]))
        for i in range(0, len(y), batch)
    ]
    got = np.zeros((len(y), len(model.classes_)))
    for i, part in parts:
        got[i : i + len(part), : part.shape[1]] = part
    expected = np.array(
        [[p.get(c, 0.0) for c in model.classes_] for p in references[stream]], dtype=float
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_zero_variance_and_unseen_classes_as_river() -> None:
    rows = [
        ({"a": 1.0, "b": 5.0}, "p"),
        ({"a": 1.0, "b": 6.0}, "p"),  # "a" keeps zero variance within "p"
        ({"a": 3.0, "b": 5.5}, "q"),  # a single "q" row: zero variance for both features
    ]
    ours, reference = GaussianNB(), river_naive_bayes.GaussianNB()
    probe = {"a": 1.0, "b": 5.2}
    for x, label in rows:
        ours.learn_one(x, label)
        reference.learn_one(x, label)
        expected, got = reference.predict_proba_one(probe), ours.predict_proba_one(probe)
        assert got.keys() == expected.keys()
        assert list(got.values()) == pytest.approx(list(expected.values()), abs=TOLERANCE)
    # the unseen class "r" has no probability until it is learned
    out = ours.predict_learn_many(np.array([[2.0, 5.0], [2.0, 5.0]]), ["r", "p"])
    assert ours.classes_ == ("p", "q", "r")
    assert out[0, 2] == 0.0 and out[1, 2] > 0.0
    assert out.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_predict_before_learning() -> None:
    model = GaussianNB()
    assert model.predict_proba_one({"a": 1.0}) == {}
    assert model.predict_one({"a": 1.0}) is None
    assert model.predict_proba_many(np.ones((3, 2))).shape == (3, 0)
    assert model.predict_many(np.ones((3, 2))).tolist() == [None, None, None]
    assert model.n_features_in_ is None


def test_state_round_trip_mid_stream(roundtrip, states_equal) -> None:
    X, y = STREAMS["three-classes"]
    labels = np.array(y)
    model = GaussianNB()
    model.learn_many(X[:400], labels[:400])
    restored = GaussianNB()
    restored.load_state_dict(roundtrip(model.state_dict()))
    states_equal(restored.state_dict(), model.state_dict())
    for i in range(400, len(y), 128):
        a = model.predict_learn_many(X[i : i + 128], labels[i : i + 128])
        b = restored.predict_learn_many(X[i : i + 128], labels[i : i + 128])
        np.testing.assert_array_equal(a, b)
    states_equal(restored.state_dict(), model.state_dict())
    assert model.classes_ == ("y", "x", "z")


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.array([[1.0, np.nan]]), ["a"], "row 0, column 1"),
        (np.array([[1.0, 2.0, 3.0]]), ["a"], "expected 2 columns"),
        (np.array([[1.0, 2.0]]), [1.5], "class label"),
        (np.array([[1.0, 2.0]]), [None], "class label"),
        (np.array([[1.0, 2.0], [3.0, 4.0]]), ["a"], "expected 2 labels"),
    ],
)
def test_bad_input_raises_and_leaves_state(X, y, message, states_equal) -> None:
    model = GaussianNB()
    model.learn_many(np.array([[0.0, 1.0], [1.0, 0.0]]), ["a", "b"])
    before = model.state_dict()
    for call in (model.learn_many, model.predict_learn_many):
        with pytest.raises(InvalidInputError, match=message):
            call(X, y)
        states_equal(model.state_dict(), before)


def test_bad_state_is_refused(states_equal) -> None:
    model = GaussianNB()
    model.learn_many(np.array([[0.0, 1.0], [1.0, 0.0]]), ["a", "b"])
    before = model.state_dict()
    for change in ({"counts": np.array([-1.0, 1.0])}, {"classes": ["a", "a"]}):
        with pytest.raises(InvalidInputError):
            model.load_state_dict({**model.state_dict(), **change})
        states_equal(model.state_dict(), before)
