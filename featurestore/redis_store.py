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


class RedisStore:
    """One hash per entity and view version (``prefix:{entity}:view:vN``; the hash tag keeps an
    entity's keys on one Redis Cluster slot), written in one round trip per batch (HSET +
    EXPIRE per key, packed by hiredis on a dedicated connection), read with pipelined HGETALLs.

    Redis 7.0 has no per-field expiry, so the whole key expires `view.ttl_seconds` after its last
    write. Connects in `start()`.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "riffle") -> None:
        self.url = url
        self.prefix = prefix
        self._client: aioredis.Redis | None = None
        self._pipe: RespPipe | None = None

    async def start(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        pipe = RespPipe(self.url)
        try:
            await client.ping()
            await pipe.start()
        except (RedisError, OSError, StoreUnavailableError) as exc:
            await client.aclose()
            raise StoreUnavailableError(f"cannot reach Redis at {_safe(self.url)}: {exc}") from exc
        self._client = client
        self._pipe = pipe

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._pipe is not None:
            await self._pipe.stop()
            self._pipe = None

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
        pipe = self.client.pipeline(transaction=False)
        for e in entities:
            pipe.hgetall(entity_key(self.prefix, view, e))
        try:
            rows = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"Redis read failed: {exc}") from exc
        names = view.feature_names
        out: list[StoredVector | None] = []
        for row in rows:
            if not row:
                out.append(None)
                continue
            raw = row.get(_VALUES, b"")
            if int(row.get(_WIDTH, -1)) != len(names) or len(raw) != 8 * len(names):
                raise StoreSchemaError(
                    f"a stored vector of view {view.qualified_name} holds {len(raw) // 8} "
                    f"values, the view has {len(names)} features: was it written by another "
                    "definition of the same view version?"
                )
            values = struct.unpack(f"<{len(names)}d", raw)
            out.append(
                StoredVector(
                    dict(zip(names, values, strict=True)), int(row[_TS]), int(row[_WRITTEN])
                )
            )
        return out


def _safe(url: str) -> str:
    """The URL without credentials: user info and the query string (which may carry a
    password) are dropped."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = "***@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{auth}{host}{parts.path}"
