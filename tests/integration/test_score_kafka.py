"""Batch scoring a replay of the events topic with the registered version gives the streaming
predictions; the worker records its model in the registry."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from models.registry import TamperedArtifactError, UnknownVersionError
from streams.config import ModelConfig, parse_config
from streams.registry_redis import open_registry
from streams.score import read_topic, score
from streams.worker import Worker
from streams.workload import Workload
from tests.conftest import fresh_raw
from tests.integration.helpers import collect, publish

pytestmark = pytest.mark.integration

KEY = "integration-test-signing-key"


async def test_score_replays_the_stream_with_the_registered_version(
    services: tuple[str, str],
) -> None:
    kafka, redis = services
    raw = fresh_raw(partitions=1)
    prefix = f"riffle:test-registry:{uuid.uuid4().hex[:8]}"
    raw["registry"] = {"prefix": prefix}
    env = {"RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis, "RIFFLE_REGISTRY_KEY": KEY}
    cfg = parse_config(raw, env)
    stream = cfg.stream()
    wl = Workload(
        n_events=3_000, seed=17, inline_label_rate=0.8, delayed_label_rate=0.0, bad_rate=0.003
    )
    messages = list(wl.messages())
    worker = Worker(cfg)
    await worker.start()
    try:
        await worker.wait_ready()
        await publish(cfg, stream, messages)
        out = await collect(cfg, stream, expected=wl.n_events)
    finally:
        await worker.stop()
    live = out.unique_predictions()

    reg = open_registry(redis, key=KEY, prefix=prefix)
    try:
        name = stream.model.name
        (v1,) = reg.versions(name)
        assert (v1.version, v1.status, v1.parent) == (1, "champion", None)
        assert [e.action for e in reg.audit(name)] == ["register", "promote"]
        replay = await read_topic(cfg.kafka, stream)
        result = score(
            stream,
            replay,
            ModelConfig(**v1.config),
            reg.state(name, 1),
            version=f"{name}@1",
            lineage=v1.lineage.offsets,
        )
        assert result.n_dead == len([m for m in messages if m.kind == "event" and m.bad])
        assert {p.event_id for p in result.predictions} == set(live)
        for p in result.predictions:
            q = live[p.event_id]
            assert (p.model, p.prediction) == (q.model, q.prediction)
        np.testing.assert_allclose(
            [p.proba for p in result.predictions],
            [live[p.event_id].proba for p in result.predictions],
            rtol=0,
            atol=1e-12,
        )
        # a tampered artifact is refused; an unknown version is a clear error
        backend = reg.catalog.backend
        key = f"{name}:v1:artifact"
        data = bytearray(backend.get(key))  # type: ignore[arg-type]
        data[-1] ^= 1
        backend.put(key, bytes(data))
        with pytest.raises(TamperedArtifactError):
            reg.state(name, 1)
        with pytest.raises(UnknownVersionError, match="9"):
            reg.get(name, 9)
    finally:
        client = reg.catalog.backend.client  # type: ignore[attr-defined]
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        reg.catalog.backend.close()  # type: ignore[attr-defined]
