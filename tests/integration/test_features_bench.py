"""`riffle bench features`' worker flood on the real broker and Redis: it measures, and leaves
nothing behind, least of all in the key space of the views it copies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

from streams.config import RiffleConfig
from streams.feature_loop import FeatureLoop
from streams.features_bench import worker_flood
from tests.conftest import fresh_config

pytestmark = pytest.mark.integration


async def _keys(cfg: RiffleConfig, pattern: str) -> list[bytes]:
    client = aioredis.Redis.from_url(cfg.redis_url.get())
    try:
        return [k async for k in client.scan_iter(pattern, count=10_000)]
    finally:
        await client.aclose()


async def test_the_flood_measures_and_cleans_up(services: tuple[str, str]) -> None:
    cfg = fresh_config(services)
    stream = cfg.stream()
    assert stream.extra_views  # the demo stream serves another view: the bench must copy it
    admin = AIOKafkaAdminClient(**cfg.kafka.client_options())
    await admin.start()
    try:
        topics_before = set(await admin.list_topics())
        result = await worker_flood(cfg, stream, 3_000, 200)
        leftover = {t for t in await admin.list_topics() if t.startswith("bench")}
    finally:
        await admin.close()
    assert result["events_per_s"] > 0 and result["redis_writes_per_s"] > 0
    assert result["cpu_us_per_event"] > 0
    assert not leftover - topics_before  # its throwaway stream's topics are gone
    for view in (stream.view, *stream.extra_views):  # nothing written under the real views
        assert await _keys(cfg, f"riffle:{{*}}:{view.name}:v{view.version}") == []
    assert await _keys(cfg, "riffle:{*}:bench*") == []  # and its own vectors deleted


async def test_a_failing_stage_fails_the_flood_instead_of_hanging(
    services: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: FeatureLoop, batch: Any) -> list[Any]:
        raise TypeError("headers must be a list")

    monkeypatch.setattr(FeatureLoop, "handle", broken)
    cfg = fresh_config(services)
    with pytest.raises(RuntimeError, match="feature stage failed: TypeError") as info:
        await asyncio.wait_for(worker_flood(cfg, cfg.stream(), 500, 50), 120)
    assert isinstance(info.value.__cause__, TypeError)
    assert await _keys(cfg, "riffle:{*}:bench*") == []  # cleaned up all the same
