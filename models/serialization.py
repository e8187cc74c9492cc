"""Nested state as JSON plus raw numpy array bytes: the one array codec, no pickle.

A state is what `Estimator.state_dict()` returns: dicts, lists, JSON scalars and numpy arrays,
nested. `encode_tree` writes it as JSON in which every array is replaced by a reference
``{"__ndarray__": i}`` and returns the arrays beside it; `array_specs` and `join_arrays` turn
the arrays into a small description (dtype, shape) and their raw bytes, and `split_arrays` and
`decode_tree` reverse both steps. Loading never executes code: object arrays are refused both
ways, and dtypes come from a description, not from the bytes.

Model checkpoints (`streams.checkpoint`) and registry artifacts (`models.registry`) both frame
their payload with these functions.

Examples
--------
>>> import numpy as np
>>> state = {"w": np.arange(3.0), "n": 2, "steps": [{"b": np.array([True])}]}
>>> raw, arrays = encode_tree(state)
>>> raw
b'{"w":{"__ndarray__":0},"n":2,"steps":[{"b":{"__ndarray__":1}}]}'
>>> body = join_arrays(arrays)
>>> back_arrays, end = split_arrays(body, 0, array_specs(arrays))
>>> back = decode_tree(raw, back_arrays)
>>> back["w"].tolist(), back["n"], back["steps"][0]["b"].tolist(), end == len(body)
([0.0, 1.0, 2.0], 2, [True], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

__all__ = ["ARRAY_REF", "array_specs", "decode_tree", "encode_tree", "join_arrays", "split_arrays"]

ARRAY_REF = "__ndarray__"

# non-str keys (pane starts, class labels) become strings, as the stdlib json does
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


class _Refused(ValueError):
    """A value the codec will not write (raised from inside orjson's callback)."""


def encode_tree(tree: Any) -> tuple[bytes, list[np.ndarray]]:
    """`tree` as JSON with its arrays replaced by references, and the arrays in order.

    Raises `TypeError` for a value that is neither JSON nor an array and `ValueError` for an
    object array (its bytes would be pointers).

    >>> encode_tree({"x": np.float32(0.5), "k": {1: "a"}})
    (b'{"x":0.5,"k":{"1":"a"}}', [])
    """
    arrays: list[np.ndarray] = []

    # orjson walks the state in C and calls back only for what JSON cannot hold
    def hook(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise _Refused("object arrays cannot be serialized (their bytes are pointers)")
            # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
            arrays.append(obj if obj.flags.c_contiguous else obj.copy(order="C"))
            return {ARRAY_REF: len(arrays) - 1}
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"cannot serialize a {type(obj).__name__}")

    try:
        raw = orjson.dumps(tree, default=hook, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, _Refused):
            raise ValueError(str(exc.__cause__)) from None
        if isinstance(exc.__cause__, TypeError):
            raise TypeError(str(exc.__cause__)) from None
        raise
    return raw, arrays


def array_specs(arrays: Sequence[np.ndarray]) -> list[list[Any]]:
    """The description `split_arrays` needs: ``[dtype.str, shape]`` per array.

    >>> array_specs([np.zeros((2, 3), dtype=np.float32), np.array([True])])
    [['<f4', [2, 3]], ['|b1', [1]]]
    """
    return [[a.dtype.str, list(a.shape)] for a in arrays]


def join_arrays(arrays: Sequence[np.ndarray]) -> bytes:
    """The arrays' raw bytes, one after the other (C order, native dtypes)."""
    return b"".join(a.tobytes(order="C") for a in arrays)


def split_arrays(data: bytes, pos: int, specs: Any) -> tuple[list[np.ndarray], int]:
    """Read the arrays `specs` describes from `data` at `pos`; return them (copies, writable)
    and the position after the last one. Raises `ValueError` for a malformed description,
    object dtypes or too few bytes.

    >>> split_arrays(b"\\x01\\x00", 0, [["|b1", [2]]])
    ([array([ True, False])], 2)
    """
    if not isinstance(specs, list):
        raise ValueError("array specs must be a list of [dtype, shape]")
    arrays = []
    for spec in specs:
        try:
            dtype_str, shape = spec
            dt = np.dtype(dtype_str)
            shape = tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            raise ValueError(f"malformed array spec {spec!r}") from None
        if dt.hasobject:
            raise ValueError("object arrays are not allowed")
        if any(n < 0 for n in shape):
            raise ValueError(f"negative dimension in array spec {spec!r}")
        size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if pos + size > len(data):
            raise ValueError("truncated: fewer array bytes than the header describes")
        if dt.itemsize == 0:  # e.g. "<U0": nothing to read
            arrays.append(np.zeros(shape, dtype=dt))
            continue
        arrays.append(np.frombuffer(data[pos : pos + size], dtype=dt).reshape(shape).copy())
        pos += size
    return arrays, pos


def decode_tree(raw: bytes, arrays: Sequence[np.ndarray]) -> Any:
    """The tree `encode_tree` wrote, with its references replaced by `arrays`.

    >>> decode_tree(b'{"w":{"__ndarray__":0},"n":[1,2]}', [np.ones(2)])
    {'w': array([1., 1.]), 'n': [1, 2]}
    """
    tree = orjson.loads(raw)
    if not arrays:
        return tree

    def fill(obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 1 and ARRAY_REF in obj:
                ref = obj[ARRAY_REF]
                if type(ref) is not int or not 0 <= ref < len(arrays):
                    raise ValueError(f"array reference {ref!r} out of range")
                return arrays[ref]
            return {k: fill(v) for k, v in obj.items()}
        if isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
            return [fill(v) for v in obj]
        return obj  # a list of plain numbers (an entity's window) needs no visit

    return fill(tree)
