"""The online store in Redis: one hash per entity and view version, with a key TTL."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from featurestore.exceptions import StoreSchemaError, StoreUnavailableError
from featurestore.record import FeatureRecord
from featurestore.resp_pipe import RespPipe
from featurestore.store import StoredVector, entity_key
from featurestore.view import FeatureView

__all__ = ["RedisStore"]

# hash fields: the vector as little-endian float64s (bit-exact, one field to pack), the event
# time it reflects, when it was written, and how many features it holds
_VALUES = b"v"
_TS = b"_ts"
_WRITTEN = b"_written_at"
_WIDTH = b"_n"
_FIELDS = (_VALUES, _TS, _WRITTEN, _WIDTH)


class RedisStore:
    """One hash per entity and view version (``prefix:{entity}:view:vN``; the hash tag keeps an
    entity's keys on one Redis Cluster slot), written in one round trip per batch (HSET +
    EXPIRE per key, packed by hiredis on a dedicated connection) and read with pipelined
    HMGETs on another. `client` is a redis-py client for everything else.

    Redis 7.0 has no per-field expiry, so the whole key expires `view.ttl_seconds` after its last
    write. Connects in `start()`.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "riffle") -> None:
        self.url = url
        self.prefix = prefix
        self._client: aioredis.Redis | None = None
        self._pipe: RespPipe | None = None
        self._reads: RespPipe | None = None  # serving reads must not queue behind a write

    async def start(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        pipe = RespPipe(self.url)
        reads = RespPipe(self.url)
        try:
            await client.ping()
            await pipe.start()
            await reads.start()
        except (RedisError, OSError, StoreUnavailableError) as exc:
            await client.aclose()
            raise StoreUnavailableError(f"cannot reach Redis at {_safe(self.url)}: {exc}") from exc
        self._client = client
        self._pipe = pipe
        self._reads = reads

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for pipe in (self._pipe, self._reads):
            if pipe is not None:
                await pipe.stop()
        self._pipe = self._reads = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("RedisStore.start() has not been awaited")
        return self._client

    async def write_many(self, view: FeatureView, records: Iterable[FeatureRecord]) -> int:
        if self._pipe is None:
            raise RuntimeError("RedisStore.start() has not been awaited")
        ttl = str(view.ttl_seconds).encode()
        now = str(int(time.time() * 1000)).encode()
        width = len(view.feature_names)
        blob = struct.Struct(f"<{width}d").pack
        width_b = str(width).encode()
        pack = RespPipe.pack
        parts: list[bytes] = []
        for r in records:
            key = entity_key(self.prefix, view, r.entity).encode()
            try:
                values = blob(*r.values)
            except struct.error:
                raise ValueError(
                    f"vector of {len(r.values)} values for view {view.qualified_name} of "
                    f"{width} features"
                ) from None
            ts = str(r.ts).encode()
            hset = (b"HSET", key, _VALUES, values, _TS, ts, _WRITTEN, now, _WIDTH, width_b)
            parts.append(pack(hset))
            parts.append(pack((b"EXPIRE", key, ttl)))
        if parts:
            await self._pipe.execute(b"".join(parts), len(parts))
        return len(parts) // 2

    async def read_many(
        self, view: FeatureView, entities: Sequence[str]
    ) -> list[StoredVector | None]:
        if self._reads is None:
            raise RuntimeError("RedisStore.start() has not been awaited")
        pack = RespPipe.pack
        payload = b"".join(
            pack((b"HMGET", entity_key(self.prefix, view, e).encode(), *_FIELDS)) for e in entities
        )
        rows = await self._reads.execute(payload, len(entities)) if entities else []
        names = view.feature_names
        width = len(names)
        unpack = struct.Struct(f"<{width}d").unpack
        out: list[StoredVector | None] = []
        for raw, ts, written, stored_width in rows:
            if raw is None:
                out.append(None)
                continue
            if len(raw) != 8 * width or stored_width is None or int(stored_width) != width:
                raise StoreSchemaError(
                    f"a stored vector of view {view.qualified_name} holds {len(raw) // 8} "
                    f"values, the view has {width} features: was it written by another "
                    "definition of the same view version?"
                )
            values = dict(zip(names, unpack(raw), strict=True))
            out.append(StoredVector(values, int(ts), int(written)))
        return out


def _safe(url: str) -> str:
    """The URL without credentials: user info and the query string (which may carry a
    password) are dropped."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = "***@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{auth}{host}{parts.path}"
