"""On the real broker: a concept shift raises a drift alert, the learner starts a challenger
from it, the gate promotes it, and the registry's audit log shows the promotion."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from streams.config import parse_config
from streams.registry_redis import open_registry
from streams.worker import Worker
from streams.workload import Workload
from tests.conftest import fresh_raw
from tests.integration.helpers import Outputs, collect, publish

pytestmark = pytest.mark.integration

KEY = "integration-test-signing-key"
N, SHIFT = 9_000, 4_500


def _promoted(out: Outputs) -> bool:
    return any(
        a.detector == "deployment" and a.details.get("action") == "promote" for a in out.alerts
    )


async def test_drift_started_challenger_is_promoted_and_audited(
    services: tuple[str, str],
) -> None:
    kafka, redis = services
    raw = fresh_raw(
        partitions=1,
        model={"lr": 0.005},
        deployment={
            "drift_challenger": True,
            "drift_challenger_model": {"lr": 0.05},
            "promotion_window": 300,
            "promotion_min_samples": 100,
        },
    )
    prefix = f"riffle:test-registry:{uuid.uuid4().hex[:8]}"
    raw["registry"] = {"prefix": prefix}
    env = {"RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis, "RIFFLE_REGISTRY_KEY": KEY}
    cfg = parse_config(raw, env)
    stream = cfg.stream()
    wl = Workload(n_events=N, shift_at=SHIFT, seed=101)
    messages = list(wl.messages())
    worker = Worker(cfg)
    await worker.start()
    try:
        await worker.wait_ready()
        # paced like a live stream: the learner merges the monitor's alerts with the features
        # by producer timestamp, so a flood published in a second would put the drift alert
        # after every event of it
        for i in range(0, len(messages), 200):
            await publish(cfg, stream, messages[i : i + 200])
            await asyncio.sleep(0.25)
        out = await collect(cfg, stream, expected=N, timeout_s=120, until=_promoted)
    finally:
        await worker.stop()

    life = [a for a in out.alerts if a.detector == "deployment"]
    starts = [a.details for a in life if a.details["action"] == "start"]
    promotes = [a.details for a in life if a.details["action"] == "promote"]
    assert starts and promotes, [a.details for a in life]
    start, promote = starts[-1], promotes[0]
    assert start["reason"].startswith("drift alert ") and start["parent"] == "payments-lr@1"
    assert promote["model"] == start["model"] and promote["from"] == "payments-lr@1"
    assert promote["decision"]["p_value"] < 0.01
    shift_ts = wl.start_ts + SHIFT * wl.mean_gap_ms
    assert 0 < (promote["ts"] - shift_ts) / wl.mean_gap_ms < 2_000  # events after the shift
    # predictions switch to the promoted model
    preds = sorted(out.unique_predictions().values(), key=lambda p: p.ts)
    assert preds[-1].model == promote["model"]

    reg = open_registry(redis, key=KEY, prefix=prefix)
    try:
        name = stream.model.name
        audit = [(e.action, e.version, e.actor) for e in reg.audit(name)]
        # v1 deployed, the drift challenger registered, then its snapshot promoted
        assert audit[:2] == [("register", 1, "riffle"), ("promote", 1, "riffle")]
        assert ("register", 2, "drift") in audit
        promoted = [v for a, v, _ in audit if a == "promote" and v != 1]
        assert promoted, audit
        champion = reg.get(name)
        assert champion.version == promoted[-1] and champion.parent == 2
        assert champion.config["lr"] == 0.05
        assert champion.lineage.samples > 0 and champion.lineage.offsets
    finally:
        client = reg.catalog.backend.client  # type: ignore[attr-defined]
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        reg.catalog.backend.close()  # type: ignore[attr-defined]
