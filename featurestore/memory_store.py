"""In-process online store for the embedded runner and library use."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from featurestore.record import FeatureRecord
from featurestore.store import StoredVector, entity_key
from featurestore.view import FeatureView

__all__ = ["InMemoryStore"]


class InMemoryStore:
    """The online store in a dict, with the same key layout and TTLs as `RedisStore`.

    >>> import asyncio
    >>> from featurestore.record import FeatureRecord
    >>> view = FeatureView("v", fields=("x",), aggregations=("count",))
    >>> store = InMemoryStore()
    >>> rec = FeatureRecord("e1", "a", 1000, [2.0, 1.0], None, "v", 1, names=view.feature_names)
    >>> asyncio.run(store.write_many(view, [rec]))
    1
    >>> asyncio.run(store.read_many(view, ["a", "b"]))[0].values
    {'x': 2.0, 'count_5m': 1.0}
    """

    def __init__(self, prefix: str = "riffle") -> None:
        self.prefix = prefix
        self._data: dict[str, tuple[float, StoredVector]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def write_many(self, view: FeatureView, records: Iterable[FeatureRecord]) -> int:
        now = time.time()
        expires = now + view.ttl_seconds
        n = 0
        names = view.feature_names
        for r in records:
            # floats under the view's names, as RedisStore keeps them (float64s)
            try:
                values = dict(zip(names, map(float, r.values), strict=True))
            except ValueError:
                raise ValueError(
                    f"vector of {len(r.values)} values for view {view.qualified_name} of "
                    f"{len(names)} features"
                ) from None
            vec = StoredVector(values, r.ts, int(now * 1000))
            self._data[entity_key(self.prefix, view, r.entity)] = (expires, vec)
            n += 1
        return n

    async def read_many(
        self, view: FeatureView, entities: Sequence[str]
    ) -> list[StoredVector | None]:
        now = time.time()
        out: list[StoredVector | None] = []
        for e in entities:
            hit = self._data.get(entity_key(self.prefix, view, e))
            out.append(hit[1] if hit is not None and hit[0] > now else None)
        return out
