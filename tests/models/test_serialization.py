"""The array codec shared by checkpoints and registry artifacts (`models.serialization`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from models.serialization import array_specs, decode_tree, encode_tree, join_arrays, split_arrays


def _round_trip(tree: Any) -> Any:
    raw, arrays = encode_tree(tree)
    body = join_arrays(arrays)
    back, end = split_arrays(body, 0, array_specs(arrays))
    assert end == len(body)
    return decode_tree(raw, back)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.arange(12.0).reshape(3, 4).T,  # not C-contiguous
        np.arange(10, dtype=np.int8)[::3],
        np.array([1 + 2j, -1j]),
        np.array([True, False]),
        np.arange(4, dtype=">f8"),  # big-endian stays big-endian
        np.zeros((0, 3)),
        np.array(2.5),
        np.array(["cat", "emu"]),
    ],
    ids=str,
)
def test_arrays_round_trip_with_dtype_and_shape(array: np.ndarray) -> None:
    back = _round_trip({"a": array})["a"]
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_nested_trees_round_trip() -> None:
    tree = {
        "steps": [{"w": np.ones(2)}, {"n": 3, "names": ["a", "b"]}],
        "window": [1, 2.5, None],
        "scalar": np.int64(4),
        "panes": {10: [np.zeros(1)]},
    }
    back = _round_trip(tree)
    np.testing.assert_array_equal(back["steps"][0]["w"], np.ones(2))
    assert back["steps"][1] == {"n": 3, "names": ["a", "b"]} and back["window"] == [1, 2.5, None]
    assert back["scalar"] == 4 and list(back["panes"]) == ["10"]


def test_object_arrays_and_unknown_types_are_refused() -> None:
    with pytest.raises(ValueError, match="object arrays"):
        encode_tree({"o": np.array([object()])})
    with pytest.raises(TypeError, match="cannot serialize a set"):
        encode_tree({"s": {1, 2}})
    with pytest.raises(ValueError, match="object arrays are not allowed"):
        split_arrays(b"\x00" * 8, 0, [["|O", [1]]])


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([["<f8", [2]]], "truncated"),
        ([["<f8", [-1]]], "negative dimension"),
        ([["not a dtype", [1]]], "malformed array spec"),
        ([["<f8"]], "malformed array spec"),
        ({"a": 1}, "must be a list"),
    ],
)
def test_malformed_array_descriptions_are_refused(specs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_arrays(b"\x00" * 8, 0, specs)


@pytest.mark.parametrize("ref", [1, -1, "0", 0.0])
def test_bad_array_references_are_refused(ref: Any) -> None:
    raw = b'{"w":{"__ndarray__":' + repr(ref).replace("'", '"').encode() + b"}}"
    with pytest.raises(ValueError, match="array reference"):
        decode_tree(raw, [np.zeros(1)])
