"""Checkpoints: a stage's state together with the input offsets it reflects.

A checkpoint is written only after every output of the batches it covers has been acknowledged
by Kafka, and before the consumer commits. A worker that restarts loads it and seeks to its
offsets, so state and input position always agree (outputs after the checkpoint are replayed:
they carry the same event ids, which is how consumers drop the duplicates).

Encoding: a JSON header (offsets and the arrays' dtypes and shapes), the state as JSON with its
arrays replaced by references, then the raw array bytes (the codec of `models.serialization`).
No pickle: a checkpoint cannot execute code when loaded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Protocol

import orjson

from models.serialization import array_specs, decode_tree, encode_tree, join_arrays, split_arrays

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "DirectoryCheckpoints",
    "RedisCheckpoints",
    "pack",
    "unpack",
]

_MAGIC = b"RFCK1"


class Checkpoint:
    """State and the next offset to read for each input partition ("topic:partition")."""

    __slots__ = ("offsets", "state")

    def __init__(self, state: dict[str, Any], offsets: dict[str, int]) -> None:
        self.state = state
        self.offsets = offsets


def pack(ckpt: Checkpoint) -> bytes:
    """Encode a checkpoint.

    >>> import numpy as np
    >>> ck = Checkpoint({"w": np.arange(3.0), "n": 2}, {"t:0": 10})
    >>> back = unpack(pack(ck))
    >>> back.state["w"].tolist(), back.state["n"], back.offsets
    ([0.0, 1.0, 2.0], 2, {'t:0': 10})
    """
    state, arrays = encode_tree(ckpt.state)
    header = orjson.dumps(
        {"offsets": ckpt.offsets, "arrays": array_specs(arrays), "state_bytes": len(state)}
    )
    return _MAGIC + struct.pack(">I", len(header)) + header + state + join_arrays(arrays)


def unpack(data: bytes) -> Checkpoint:
    """Decode what `pack` wrote; raises `ValueError` for anything else."""
    if not data.startswith(_MAGIC) or len(data) < 9:
        raise ValueError("not a riffle checkpoint (bad magic)")
    (hlen,) = struct.unpack(">I", data[5:9])
    header = orjson.loads(data[9 : 9 + hlen])
    pos = 9 + hlen
    try:
        state_end = pos + int(header["state_bytes"])
        arrays, _ = split_arrays(data, state_end, header["arrays"])
        offsets = {k: int(v) for k, v in header["offsets"].items()}
    except (KeyError, TypeError, AttributeError):
        raise ValueError("not a riffle checkpoint (malformed header)") from None
    return Checkpoint(decode_tree(data[pos:state_end], arrays), offsets)


class CheckpointStore(Protocol):
    async def save(self, name: str, ckpt: Checkpoint) -> int:
        """Store the checkpoint under `name`; return its size in bytes."""
        ...

    async def load(self, name: str) -> Checkpoint | None: ...


class RedisCheckpoints:
    """Checkpoints as Redis strings (the workers' default). Takes a started `redis.asyncio`
    client."""

    def __init__(self, client: Any, prefix: str = "riffle:ckpt") -> None:
        self.client = client
        self.prefix = prefix

    async def save(self, name: str, ckpt: Checkpoint) -> int:
        data = pack(ckpt)
        await self.client.set(f"{self.prefix}:{name}", data)
        return len(data)

    async def load(self, name: str) -> Checkpoint | None:
        data = await self.client.get(f"{self.prefix}:{name}")
        return None if data is None else unpack(data)


class DirectoryCheckpoints:
    """Checkpoints as files, written atomically (write, fsync, rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    async def save(self, name: str, ckpt: Checkpoint) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        data = pack(ckpt)
        path = self.root / f"{name.replace(':', '_')}.ckpt"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            import os

            os.fsync(fh.fileno())
        tmp.replace(path)
        return len(data)

    async def load(self, name: str) -> Checkpoint | None:
        path = self.root / f"{name.replace(':', '_')}.ckpt"
        return unpack(path.read_bytes()) if path.exists() else None
