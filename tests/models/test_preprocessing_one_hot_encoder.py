"""OneHotEncoder: bounded width, slots and the other column, batches, schema, state."""

from __future__ import annotations

import numpy as np
import pytest
from river import preprocessing as rp

from models import InvalidInputError
from models.preprocessing import OneHotEncoder


def records(n: int, seed: int, n_cities: int = 30) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "city": f"city{int(rng.zipf(1.5)) % n_cities}",
            "age": float(rng.integers(18, 90)),
            "plan": ["free", "pro"][int(rng.integers(0, 2))],
        }
        for _ in range(n)
    ]


def test_width_is_fixed_by_the_features_and_max_categories() -> None:
    encoder = OneHotEncoder(max_categories=5)
    assert encoder.n_features_out_ is None
    xs = records(2000, 0, n_cities=500)
    encoder.learn_one(xs[0])
    assert encoder.n_features_out_ == 1 + 2 * (5 + 1)
    encoder.learn_many(xs)
    out = encoder.transform_many(xs)
    assert out.shape == (2000, 13)
    state = encoder.state_dict()
    assert len(state["categories"][0]) == 5  # city: capped
    assert state["categories"][2] == ["free", "pro"] or state["categories"][2] == ["pro", "free"]
    assert state["categories"][1] == []  # age is numeric
    # every categorical block is one-hot; overflow cities land in the other column (5)
    np.testing.assert_array_equal(out[:, 0:6].sum(axis=1), 1.0)
    np.testing.assert_array_equal(out[:, 7:13].sum(axis=1), 1.0)
    overflow = [x["city"] not in state["categories"][0] for x in xs]
    np.testing.assert_array_equal(out[:, 5] == 1.0, overflow)
    assert 0 < sum(overflow) < 2000
    np.testing.assert_array_equal(out[:, 6], [x["age"] for x in xs])
    assert out[:, 12].sum() == 0.0  # plan has 2 categories: its other column stays empty


def test_slots_follow_first_appearance_and_never_move() -> None:
    encoder = OneHotEncoder(max_categories=2)
    encoder.learn_many([{"c": "b"}, {"c": "a"}, {"c": "z"}, {"c": "a"}])
    assert encoder.feature_names_out_ == ("c_b", "c_a", "c_<other>")
    assert encoder.transform_one({"c": "z"}) == {"c_<other>": 1.0}
    assert encoder.transform_one({"c": "never seen"}) == {"c_<other>": 1.0}
    encoder.learn_one({"c": "y"})
    assert encoder.transform_one({"c": "b"}) == {"c_b": 1.0}


def test_unseen_categories_use_the_other_column_until_learned() -> None:
    encoder = OneHotEncoder(max_categories=3)
    assert encoder.transform_one({"c": "x", "n": 2.0}) == {"c_<other>": 1.0, "n": 2.0}
    assert encoder.state_dict() == {"feature_names": None, "categorical": None, "categories": None}
    encoder.learn_one({"c": "x", "n": 2.0})
    assert encoder.transform_one({"c": "x", "n": 0.0}) == {"c_x": 1.0}
    assert encoder.transform_one({"c": "y", "n": -1.0}) == {"c_<other>": 1.0, "n": -1.0}
    assert encoder.feature_names_out_ == ("c_x", "c_<slot 1>", "c_<slot 2>", "c_<other>", "n")


@pytest.mark.parametrize("chunks", [[300], [1, 1, 50, 0, 248]])
def test_learn_many_equals_learn_one(chunks) -> None:
    xs = records(300, 1)
    batch, single = OneHotEncoder(max_categories=4), OneHotEncoder(max_categories=4)
    start = 0
    for size in chunks:
        batch.learn_many(xs[start : start + size])
        start += size
    for x in xs:
        single.learn_one(x)
    assert batch.state_dict() == single.state_dict()
    out = batch.transform_many(xs)
    for row, x in zip(out, xs, strict=True):
        names = batch.feature_names_out_
        assert names is not None
        assert {names[j]: row[j] for j in np.flatnonzero(row)} == single.transform_one(x)


def test_transform_learn_many_is_test_then_train() -> None:
    xs = records(200, 2, n_cities=12)
    mask = np.arange(200) % 3 != 0
    batch, single = OneHotEncoder(max_categories=6), OneHotEncoder(max_categories=6)
    before, after = batch.transform_learn_many(xs, mask)
    for i, (x, learn) in enumerate(zip(xs, mask.tolist(), strict=True)):
        np.testing.assert_array_equal(before[i], single.transform_many([x])[0])
        if learn:
            single.learn_one(x)
        np.testing.assert_array_equal(after[i], single.transform_many([x])[0])
    assert batch.state_dict() == single.state_dict()
    # each slot filled moves one value from the other column to the slot, once
    filled = sum(len(c) for c in batch.state_dict()["categories"])
    assert filled == 6 + 2
    assert (before != after).sum() == 2 * filled


def test_matches_river_within_the_cap() -> None:
    ours, theirs = OneHotEncoder(max_categories=50), rp.OneHotEncoder()
    for x in records(300, 3, n_cities=20):
        x = {"city": x["city"], "plan": x["plan"]}
        ours.learn_one(x)
        theirs.learn_one(x)
        expected = {k: float(v) for k, v in theirs.transform_one(x).items() if v}
        assert ours.transform_one(x) == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"city": "x", "age": 1.0}, r"missing \['plan'\], unknown \[\]"),
        ({"city": "x", "age": 1.0, "plan": "pro", "z": 1}, r"unknown \['z'\]"),
        ({"city": 3, "age": 1.0, "plan": "pro"}, "feature 'city': expected a str"),
        ({"city": "x", "age": "1", "plan": "pro"}, "feature 'age': expected a real number"),
        ({"city": "x", "age": float("inf"), "plan": "pro"}, "feature 'age': value is inf"),
        ({"city": "x", "age": None, "plan": "pro"}, "feature 'age': expected a real number"),
    ],
)
def test_bad_records_raise_and_leave_state(bad, message) -> None:
    encoder = OneHotEncoder(max_categories=3)
    encoder.learn_many(records(5, 4))
    before = encoder.state_dict()
    batch = [{"city": "brand new", "age": 3.0, "plan": "pro"}, bad]  # a new slot before the error
    for call in (encoder.learn_many, encoder.transform_many, encoder.transform_learn_many):
        with pytest.raises(InvalidInputError, match="record 1.*" + message):
            call(batch)
    with pytest.raises(InvalidInputError):
        encoder.learn_one(bad)
    assert encoder.state_dict() == before


def test_first_record_fixes_the_schema() -> None:
    encoder = OneHotEncoder()
    with pytest.raises(InvalidInputError, match="record 0, feature 'a': expected a str or a real"):
        encoder.learn_one({"a": [1]})
    assert encoder.n_features_out_ is None
    with pytest.raises(InvalidInputError, match="record 1"):
        encoder.transform_many([{"a": "x"}, {"a": 1.0}])  # one batch, one schema
    encoder.learn_one({"a": True, "b": "x"})  # bools are numbers
    assert encoder.feature_names_in_ == ("a", "b")
    assert encoder.transform_one({"b": "x", "a": 3}) == {"a": 3.0, "b_x": 1.0}


@pytest.mark.parametrize("fill", [0, 1, 100])
def test_state_round_trip(fill, roundtrip) -> None:
    xs = records(200, 5)
    encoder = OneHotEncoder(max_categories=4)
    encoder.learn_many(xs[:fill])
    restored = encoder.clone()
    restored.load_state_dict(roundtrip(encoder.state_dict()))
    assert restored.state_dict() == encoder.state_dict()
    assert restored.n_features_out_ == encoder.n_features_out_
    encoder.learn_many(xs[fill:])
    restored.learn_many(xs[fill:])
    np.testing.assert_array_equal(restored.transform_many(xs), encoder.transform_many(xs))
    assert encoder.clone().state_dict()["categories"] is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(categories=[["a", "b", "c", "d", "e"], [], ["x"]]),
        lambda s: s.update(categories=[["a", "a"], [], []]),
        lambda s: s.update(categories=[["a"], ["b"], []]),  # a numeric feature with categories
        lambda s: s.update(categorical=[True, False]),
        lambda s: s.update(feature_names=["city", "city", "plan"]),
        lambda s: s.update(categorical=[1, 0, 1]),
        lambda s: s.pop("categories"),
    ],
)
def test_bad_states_raise_and_leave_state(mutate) -> None:
    encoder = OneHotEncoder(max_categories=4)
    encoder.learn_many(records(20, 6))
    before, state = encoder.state_dict(), encoder.state_dict()
    mutate(state)
    with pytest.raises(InvalidInputError):
        encoder.load_state_dict(state)
    assert encoder.state_dict() == before


@pytest.mark.parametrize("max_categories", [0, -1, 2.0, True, None])
def test_invalid_max_categories(max_categories) -> None:
    with pytest.raises(ValueError, match="max_categories"):
        OneHotEncoder(max_categories=max_categories)
