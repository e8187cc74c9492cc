"""The registry's storage in a dict, for tests, doctests and throwaway embedded runs."""

from __future__ import annotations

import threading

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """`RegistryBackend` in memory (thread-safe, gone with the process).

    Examples
    --------
    >>> store = MemoryBackend()
    >>> store.incr("m:counter"), store.incr("m:counter")
    (1, 2)
    >>> store.put("m:v1:meta", b"{}"); store.get("m:v1:meta"), store.get("m:v2:meta")
    (b'{}', None)
    >>> store.append("audit", b"a"); store.append("audit", b"b"); store.read_list("audit")
    [b'a', b'b']
    """

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._counters: dict[str, int] = {}
        self._lists: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self._values.get(key)

    def put(self, key: str, value: bytes) -> None:
        self._values[key] = bytes(value)

    def incr(self, key: str) -> int:
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]

    def append(self, key: str, item: bytes) -> None:
        if b"\n" in item:
            raise ValueError("list items must not contain newlines")
        with self._lock:
            self._lists.setdefault(key, []).append(bytes(item))

    def read_list(self, key: str) -> list[bytes]:
        with self._lock:
            return list(self._lists.get(key, ()))
