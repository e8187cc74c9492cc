"""The model registry: signed, versioned online models with status, lineage and an audit log.

`Registry` holds the logic; it stores everything through a `RegistryBackend`: `MemoryBackend`
(tests), `DirectoryBackend` (the embedded mode) or `streams.registry_redis.RedisBackend` (the
workers' default). Artifacts are numpy arrays + a JSON header (`models.serialization`), signed
with HMAC-SHA256, never pickled.
"""

from __future__ import annotations

from models.registry.artifact import Artifact
from models.registry.audit_entry import ACTIONS, AuditEntry
from models.registry.backend import RegistryBackend
from models.registry.catalog import Catalog
from models.registry.diff import diff_versions
from models.registry.directory_backend import DirectoryBackend
from models.registry.exceptions import (
    InvalidTransitionError,
    MissingKeyError,
    RegistryError,
    TamperedArtifactError,
    UnknownModelError,
    UnknownVersionError,
    UnsignedArtifactError,
)
from models.registry.lineage import Lineage
from models.registry.memory_backend import MemoryBackend
from models.registry.model_version import STATUSES, ModelVersion
from models.registry.ref import check_name, parse_ref
from models.registry.registry import Registry

__all__ = [
    "ACTIONS",
    "STATUSES",
    "Artifact",
    "AuditEntry",
    "Catalog",
    "DirectoryBackend",
    "InvalidTransitionError",
    "Lineage",
    "MemoryBackend",
    "MissingKeyError",
    "ModelVersion",
    "Registry",
    "RegistryBackend",
    "RegistryError",
    "TamperedArtifactError",
    "UnknownModelError",
    "UnknownVersionError",
    "UnsignedArtifactError",
    "check_name",
    "diff_versions",
    "parse_ref",
]
