"""Online features: event validation, per-entity windowed aggregates, online stores."""

from __future__ import annotations

from featurestore.exceptions import FeatureStoreError, InvalidEventError, StoreUnavailableError
from featurestore.memory_store import InMemoryStore
from featurestore.processor import FeatureBatch, FeatureProcessor
from featurestore.record import DeadLetter, FeatureRecord, SourceRecord
from featurestore.redis_store import RedisStore
from featurestore.schema import Event, EventSchema, FieldSpec
from featurestore.store import OnlineStore, StoredVector
from featurestore.tumbling import TumblingAggregator
from featurestore.view import FeatureView

__all__ = [
    "DeadLetter",
    "Event",
    "EventSchema",
    "FeatureBatch",
    "FeatureProcessor",
    "FeatureRecord",
    "FeatureStoreError",
    "FeatureView",
    "FieldSpec",
    "InMemoryStore",
    "InvalidEventError",
    "OnlineStore",
    "RedisStore",
    "SourceRecord",
    "StoreUnavailableError",
    "StoredVector",
    "TumblingAggregator",
]
