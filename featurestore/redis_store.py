"""The online store in Redis: one hash per entity and view version, with a key TTL."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from featurestore.exceptions import StoreUnavailableError
from featurestore.record import FeatureRecord
from featurestore.store import StoredVector, entity_key
from featurestore.view import FeatureView

__all__ = ["RedisStore"]

_TS = "_ts"
_WRITTEN = "_written_at"
_TS_B = _TS.encode()
_WRITTEN_B = _WRITTEN.encode()


class RedisStore:
    """Writes each batch's latest vectors in one pipelined round trip (HSET + EXPIRE per key).

    Redis 7.0 has no per-field expiry, so the whole key expires `view.ttl_seconds` after its last
    write. Connects in `start()`.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "riffle") -> None:
        self.url = url
        self.prefix = prefix
        self._client: aioredis.Redis | None = None

    async def start(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise StoreUnavailableError(f"cannot reach Redis at {_safe(self.url)}: {exc}") from exc
        self._client = client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("RedisStore.start() has not been awaited")
        return self._client

    async def write_many(self, view: FeatureView, records: Iterable[FeatureRecord]) -> int:
        ttl = view.ttl_seconds
        now = str(int(time.time() * 1000)).encode()
        names = [n.encode() for n in view.feature_names]
        pipe = self.client.pipeline(transaction=False)
        n = 0
        for r in records:
            key = entity_key(self.prefix, view, r.entity)
            # pre-encoded arguments take redis-py's fast path; repr keeps floats bit-exact
            args: list[bytes] = []
            for name, value in zip(names, r.values, strict=True):
                args.append(name)
                args.append(repr(value).encode())
            args += [_TS_B, str(r.ts).encode(), _WRITTEN_B, now]
            pipe.execute_command("HSET", key, *args)
            pipe.execute_command("EXPIRE", key, ttl)
            n += 1
        if n:
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                raise StoreUnavailableError(f"Redis write failed: {exc}") from exc
        return n

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
        out: list[StoredVector | None] = []
        for row in rows:
            if not row:
                out.append(None)
                continue
            fields = {k.decode(): v.decode() for k, v in row.items()}
            ts = int(fields.pop(_TS))
            written = int(fields.pop(_WRITTEN))
            out.append(StoredVector({k: float(v) for k, v in fields.items()}, ts, written))
        return out


def _safe(url: str) -> str:
    """The URL without credentials: user info and the query string (which may carry a
    password) are dropped."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = "***@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{auth}{host}{parts.path}"
