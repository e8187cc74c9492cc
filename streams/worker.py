"""A worker: the feature, learner and monitor loops of one or more streams in one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from featurestore import RedisStore
from streams.checkpoint import RedisCheckpoints
from streams.config import RiffleConfig
from streams.feature_loop import FeatureLoop
from streams.learner_loop import LearnerLoop
from streams.monitor_loop import MonitorLoop
from streams.registry_sync import RegistrySync
from streams.stage_loop import StageLoop
from streams.topics import ensure_topics

__all__ = ["STAGES", "Worker"]

STAGES = ("features", "learner", "monitor")
log = logging.getLogger("riffle.worker")


class Worker:
    """Runs the chosen stages of the chosen streams against Kafka and Redis.

    `riffle worker` hosts it in a faust app (lifecycle, web views, control-plane agent); tests
    and the benchmark run it directly inside their own event loop.
    """

    def __init__(
        self,
        cfg: RiffleConfig,
        streams: Sequence[str] | None = None,
        stages: Sequence[str] = STAGES,
    ) -> None:
        unknown = set(stages) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; known: {STAGES}")
        self.cfg = cfg
        self.stream_cfgs = [cfg.stream(s) for s in (streams or list(cfg.streams))]
        self.stages = tuple(stages)
        self.loops: list[StageLoop] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._producer: AIOKafkaProducer | None = None
        self._store: RedisStore | None = None
        self._redis: aioredis.Redis | None = None

    async def start(self) -> None:
        cfg = self.cfg
        await ensure_topics(cfg.kafka, self.stream_cfgs)
        store = RedisStore(cfg.redis_url.get())
        await store.start()
        self._store = store  # serving reads through it from here on, not before it is connected
        self._redis = store.client
        checkpoints = RedisCheckpoints(self._redis)
        self._producer = AIOKafkaProducer(
            **cfg.kafka.client_options(),
            acks="all",
            linger_ms=2,
            max_batch_size=512 * 1024,
            client_id="riffle-worker",
        )
        await self._producer.start()
        common = {
            "kafka": cfg.kafka,
            "runtime": cfg.runtime,
            "producer": self._producer,
            "checkpoints": checkpoints,
        }
        for s in self.stream_cfgs:
            if "features" in self.stages:
                self.loops.append(FeatureLoop(s, self._store, **common))
            if "learner" in self.stages:
                registry = RegistrySync.from_config(self.cfg, s)
                self.loops.append(LearnerLoop(s, registry, **common))
            if "monitor" in self.stages:
                self.loops.append(MonitorLoop(s, **common))
        for loop in self.loops:
            await loop.start()
            self._tasks.append(asyncio.create_task(loop.run(), name=f"{loop.stream}.{loop.stage}"))
        log.info("worker running %s for %s", self.stages, [s.name for s in self.stream_cfgs])

    @property
    def store(self) -> RedisStore | None:
        """The worker's online store once started (serving reads through it)."""
        return self._store

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every loop has its partitions (useful before publishing in tests)."""
        await asyncio.wait_for(asyncio.gather(*(lp.ready.wait() for lp in self.loops)), timeout)

    async def run(self) -> None:
        """Run until a loop fails (its error propagates) or the worker is stopped."""
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]

    async def stop(self) -> None:
        for loop in self.loops:
            loop._stopping.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for t in self._tasks:
            t.cancel()
        for loop in self.loops:
            try:
                await loop.stop()
            except Exception:  # a failed loop must not keep the others from checkpointing
                log.exception("stopping %s/%s failed", loop.stream, loop.stage)
        if self._producer is not None:
            await self._producer.stop()
        store, self._store = self._store, None  # serving answers 503 from here on
        if store is not None:
            await store.stop()
        self.loops.clear()
        self._tasks.clear()
