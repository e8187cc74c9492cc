"""Serving answers as JSON without a dict per entity.

A batch answer of 100 entities of 20 features is 2,000 name/value pairs: building them as dicts
and serializing those cost more than reading them from Redis. Here orjson writes the entity ids
and all the values in two calls (the values straight from the stored float64 bytes, through
numpy), and C (``_native/answers.c``) copies its tokens between the view's feature names. The
bytes equal ``orjson.dumps`` of the answer `FeatureServer.get_many` builds as dicts; without a C
compiler the Python twin below writes the same bytes.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import orjson

from featurestore.json_native import NameFragments, json_library, name_fragments, write_into
from featurestore.store import StoredVector

__all__ = ["VectorBlock", "block_of", "render_answers", "stored_vectors"]

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_MISSING = b',"found":false,"values":null,"event_ts":null,"age_ms":null,"written_at":null}'


@dataclass(slots=True)
class VectorBlock:
    """Stored vectors of requested entities, in request order: ``found`` has a byte per entity
    (1 found, 0 missing); the found ones' values are ``values`` (float64, little-endian, one
    vector after another) and their times ``event_ts`` and ``written_at`` (ms)."""

    found: bytes
    values: bytes = b""
    event_ts: array[int] = field(default_factory=lambda: array("q"))
    written_at: array[int] = field(default_factory=lambda: array("q"))


def block_of(vectors: Sequence[StoredVector | None], names: Sequence[str]) -> VectorBlock:
    """The block of vectors read as `StoredVector` (stores without a block read)."""
    found = [v for v in vectors if v is not None]
    values = [v.values[n] for v in found for n in names]
    return VectorBlock(
        bytes(v is not None for v in vectors),
        struct.pack(f"<{len(values)}d", *values),
        array("q", [v.event_ts for v in found]),
        array("q", [v.written_at for v in found]),
    )


def stored_vectors(block: VectorBlock, names: tuple[str, ...]) -> list[StoredVector | None]:
    """The block as one `StoredVector` (or None) per requested entity."""
    rows = struct.iter_unpack(f"<{len(names)}d", block.values) if names else iter(())
    out: list[StoredVector | None] = []
    j = 0
    for hit in block.found:
        if hit:
            values = dict(zip(names, next(rows), strict=True)) if names else {}
            out.append(StoredVector(values, block.event_ts[j], block.written_at[j]))
            j += 1
        else:
            out.append(None)
    return out


def render_answers(
    view_name: str,
    version: int,
    names: tuple[str, ...],
    keys: Sequence[str],
    block: VectorBlock,
    now: int,
    single: bool = False,
) -> bytes:
    """``orjson.dumps`` of the batch answer ``{"view", "version", "results": [...]}`` for
    ``keys`` (or, with ``single``, of the one-entity answer: view, version and the result's
    fields), as the dict path of `FeatureServer` builds it."""
    if single:
        head, tail = b'{"view":%b,"version":%d,' % (orjson.dumps(view_name), version), b""
    else:
        head, tail = (
            b'{"view":%b,"version":%d,"results":[' % (orjson.dumps(view_name), version),
            b"]}",
        )
    k = len(block.event_ts)
    if (
        len(block.found) != len(keys)
        or block.found.count(1) != k
        or len(block.written_at) != k
        or len(block.values) != 8 * len(names) * k
    ):
        raise ValueError(f"inconsistent vector block for {len(keys)} entities")
    keys_json = orjson.dumps(list(keys))
    nums = orjson.dumps(np.frombuffer(block.values, "<f8"), option=_NUMPY)
    frags = name_fragments(names)
    lib = json_library()
    if lib is None or not keys:
        return _render_py(head, tail, keys_json, nums, frags, block, now, single)
    cap = len(head) + len(tail) + len(keys_json) + len(nums) + 160 * len(keys)
    cap += k * (len(frags.joined) + len(names) + 64)
    data, size = write_into(
        cap,
        lambda address: lib.render_answers(
            len(keys),
            block.found,
            keys_json,
            len(keys_json),
            nums,
            len(nums),
            len(names),
            frags.joined,
            frags.offsets.buffer_info()[0],
            block.event_ts.buffer_info()[0],
            block.written_at.buffer_info()[0],
            now,
            head,
            len(head),
            tail,
            len(tail),
            single,
            address,
            cap,
        ),
    )
    if size < 0:
        raise ValueError(f"inconsistent vector block for {len(keys)} entities (code {size})")
    return data


def _render_py(
    head: bytes,
    tail: bytes,
    keys_json: bytes,
    nums: bytes,
    frags: NameFragments,
    block: VectorBlock,
    now: int,
    single: bool,
) -> bytes:
    """The Python twin of ``render_answers`` in C: the same tokens, the same bytes."""
    keys = _string_tokens(keys_json)
    values = nums[1:-1].split(b",") if len(nums) > 2 else []
    width = len(frags.parts)
    parts: list[bytes] = []
    j = 0
    for i, (key, hit) in enumerate(zip(keys, block.found, strict=True)):
        opening = b"" if single and i == 0 else b"{"
        if not hit:
            parts.append(b'%b"entity":%b%b' % (opening, key, _MISSING))
            continue
        row = values[j * width : (j + 1) * width]
        pairs = b",".join(map(bytes.__add__, frags.parts, row))
        ts = block.event_ts[j]
        parts.append(
            b'%b"entity":%b,"found":true,"values":{%b},"event_ts":%d,"age_ms":%d,'
            b'"written_at":%d}' % (opening, key, pairs, ts, now - ts, block.written_at[j])
        )
        j += 1
    return head + b",".join(parts) + tail


def _string_tokens(json_array: bytes) -> list[bytes]:
    """The string tokens, quotes included, of orjson's compact array of strings."""
    tokens: list[bytes] = []
    i, n = 1, len(json_array) - 1
    while i < n:
        j = i + 1
        while json_array[j] != 0x22:  # '"'
            j += 2 if json_array[j] == 0x5C else 1  # '\\' escapes the next byte
        tokens.append(json_array[i : j + 1])
        i = j + 2  # past the ','
    return tokens
