"""A distinct-count sketch: an exact set of hashes while small, then HyperLogLog registers.

The estimate depends only on the set of values added, never on the order or on how partial
sketches were merged, so windows built from panes give the same answer as one pass.
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

import numpy as np

__all__ = ["Sketch", "hash_key", "hash_value", "sketch_add", "sketch_estimate", "sketch_merge"]

SPARSE_MAX = 64  # distinct values held exactly before switching to registers
_MASK = (1 << 64) - 1

Sketch = set[int] | bytearray
_POWERS = 2.0 ** -np.arange(66, dtype=np.float64)


def hash_value(value: object) -> int:
    """A stable 64-bit hash of a field value (strings and numbers never collide by type)."""
    raw = b"s:" + value.encode() if isinstance(value, str) else b"n:" + repr(float(value)).encode()  # type: ignore[arg-type]  # numbers only, checked by the schema
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


_STR_HASHES: dict[str, int] = {}
_STR_HASHES_MAX = 1 << 16  # keys remembered, each at most _STR_KEY_MAX characters
_STR_KEY_MAX = 256


def hash_key(value: object) -> int:
    """`hash_value`, remembered for strings: distinct keys (merchants, devices) repeat, and a
    blake2b digest costs more than the rest of a distinct count's update. Numbers are hashed
    each time: equal numbers (0.0 and -0.0) may hash apart, so they cannot share a dict slot."""
    if type(value) is not str or len(value) > _STR_KEY_MAX:
        return hash_value(value)
    h = _STR_HASHES.get(value)
    if h is None:
        if len(_STR_HASHES) >= _STR_HASHES_MAX:
            _STR_HASHES.clear()  # bounded memory; a cold start costs one digest per key
        h = _STR_HASHES[value] = hash_value(value)
    return h


def _register(h: int, p: int) -> tuple[int, int]:
    w = (h << p) & _MASK
    return h >> (64 - p), 65 - w.bit_length() if w else 65 - p


def _densify(hashes: set[int], p: int) -> bytearray:
    regs = bytearray(1 << p)
    for h in hashes:
        i, r = _register(h, p)
        if r > regs[i]:
            regs[i] = r
    return regs


def sketch_add(sk: Sketch, h: int, p: int) -> Sketch:
    """Add a hash; returns the sketch (a new one when a set outgrows ``SPARSE_MAX``)."""
    if isinstance(sk, set):
        sk.add(h)
        return _densify(sk, p) if len(sk) > SPARSE_MAX else sk
    i, r = _register(h, p)
    if r > sk[i]:
        sk[i] = r
    return sk


def sketch_merge(a: Sketch, b: Sketch, p: int) -> Sketch:
    """The sketch of the union (a new object; the inputs are unchanged)."""
    if isinstance(a, set) and isinstance(b, set):
        u = a | b
        return _densify(u, p) if len(u) > SPARSE_MAX else u
    ra = a if isinstance(a, bytearray) else _densify(a, p)
    rb = b if isinstance(b, bytearray) else _densify(b, p)
    return bytearray(np.maximum(np.frombuffer(ra, np.uint8), np.frombuffer(rb, np.uint8)))


def sketch_estimate(sk: Sketch) -> float:
    """Exact count while sparse; else HyperLogLog with linear counting for small ranges."""
    if isinstance(sk, set):
        return float(len(sk))
    m = len(sk)
    alpha = 0.7213 / (1 + 1.079 / m)
    regs = np.frombuffer(sk, np.uint8)
    est = alpha * m * m / float(_POWERS[regs].sum())
    zeros = int(np.count_nonzero(regs == 0))
    if est <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return est


def sketch_to_json(sk: Sketch) -> Any:
    if isinstance(sk, set):
        return list(sk)
    return base64.b64encode(bytes(sk)).decode()


def sketch_from_json(raw: Any) -> Sketch:
    if isinstance(raw, str):
        return bytearray(base64.b64decode(raw))
    return {int(h) for h in raw}
