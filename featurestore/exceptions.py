"""Exceptions of the feature store."""

from __future__ import annotations

__all__ = [
    "FeatureStoreError",
    "InvalidEventError",
    "NativeUnavailableError",
    "StoreSchemaError",
    "StoreUnavailableError",
]


class FeatureStoreError(Exception):
    """Root of every error raised by `featurestore`."""

    retriable = False


class InvalidEventError(FeatureStoreError, ValueError):
    """A raw event cannot be decoded or does not satisfy the stream's schema.

    `reason` is a short machine-readable code (``malformed_json``, ``missing_field``, ...) and the
    message says which field and why; both travel to the dead-letter topic.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreUnavailableError(FeatureStoreError):
    """The online store did not answer; the batch can be retried."""

    retriable = True


class StoreSchemaError(FeatureStoreError):
    """A stored vector does not match the view definition reading it."""


class NativeUnavailableError(FeatureStoreError, RuntimeError):
    """Native code was required but is off (``RIFFLE_NO_NATIVE``) or cannot be built."""
