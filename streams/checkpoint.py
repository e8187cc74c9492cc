"""Checkpoints: a stage's state together with the input offsets it reflects.

A checkpoint is written only after every output of the batches it covers has been acknowledged
by Kafka, and before the consumer commits. A worker that restarts loads it and seeks to its
offsets, so state and input position always agree (outputs after the checkpoint are replayed:
they carry the same event ids, which is how consumers drop the duplicates).

Encoding: a JSON header (with arrays replaced by references) followed by the raw array bytes.
No pickle: a checkpoint cannot execute code when loaded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

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

    >>> ck = Checkpoint({"w": np.arange(3.0), "n": 2}, {"t:0": 10})
    >>> back = unpack(pack(ck))
    >>> back.state["w"].tolist(), back.state["n"], back.offsets
    ([0.0, 1.0, 2.0], 2, {'t:0': 10})
    """
    arrays: list[np.ndarray] = []

    # orjson walks the state in C and calls back only for what JSON cannot hold
    def hook(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            arrays.append(np.ascontiguousarray(obj))
            return {"__ndarray__": len(arrays) - 1}
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"cannot checkpoint a {type(obj).__name__}")

    # non-str keys (pane starts) become strings, as the stdlib json does
    opts = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
    state = orjson.dumps(ckpt.state, default=hook, option=opts)
    header = orjson.dumps(
        {
            "offsets": ckpt.offsets,
            "arrays": [[a.dtype.str, list(a.shape)] for a in arrays],
            "state_bytes": len(state),
        }
    )
    body = b"".join(a.tobytes() for a in arrays)
    return _MAGIC + struct.pack(">I", len(header)) + header + state + body


def unpack(data: bytes) -> Checkpoint:
    if not data.startswith(_MAGIC):
        raise ValueError("not a riffle checkpoint (bad magic)")
    (hlen,) = struct.unpack(">I", data[5:9])
    header = orjson.loads(data[9 : 9 + hlen])
    pos = 9 + hlen
    raw_state = data[pos : pos + header["state_bytes"]]
    pos += header["state_bytes"]
    arrays = []
    for dtype, shape in header["arrays"]:
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError("object arrays are not allowed in checkpoints")
        size = int(np.prod(shape)) * dt.itemsize
        arrays.append(np.frombuffer(data[pos : pos + size], dtype=dt).reshape(shape).copy())
        pos += size

    def fill(obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 1 and "__ndarray__" in obj:
                return arrays[obj["__ndarray__"]]
            return {k: fill(v) for k, v in obj.items()}
        if isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
            return [fill(v) for v in obj]
        return obj  # a list of plain numbers (an entity's window) needs no visit

    state = fill(orjson.loads(raw_state)) if arrays else orjson.loads(raw_state)
    return Checkpoint(state, {k: int(v) for k, v in header["offsets"].items()})


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
