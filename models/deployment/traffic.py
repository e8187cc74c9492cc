"""Stable traffic splits: which entities a challenger serves in an A/B test."""

from __future__ import annotations

from models.preprocessing.feature_hasher import murmurhash3_32

__all__ = ["entity_bucket"]

_SEED = 0x5EED


def entity_bucket(entity: str) -> float:
    """The entity's place in [0, 1): the same on every worker, process and run (MurmurHash3,
    not Python's salted `hash`), so an entity always sees the same model of an A/B split.

    >>> entity_bucket("acct-1") == entity_bucket("acct-1"), 0.0 <= entity_bucket("x") < 1.0
    (True, True)
    """
    return (murmurhash3_32(entity.encode("utf-8"), _SEED) & 0xFFFFFFFF) / 2**32
