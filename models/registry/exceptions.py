"""Exceptions of the model registry; `RegistryError` is their root, under `ModelError`."""

from __future__ import annotations

from collections.abc import Iterable

from models.exceptions import ModelError

__all__ = [
    "InvalidTransitionError",
    "MissingKeyError",
    "RegistryError",
    "TamperedArtifactError",
    "UnknownModelError",
    "UnknownVersionError",
    "UnsignedArtifactError",
]


class RegistryError(ModelError):
    """Root of every error raised by `models.registry`."""


class UnknownModelError(RegistryError, LookupError):
    """No model of that name is registered; the message lists the names that are.

    >>> str(UnknownModelError("fraud", ["churn", "spam"]))
    "unknown model 'fraud'; registered: churn, spam"
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        have = ", ".join(self.known) if self.known else "none"
        super().__init__(f"unknown model {name!r}; registered: {have}")


class UnknownVersionError(RegistryError, LookupError):
    """The model has no such version (or no champion); the message lists the versions it has.

    >>> str(UnknownVersionError("fraud", 7, [1, 2, 3]))
    'fraud has no version 7; versions: 1, 2, 3'
    """

    def __init__(self, name: str, version: int | str, existing: Iterable[int]) -> None:
        self.name = name
        self.version = version
        self.existing = sorted(existing)
        have = ", ".join(map(str, self.existing)) if self.existing else "none"
        what = "no champion" if version == "champion" else f"no version {version}"
        super().__init__(f"{name} has {what}; versions: {have}")


class TamperedArtifactError(RegistryError):
    """An artifact's signature does not match its bytes (modified, truncated, or signed with
    another key), or the bytes are not a model artifact at all."""


class UnsignedArtifactError(RegistryError):
    """An artifact carries no signature; the registry loads only signed artifacts."""


class MissingKeyError(RegistryError):
    """The registry has no signing key, so it can neither sign nor verify an artifact."""


class InvalidTransitionError(RegistryError, ValueError):
    """A status change the rules forbid: promoting the champion again, demoting the champion
    other than by promoting another version or rolling back, rolling back with no previous
    champion."""
