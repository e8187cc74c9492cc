"""FeatureHasher: River parity, MurmurHash3 vectors, determinism across processes, input checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from river import preprocessing as rp

from models import InvalidInputError
from models.preprocessing import FeatureHasher
from models.preprocessing.feature_hasher import murmurhash3_32


def records(n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for _ in range(n):
        x: dict[str, object] = {}
        for j in range(int(rng.integers(1, 9))):
            roll = rng.random()
            if roll < 0.4:
                x[f"cat{j}"] = ["red", "green", "bleu é", "naïve ☃"][int(rng.integers(0, 4))]
            elif roll < 0.7:
                x[f"num{j}"] = float(rng.normal(0.0, 10.0))
            elif roll < 0.9:
                x[f"int{j}"] = int(rng.integers(-5, 6))
            else:
                x[f"flag{j}"] = bool(rng.integers(0, 2))
        out.append(x)
    return out


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"", 0xFFFFFFFF, 0x81F16F39),
        (b"test", 0, 0xBA6BD213),
        (b"Hello, world!", 1234, 0xFAF6CDB3),
        (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
    ],
)
def test_murmurhash3_reference_vectors(data, seed, expected) -> None:
    assert murmurhash3_32(data, seed) & 0xFFFFFFFF == expected
    assert -(2**31) <= murmurhash3_32(data, seed) < 2**31


@pytest.mark.parametrize("n_features", [1, 10, 1024, 2**20])
@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
@pytest.mark.parametrize("alternate_sign", [True, False])
def test_matches_river(n_features, seed, alternate_sign) -> None:
    ours = FeatureHasher(n_features, seed=seed, alternate_sign=alternate_sign)
    theirs = rp.FeatureHasher(n_features, seed=seed, alternate_sign=alternate_sign)
    for x in records(150, seed % 1000):
        expected = {str(k): float(v) for k, v in theirs.transform_one(x).items() if v != 0}
        assert ours.transform_one(x) == expected


def test_transform_many_equals_transform_one() -> None:
    hasher = FeatureHasher(n_features=64, seed=3)
    xs = records(300, 1)
    out = hasher.transform_many(xs)
    assert out.shape == (300, 64) and out.dtype == np.float64
    for row, x in zip(out, xs, strict=True):
        assert {str(j): row[j] for j in np.flatnonzero(row)} == hasher.transform_one(x)
    before, after = hasher.transform_learn_many(xs, np.arange(300) % 2 == 0)
    np.testing.assert_array_equal(before, out)
    np.testing.assert_array_equal(after, out)
    assert hasher.transform_many([]).shape == (0, 64)


def test_strings_are_one_hot_and_numbers_keep_their_value() -> None:
    hasher = FeatureHasher(n_features=2**20, seed=0, alternate_sign=False)
    red, blue = hasher.transform_one({"colour": "red"}), hasher.transform_one({"colour": "blue"})
    assert (
        list(red.values()) == [1.0] and list(blue.values()) == [1.0] and red.keys() != blue.keys()
    )
    assert list(hasher.transform_one({"price": 2.5}).values()) == [2.5]
    assert hasher.transform_one({"price": 2.5}).keys() == hasher.transform_one({"price": 7}).keys()
    assert hasher.transform_one({"price": 0.0}) == {}


_SCRIPT = """
import json, sys
from models.preprocessing import FeatureHasher
xs = json.loads(sys.stdin.read())
print(json.dumps([FeatureHasher(n_features=97, seed=5).transform_one(x) for x in xs]))
"""


def test_same_columns_in_every_process_whatever_the_hash_seed() -> None:
    xs = records(40, 2)
    expected = [FeatureHasher(n_features=97, seed=5).transform_one(x) for x in xs]
    for hash_seed in ["0", "1", "4242"]:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", _SCRIPT],
            input=json.dumps(xs),
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        )
        assert json.loads(result.stdout) == expected


def test_nothing_is_learned_but_input_is_checked(roundtrip) -> None:
    hasher = FeatureHasher(n_features=8)
    hasher.learn_one({"a": "x"})
    hasher.learn_many(records(10, 3))
    assert hasher.state_dict() == {}
    hasher.load_state_dict(roundtrip(hasher.state_dict()))
    with pytest.raises(InvalidInputError, match="no state"):
        hasher.load_state_dict({"weights": np.zeros(3)})
    clone = hasher.clone()
    assert (clone.n_features, clone.seed, clone.alternate_sign) == (8, 0, True)
    assert clone.n_features_out_ == 8


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([{"a": None}], "record 0, feature 'a': expected a str or a real number, got NoneType"),
        ([{"a": 1.0}, {"b": float("nan")}], "record 1, feature 'b': value is nan"),
        ([{"a": 1.0}, {"b": 10**400}], "record 1, feature 'b': value is inf"),
        ([{"a": ["x"]}], "got list"),
        ([{1: "x"}], "feature names must be str"),
        ([{"a": 1.0}, ("a", 1.0)], "record 1: expected a dict, got tuple"),
        ({"a": 1.0}, "expected a sequence of dict records, got dict"),
        (np.zeros((2, 2)), "expected a sequence of dict records, got ndarray"),
    ],
)
def test_bad_input_raises(batch, message) -> None:
    hasher = FeatureHasher(n_features=8)
    for call in (hasher.transform_many, hasher.learn_many, hasher.transform_learn_many):
        with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
            call(batch)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_features": 0}, "n_features"),
        ({"n_features": 2.0}, "n_features"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"seed": None}, "seed"),
        ({"alternate_sign": 1}, "alternate_sign"),
    ],
)
def test_invalid_hyperparameters(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureHasher(**kwargs)
