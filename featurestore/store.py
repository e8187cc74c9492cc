"""The online store interface: the latest feature vector per entity and view version."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from featurestore.record import FeatureRecord
from featurestore.view import FeatureView

__all__ = ["OnlineStore", "StoredVector", "entity_key"]


@dataclass(frozen=True, slots=True)
class StoredVector:
    """A served feature vector: values by name, the event time they reflect and when written."""

    values: dict[str, float]
    event_ts: int
    written_at: int


def entity_key(prefix: str, view: FeatureView, entity: str) -> str:
    """One key per entity and view version; the hash tag keeps an entity's views on one Redis
    Cluster slot."""
    return f"{prefix}:{{{entity}}}:{view.name}:v{view.version}"


class OnlineStore(Protocol):
    """What the processors and the serving layer need of an online store."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def write_many(self, view: FeatureView, records: Iterable[FeatureRecord]) -> int:
        """Write each record's vector under its entity (one round trip); return how many."""
        ...

    async def read_many(
        self, view: FeatureView, entities: Sequence[str]
    ) -> list[StoredVector | None]: ...
