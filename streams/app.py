"""The faust app that `riffle worker` runs.

faust owns the worker's lifecycle (signals, graceful shutdown), its web server (`/metrics`,
`/health`, `/features/<view>/<entity>`; `riffle serve` serves the features alone, off the
stages' event loop) and the control-plane agent on `riffle.alerts`. The hot
path runs as a faust service whose stage loops read with aiokafka `getmany` (see
`streams.stage_loop` for why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import faust
import orjson
from mode import Service

from featurestore import (
    FeatureRecord,
    FeatureServer,
    FeatureView,
    RedisStore,
    StoredVector,
    StoreUnavailableError,
)
from featurestore.answers import VectorBlock
from streams.config import RiffleConfig
from streams.feature_routes import add_feature_routes
from streams.metrics import METRICS
from streams.worker import STAGES, Worker

__all__ = ["create_app"]

log = logging.getLogger("riffle.app")


def create_app(
    cfg: RiffleConfig, streams: Sequence[str] | None = None, stages: Sequence[str] = STAGES
) -> faust.App:
    names = list(streams or cfg.streams)
    app = faust.App(
        "riffle",
        broker=f"kafka://{cfg.kafka.bootstrap_servers}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        web_port=cfg.runtime.web_port,
        web_host=cfg.runtime.web_host,
        topic_allow_declare=True,
        consumer_auto_offset_reset="latest",
    )
    worker = Worker(cfg, names, stages)

    @app.service
    class RiffleStages(Service):
        async def on_start(self) -> None:
            loop = type(asyncio.get_running_loop())
            log.info("event loop: %s.%s", loop.__module__, loop.__qualname__)
            await worker.start()
            self.add_future(worker.run())

        async def on_stop(self) -> None:
            await worker.stop()

    alerts = app.topic(cfg.stream(names[0]).topics.alerts, value_serializer="raw")

    @app.agent(alerts)
    async def control_plane(stream: Any) -> None:
        # Low-volume control topic, so faust's per-event stream is the right tool here.
        async for value in stream:
            try:
                alert = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if alert.get("stream") in names:
                METRICS.inc(
                    "riffle_control_alerts_seen_total",
                    1,
                    stream=alert["stream"],
                    kind=str(alert.get("kind")),
                )
                log.info(
                    "alert %s %s on %s: %s",
                    alert.get("kind"),
                    alert.get("detector"),
                    alert.get("stream"),
                    alert.get("subject"),
                )

    @app.page("/metrics")
    async def metrics(self: Any, request: Any) -> Any:
        return self.text(METRICS.render() + "\n", content_type="text/plain; version=0.0.4")

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        loops = {f"{lp.stream}/{lp.stage}": lp.ready.is_set() for lp in worker.loops}
        ok = bool(loops) and all(loops.values())
        return self.json({"ok": ok, "loops": loops}, status=200 if ok else 503)

    server = FeatureServer(
        _WorkerStore(worker), {v.name: v for s in worker.stream_cfgs for v in s.views}
    )

    # plain aiohttp handlers on faust's web app: faust's View dispatch costs more than a
    # vector read, and these routes are the serving hot path
    add_feature_routes(app.web.web_app.router, server)  # type: ignore[attr-defined]
    return app


class _WorkerStore:
    """Serving reads through the worker's own `RedisStore` (one connection pool per process),
    which exists once the worker has started."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def start(self) -> None:
        return None  # the worker starts and stops its store

    async def stop(self) -> None:
        return None

    async def write_many(self, view: FeatureView, records: Iterable[FeatureRecord]) -> int:
        raise NotImplementedError("the serving layer only reads")

    async def read_many(
        self, view: FeatureView, entities: Sequence[str]
    ) -> list[StoredVector | None]:
        return await self._store().read_many(view, entities)

    async def read_block(self, view: FeatureView, entities: Sequence[str]) -> VectorBlock:
        return await self._store().read_block(view, entities)

    def _store(self) -> RedisStore:
        store = self._worker.store
        if store is None:
            raise StoreUnavailableError("the worker has not connected to Redis yet")
        return store
