"""Shared helpers of the `models` tests."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

State = dict[str, Any]


def _is_jsonable(value: object) -> bool:
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) in (list, tuple):
        return all(_is_jsonable(v) for v in value)
    return False


def encode_decode(state: Mapping[str, Any]) -> State:
    """Round-trip a state through the registry's format: a JSON header plus an npz of arrays."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    header = {k: v for k, v in state.items() if k not in arrays}
    bad = [k for k, v in header.items() if not _is_jsonable(v)]
    assert not bad, f"state values neither arrays nor plain JSON: {bad}"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return {**json.loads(json.dumps(header)), **loaded}


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


def as_dicts(X: np.ndarray, names: list[str] | None = None) -> list[dict[str, float]]:
    names = names or [f"f{j}" for j in range(X.shape[1])]
    return [dict(zip(names, row, strict=True)) for row in X.tolist()]


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
