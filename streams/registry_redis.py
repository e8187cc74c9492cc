"""The model registry on Redis (the workers' default), and opening a registry by its address.

`RedisBackend` is the `models.registry.RegistryBackend` on a synchronous `redis` client: values
are strings (SET/GET), version numbers come from INCR (atomic, so two workers never get the same
number), and the audit log and version lists are Redis lists that are only ever RPUSH'ed.
`open_registry` picks the backend from an address: ``redis://...`` (or ``rediss://``,
``unix://``) for Redis, anything else for a local directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

from models.registry import DirectoryBackend, Registry, RegistryBackend, RegistryError
from streams.config import ModelConfig, model_from_config
from streams.exceptions import ServiceUnavailableError

__all__ = ["DEFAULT_PREFIX", "RedisBackend", "build_model", "model_config", "open_registry"]

DEFAULT_PREFIX = "riffle:registry"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class RedisBackend:
    """`RegistryBackend` on Redis, every key under ``{prefix}:``.

    The client connects in `start()` (or on entering a ``with`` block), not in the constructor.
    Connection failures raise `ServiceUnavailableError` naming the URL's host, never its
    password.

    Examples
    --------
    >>> backend = RedisBackend("redis://127.0.0.1:6379/0", prefix="riffle:registry")
    >>> backend.key("fraud:v3:artifact"), backend.key("audit")
    ('riffle:registry:fraud:v3:artifact', 'riffle:registry:audit')
    >>> backend
    RedisBackend('127.0.0.1:6379/0', prefix='riffle:registry')
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        if not url.startswith(REDIS_SCHEMES):
            raise ValueError(f"a Redis URL starts with one of {REDIS_SCHEMES}")
        self.url = url
        self.prefix = prefix
        self._client: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"RedisBackend({self._where()!r}, prefix={self.prefix!r})"

    def _where(self) -> str:
        return self.url.split("://", 1)[1].rsplit("@", 1)[-1]  # no credentials

    def start(self) -> RedisBackend:
        """Connect (and check the server answers)."""
        if self._client is None:
            client = redis.Redis.from_url(self.url)
            try:
                client.ping()
            except redis.RedisError as exc:
                client.close()
                raise ServiceUnavailableError(
                    f"Redis at {self._where()} is not reachable: {type(exc).__name__}"
                ) from None
            self._client = client
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> RedisBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key(self, key: str) -> str:
        """The Redis key of a registry key."""
        return f"{self.prefix}:{key}"

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("RedisBackend is not started: call start() first")
        return self._client

    def get(self, key: str) -> bytes | None:
        value = self.client.get(self.key(key))
        return None if value is None else _bytes(value)

    def put(self, key: str, value: bytes) -> None:
        self.client.set(self.key(key), value)

    def incr(self, key: str) -> int:
        return int(self.client.incr(self.key(key)))

    def append(self, key: str, item: bytes) -> None:
        if b"\n" in item:
            raise ValueError("list items must not contain newlines")
        self.client.rpush(self.key(key), item)

    def read_list(self, key: str) -> list[bytes]:
        return [_bytes(item) for item in self.client.lrange(self.key(key), 0, -1)]


def _bytes(value: bytes | str) -> bytes:
    # the client returns bytes unless someone passes decode_responses=True
    return value.encode() if isinstance(value, str) else value


def model_config(cfg: ModelConfig) -> dict[str, Any]:
    """A stream's model config as the JSON a registry version stores.

    >>> model_config(ModelConfig(type="gaussian_nb"))["type"]
    'gaussian_nb'
    """
    raw = dataclasses.asdict(cfg)
    raw["params"] = dict(cfg.params)
    return raw


def build_model(config: Mapping[str, Any]) -> Any:
    """The registry's model factory for Riffle's configured models (`model_from_config`).

    >>> type(build_model({"type": "hoeffding_tree"})).__name__
    'HoeffdingTreeClassifier'
    """
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = set(config) - fields
    if unknown:
        raise RegistryError(f"model config has unknown keys {sorted(unknown)}")
    try:
        return model_from_config(ModelConfig(**config))
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"cannot build the model from its config: {exc}") from None


def open_registry(
    where: str | Path, *, key: bytes | str | None = None, prefix: str = DEFAULT_PREFIX
) -> Registry:
    """A registry on Redis (``redis://``, ``rediss://``, ``unix://`` URLs; started here) or
    in a local directory (any other address), with `build_model` as its factory.

    >>> import tempfile
    >>> open_registry(tempfile.mkdtemp(), key="k").names()
    []
    """
    backend: RegistryBackend
    if isinstance(where, str) and where.startswith(REDIS_SCHEMES):
        backend = RedisBackend(where, prefix=prefix).start()
    else:
        backend = DirectoryBackend(where)
    return Registry(backend, key=key, factory=build_model)
