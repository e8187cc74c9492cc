"""A bounded buffer of items waiting for their partner (a label for a feature vector, or the
reverse), keyed by event id, evicted by age in event time and by size."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

__all__ = ["PendingBuffer"]

T = TypeVar("T")


class PendingBuffer(Generic[T]):
    """FIFO map from event id to a payload, at most `max_size` items and `max_age_ms` old.

    Evictions are counted, never silent: `n_evicted` says how many partners never came.

    >>> buf = PendingBuffer[str](max_size=2, max_age_ms=1000)
    >>> buf.put("a", "x", ts=0); buf.put("b", "y", ts=10); buf.put("c", "z", ts=20)
    >>> buf.pop("a"), buf.pop("b"), buf.n_evicted
    (None, 'y', 1)
    >>> buf.expire(now_ts=5000), len(buf)
    (1, 0)
    >>> buf.put("early", "label", ts=0)  # the clock is not known yet: no age
    >>> buf.expire(now_ts=10**12), buf.pop("early")
    (0, 'label')
    """

    def __init__(
        self, max_size: int = 100_000, max_age_ms: int = 3_600_000, keep_evicted: bool = False
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        if max_age_ms < 1:
            raise ValueError("max_age_ms must be >= 1")
        self.max_size = max_size
        self.max_age_ms = max_age_ms
        # with keep_evicted, evicted items wait in `evicted` until `drain_evicted` (so a
        # driver can report each of them, not only count them)
        self.keep_evicted = keep_evicted
        self._reset()

    def _reset(self) -> None:
        self._items: OrderedDict[str, tuple[int, T]] = OrderedDict()
        self.n_evicted = 0
        self.evicted: list[tuple[str, T]] = []

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def put(self, key: str, value: T, ts: int) -> None:
        self._items[key] = (ts, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            old, (_, gone) = self._items.popitem(last=False)
            self.n_evicted += 1
            if self.keep_evicted:
                self.evicted.append((old, gone))

    def pop(self, key: str) -> T | None:
        hit = self._items.pop(key, None)
        return None if hit is None else hit[1]

    def expire(self, now_ts: int) -> int:
        """Evict items older than `max_age_ms` before `now_ts`; return how many.

        An item put before the clock was known (ts <= 0, e.g. a label that reached a fresh
        learner before any event did) has no age yet: it is stamped `now_ts` here instead.
        """
        if now_ts <= 0:
            return 0
        cutoff = now_ts - self.max_age_ms
        items = self._items
        n = 0
        restamped = 0
        while items and restamped <= len(items):
            key, (ts, value) = next(iter(items.items()))
            if ts <= 0:
                items[key] = (now_ts, value)
                items.move_to_end(key)
                restamped += 1
                continue
            if ts >= cutoff:
                break
            del items[key]
            n += 1
            if self.keep_evicted:
                self.evicted.append((key, value))
        self.n_evicted += n
        return n

    def drain_evicted(self) -> list[tuple[str, T]]:
        out, self.evicted = self.evicted, []
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "items": [[k, ts, v] for k, (ts, v) in self._items.items()],
            "n_evicted": self.n_evicted,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._items = OrderedDict((k, (int(ts), v)) for k, ts, v in state["items"])
        self.n_evicted = int(state["n_evicted"])
