"""The C JSON stitchers (``_native/answers.c``, ``_native/records.c``), compiled on first use
and loaded with ctypes; None without a C compiler or with ``RIFFLE_NO_NATIVE=1``, and callers
use their Python path (the same bytes, slower)."""

from __future__ import annotations

import ctypes
import functools
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from models._native_build import load_library

__all__ = ["NameFragments", "json_library", "name_fragments", "write_into"]

_P = ctypes.c_void_p
_I = ctypes.c_longlong
_S = ctypes.c_char_p
_SIGNATURES = {
    "render_answers": [_I, _S, _S, _I, _S, _I, _I, _S, _P, _P, _P, _I, _S, _I, _S, _I,
                       ctypes.c_int, _P, _I],
    "render_records": [_I, _S, _I, _S, _I, _I, _S, _P, _P, _I, _P],
}  # fmt: skip


@functools.cache
def json_library() -> ctypes.CDLL | None:
    native = Path(__file__).with_name("_native")
    lib = load_library("json", [native / "answers.c", native / "records.c"])
    if lib is not None:
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = _I, argtypes
    return lib


@dataclass(frozen=True, slots=True)
class NameFragments:
    """A view's feature names as JSON object keys (``"name":``), one by one and joined, with
    their offsets in the joined bytes (what the C stitchers take)."""

    parts: tuple[bytes, ...]  # '"name":' per feature
    joined: bytes
    offsets: array[int]


@functools.lru_cache(maxsize=256)
def name_fragments(names: tuple[str, ...]) -> NameFragments:
    parts = tuple(orjson.dumps(n) + b":" for n in names)
    offsets = array("q", [0])
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return NameFragments(parts, b"".join(parts), offsets)


def write_into(cap: int, write: Callable[[int], int]) -> tuple[bytes, int]:
    """Run a stitcher on a fresh buffer of `cap` bytes: `write` gets its address and returns
    the bytes written (negative: an error code); returns the written bytes and that count."""
    out = bytearray(cap)
    ref = ctypes.c_char.from_buffer(out)
    try:
        size = write(ctypes.addressof(ref))
    finally:
        del ref  # the buffer cannot be resized while exported
    return (bytes(memoryview(out)[:size]) if size >= 0 else b""), size
