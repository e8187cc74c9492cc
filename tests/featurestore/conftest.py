"""Fixtures of the feature-store tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from featurestore import RedisStore


@pytest.fixture
async def redis_store(services: tuple[str, str]) -> AsyncIterator[RedisStore]:
    """A started RedisStore on the real Redis under a prefix of its own, its keys deleted after."""
    store = RedisStore(services[1], prefix=f"riffle-test-{uuid.uuid4().hex}")
    await store.start()
    try:
        yield store
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"{store.prefix}:*")]
        if keys:
            await store.client.delete(*keys)
        await store.stop()
