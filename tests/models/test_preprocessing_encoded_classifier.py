"""encoder | classifier: batches equal the dict methods in order; state, clones, bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from models import InvalidInputError, LogisticRegression
from models.optim import SGD
from models.preprocessing import EncodedClassifier, FeatureHasher, OneHotEncoder, StandardScaler


def stream(n: int = 400, seed: int = 0) -> tuple[list[dict[str, object]], np.ndarray]:
    rng = np.random.default_rng(seed)
    cities = [f"c{k}" for k in range(12)]
    risky = set(cities[:4])
    records: list[dict[str, object]] = []
    labels = []
    for _ in range(n):
        city = cities[int(rng.zipf(1.3)) % 12]
        amount = float(rng.gamma(2.0, 0.5))
        records.append({"city": city, "amount": amount, "web": bool(rng.integers(0, 2))})
        labels.append(int((city in risky) != (rng.random() < 0.1)))  # 10% label noise
    return records, np.array(labels)


MAKERS: list[Callable[[], EncodedClassifier]] = [
    lambda: FeatureHasher(n_features=32, seed=1) | LogisticRegression(optimizer=SGD(0.3)),
    lambda: OneHotEncoder(max_categories=5) | (StandardScaler() | LogisticRegression()),
    lambda: OneHotEncoder(max_categories=20) | LogisticRegression(l2=0.001),
]
PARAMS = [pytest.param(make, id=f"maker{k}") for k, make in enumerate(MAKERS)]


@pytest.mark.parametrize("make", PARAMS)
@pytest.mark.parametrize("batch_size", [1, 7, 400])
def test_predict_learn_many_equals_predict_then_learn(make, batch_size, states_equal) -> None:
    records, y = stream()
    mask = np.random.default_rng(1).random(len(y)) < 0.8
    y_placeholder = np.where(mask, y, -1)
    batch, single = make(), make()
    got = np.concatenate(
        [
            batch.predict_learn_many(
                records[i : i + batch_size],
                y_placeholder[i : i + batch_size],
                mask[i : i + batch_size],
            )
            for i in range(0, len(y), batch_size)
        ]
    )
    expected = []
    for x, label, learn in zip(records, y.tolist(), mask.tolist(), strict=True):
        expected.append(single.predict_proba_one(x)[1])
        if learn:
            single.learn_one(x, label)
    np.testing.assert_array_equal(got, expected)
    states_equal(batch.state_dict(), single.state_dict())
    assert ((got[-150:] > 0.5) == y[-150:]).mean() > 0.7  # it learned: the majority is 0.53


@pytest.mark.parametrize("make", PARAMS)
def test_learn_many_and_predict_many_equal_the_dict_methods(make, states_equal) -> None:
    records, y = stream(seed=2)
    batch, single = make(), make()
    batch.learn_many(records[:250], y[:250])
    for x, label in zip(records[:250], y[:250].tolist(), strict=True):
        single.learn_one(x, label)
    states_equal(batch.state_dict(), single.state_dict())
    proba = batch.predict_proba_many(records)
    np.testing.assert_array_equal(
        proba, [list(single.predict_proba_one(x).values()) for x in records]
    )
    np.testing.assert_array_equal(
        batch.predict_many(records), [single.predict_one(x) for x in records]
    )


@pytest.mark.parametrize("make", PARAMS)
def test_state_round_trip_and_clone(make, roundtrip, states_equal) -> None:
    records, y = stream(seed=3)
    model = make()
    model.learn_many(records[:200], y[:200])
    restored = make()
    restored.load_state_dict(roundtrip(model.state_dict()))
    np.testing.assert_array_equal(
        restored.predict_proba_many(records), model.predict_proba_many(records)
    )
    restored.learn_many(records[200:], y[200:])
    model.learn_many(records[200:], y[200:])
    states_equal(restored.state_dict(), model.state_dict())
    clone = model.clone()
    states_equal(clone.state_dict(), make().state_dict())
    clone.learn_many(records[:10], y[:10])
    states_equal(restored.state_dict(), model.state_dict())


def test_bad_input_leaves_both_steps_unchanged(states_equal) -> None:
    records, y = stream(n=50, seed=4)
    model = OneHotEncoder(max_categories=3) | LogisticRegression()
    model.learn_many(records[:20], y[:20])
    before = model.state_dict()
    new_city = [{"city": "brand new", "amount": 1.0, "web": True}]
    calls = [
        lambda: model.learn_many(new_city, [2]),
        lambda: model.predict_learn_many(new_city, [0], [1]),
        lambda: model.learn_one(new_city[0], 0.5),
        lambda: model.learn_many([*new_city, {"city": "x"}], [0, 1]),
        lambda: model.predict_learn_many(new_city, [0, 1]),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError):
            call()
        states_equal(model.state_dict(), before)
    with pytest.raises(InvalidInputError, match="state key"):
        model.load_state_dict({**before, "other.x": 1})
    broken = {**before, "model.weights": np.zeros(2)}
    with pytest.raises(InvalidInputError):
        model.load_state_dict(broken)
    states_equal(model.state_dict(), before)


def test_encoder_width_must_match_a_fitted_model() -> None:
    records, y = stream(n=20, seed=5)
    model = LogisticRegression()
    model.learn_many(np.zeros((3, 4)), np.array([0, 1, 0]))
    combined = FeatureHasher(n_features=8) | model
    with pytest.raises(InvalidInputError, match="8 columns but the model was fitted on 4"):
        combined.learn_many(records, y)
    with pytest.raises(InvalidInputError, match="8 columns"):
        combined.predict_proba_one(records[0])


def test_predict_before_learning_and_construction() -> None:
    model = OneHotEncoder() | LogisticRegression()
    assert model.predict_proba_one({"a": "x", "b": 1.0}) == {0: 0.5, 1: 0.5}
    assert model.predict_many([{"a": "x"}, {"a": "y"}]).tolist() == [0, 0]
    assert isinstance(model, EncodedClassifier)
    with pytest.raises(ValueError, match="encoder"):
        EncodedClassifier(StandardScaler(), LogisticRegression())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model"):
        EncodedClassifier(FeatureHasher(), StandardScaler())  # type: ignore[arg-type]
