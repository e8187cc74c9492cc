"""Online features: event validation, per-entity windowed aggregates, online stores."""

from __future__ import annotations

from featurestore.aggregation import Aggregation
from featurestore.aggregator import Aggregator
from featurestore.client import (
    AsyncFeatureClient,
    FeatureClient,
    FeatureServingError,
    FeatureVector,
)
from featurestore.exceptions import (
    FeatureStoreError,
    InvalidEventError,
    NativeUnavailableError,
    StoreUnavailableError,
)
from featurestore.memory_store import InMemoryStore
from featurestore.processor import FeatureBatch, FeatureProcessor
from featurestore.record import DeadLetter, FeatureRecord, SourceRecord
from featurestore.redis_store import RedisStore
from featurestore.schema import Event, EventSchema, FieldSpec
from featurestore.serving import (
    BatchTooLargeError,
    FeatureServer,
    InvalidRequestError,
    UnknownViewError,
)
from featurestore.store import OnlineStore, StoredVector
from featurestore.transform import Transform
from featurestore.view import FeatureView
from featurestore.window import Window

__all__ = [
    "Aggregation",
    "Aggregator",
    "AsyncFeatureClient",
    "BatchTooLargeError",
    "DeadLetter",
    "Event",
    "EventSchema",
    "FeatureBatch",
    "FeatureClient",
    "FeatureProcessor",
    "FeatureRecord",
    "FeatureServer",
    "FeatureServingError",
    "FeatureStoreError",
    "FeatureVector",
    "FeatureView",
    "FieldSpec",
    "InMemoryStore",
    "InvalidEventError",
    "InvalidRequestError",
    "NativeUnavailableError",
    "OnlineStore",
    "RedisStore",
    "SourceRecord",
    "StoreUnavailableError",
    "StoredVector",
    "Transform",
    "UnknownViewError",
    "Window",
]
