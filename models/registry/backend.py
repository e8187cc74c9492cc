"""The storage a `Registry` runs on: a tiny key/value store with counters and append-only lists.

Keys are `:`-separated words (``fraud:v3:artifact``); every backend stores them under its own
namespace (a directory, a Redis key prefix). The registry's logic lives in `Registry` and is the
same on every backend.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["RegistryBackend"]


@runtime_checkable
class RegistryBackend(Protocol):
    """Key/value + counter + append-only list storage.

    Examples
    --------
    >>> from models.registry import MemoryBackend, RegistryBackend
    >>> isinstance(MemoryBackend(), RegistryBackend)
    True
    """

    def get(self, key: str) -> bytes | None:
        """The value stored under `key`, None if there is none."""
        ...

    def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key`, replacing any value; readers see the old or the new value
        whole, never a mix."""
        ...

    def incr(self, key: str) -> int:
        """Add one to the counter `key` (0 when new) and return the new value, atomically across
        processes: two callers never get the same number."""
        ...

    def append(self, key: str, item: bytes) -> None:
        """Append `item` (no newline) to the list `key`. Lists are never rewritten."""
        ...

    def read_list(self, key: str) -> list[bytes]:
        """Every item of the list `key` in append order (empty if there is none)."""
        ...
