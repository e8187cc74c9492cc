"""The hot-path driver: aiokafka `getmany` batches into a pure stage, outputs acknowledged,
state checkpointed with the offsets it reflects, then offsets committed.

Chosen over faust's per-event Stream by measurement (see docs/ARCHITECTURE.md): on the same
feature stage and broker, `getmany` moved about 7x the events per second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from featurestore import DeadLetter
from streams.checkpoint import Checkpoint, CheckpointStore
from streams.config import KafkaConfig, RuntimeConfig
from streams.metrics import METRICS

__all__ = ["StageLoop"]

log = logging.getLogger("riffle.stage")

# upper bounds (seconds) of the per-batch handle-time histogram
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Batch: TypeAlias = list[tuple[TopicPartition, Record]]
# key, value, Kafka timestamp (ms), headers
OutRecord: TypeAlias = tuple[bytes, bytes, int | None, list[tuple[str, bytes]]]


def tp_key(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class StageLoop:
    """Base of the feature, learner and monitor loops.

    Subclasses implement `handle` (send outputs, return the send futures) and the state hooks.
    With `per_partition`, each input partition has its own state and checkpoint (the feature
    processor: entities are partitioned by key, so state moves with its partition on a
    rebalance); otherwise one state covers every assigned partition.

    With `align`, records of all input partitions are merged in timestamp order (the producer's
    send time, which every stage passes on as the Kafka timestamp of its outputs), waiting up to
    `runtime.max_idle_ms` for a partition that is behind, as Kafka Streams does. A stage whose
    state mixes partitions (the learner, the monitor) then sees the events in the order they
    were produced, not in whatever order the fetcher happened to drain the partitions.
    """

    stage = "stage"
    per_partition = False
    align = False

    def __init__(
        self,
        stream: str,
        topics: Sequence[str],
        kafka: KafkaConfig,
        runtime: RuntimeConfig,
        producer: AIOKafkaProducer,
        checkpoints: CheckpointStore,
        dlq_topic: str,
        group_id: str | None = None,
    ) -> None:
        self.stream = stream
        self.topics = list(topics)
        self.kafka = kafka
        self.runtime = runtime
        self.producer = producer
        self.checkpoints = checkpoints
        self.dlq_topic = dlq_topic
        self.group_id = group_id or f"riffle.{stream}.{self.stage}"
        self._consumer: AIOKafkaConsumer | None = None
        self._next: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self._placed: dict[str, dict[bytes | None, int]] = {}  # topic -> key -> partition
        # outputs sent and not yet known acknowledged: all of them are awaited before a
        # checkpoint, never per batch (waiting a broker round trip per batch stalls the loop)
        self._unacked: list[asyncio.Future[Any]] = []
        self._stopping = asyncio.Event()
        self._last_ckpt = time.monotonic()
        self._dirty = False
        self._buffers: dict[TopicPartition, deque[Record]] = {}
        self._empty_since: dict[TopicPartition, float] = {}
        # Partitions whose state and position are set up, with the next offset expected from
        # each: records fetched before `on_assigned` finished (or from a stale position) are
        # dropped, never processed against the wrong state.
        self._expected: dict[TopicPartition, int] = {}
        self._reseeks: dict[TopicPartition, int] = {}  # set up, nothing admitted yet: re-seeks
        self._failure: BaseException | None = None
        self._poisoned = False
        self.n_in = 0
        self.ready = asyncio.Event()
        # input topics read from their end, not their start, when no checkpoint covers them
        self.from_end: set[str] = set()

    # -- hooks for subclasses --------------------------------------------------------------

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        raise NotImplementedError

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, partition: int | None, state: dict[str, Any] | None) -> None:
        """Install checkpointed state, or fresh state when `state` is None."""
        raise NotImplementedError

    def drop_partition(self, partition: int) -> None:
        return None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        static: dict[str, Any] = {}
        if self.runtime.instance_id:
            # static membership: a restarted worker with the same id gets its partitions back
            # at once instead of after the dead one's session times out
            static["group_instance_id"] = f"{self.runtime.instance_id}.{self.stream}.{self.stage}"
        self._consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            **static,
            group_id=self.group_id,
            session_timeout_ms=self.runtime.session_timeout_ms,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.runtime.batch_timeout_ms,
            max_partition_fetch_bytes=4 << 20,
            client_id=f"riffle-{self.stream}-{self.stage}",
        )
        await self._consumer.start()
        self._consumer.subscribe(self.topics, listener=_Listener(self))

    async def run(self) -> None:
        consumer = self._require()
        timeout = self.runtime.batch_timeout_ms
        while not self._stopping.is_set():
            if self._failure is not None:
                raise self._failure
            fetched = await consumer.getmany(
                timeout_ms=timeout, max_records=self.runtime.batch_size
            )
            self._export_lag(consumer)
            fetched = await self._admit(fetched)
            if self.align:
                batch = self._merge(fetched)
            else:
                batch = [(tp, m) for tp, msgs in fetched.items() for m in msgs]
            if batch:
                async with self._lock:
                    await self._process(batch)
            if (
                self._dirty
                and time.monotonic() - self._last_ckpt >= self.runtime.checkpoint_interval_s
            ):
                async with self._lock:
                    await self.checkpoint(list(self._next))

    async def stop(self) -> None:
        self._stopping.set()
        if self._consumer is None:
            return
        try:
            async with self._lock:
                # a batch that failed half-way left state ahead of the offsets: never save that
                if self._dirty and not self._poisoned and self._failure is None:
                    await self.checkpoint(list(self._next))
        finally:  # a checkpoint that failed (an output never acknowledged) still stops
            await self._consumer.stop()
            self._consumer = None

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError(f"{self.stage} loop not started")
        return self._consumer

    # -- batches, checkpoints, rebalances ----------------------------------------------------

    async def _admit(
        self, fetched: dict[TopicPartition, list[Record]]
    ) -> dict[TopicPartition, list[Record]]:
        """Keep only records that continue each initialised partition where it stands."""
        admitted: dict[TopicPartition, list[Record]] = {}
        for tp, msgs in fetched.items():
            expected = self._expected.get(tp)
            if expected is None:
                continue  # not set up yet: `on_assigned` will seek it
            keep = [m for m in msgs if m.offset >= expected]
            if not keep:
                continue
            if keep[0].offset > expected and self._reseeks.get(tp) == 0:
                # the first records after an assignment must start where the state stands;
                # these came from another position (fetched before the seek). Seek once more;
                # a second gap is a real one (e.g. a transaction marker) and is accepted.
                self._reseeks[tp] = 1
                self._require().seek(tp, expected)
                continue
            self._reseeks.pop(tp, None)
            admitted[tp] = keep
            self._expected[tp] = keep[-1].offset + 1
        return admitted

    def _export_lag(self, consumer: AIOKafkaConsumer) -> None:
        """`riffle_consumer_lag` per input partition: the highwater the last fetch reported
        minus the next offset this stage will process (records fetched but still buffered
        count as lag)."""
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._next.get(tp, self._expected.get(tp))
            if high is None or position is None:
                continue
            METRICS.set(
                "riffle_consumer_lag",
                max(0, high - position),
                stream=self.stream,
                stage=self.stage,
                topic=tp.topic,
                partition=str(tp.partition),
            )

    async def _process(self, batch: Batch) -> None:
        t0 = time.perf_counter()
        self._poisoned = True  # until the offsets below catch up with the state
        futures = await self.handle(batch)
        self._unacked.extend(asyncio.ensure_future(f) for f in futures)
        self._check_acks()
        for tp, m in batch:
            self._next[tp] = m.offset + 1
        self._poisoned = False
        n = len(batch)
        self.n_in += n
        self._dirty = True
        METRICS.inc("riffle_records_in_total", n, stream=self.stream, stage=self.stage)
        seconds = time.perf_counter() - t0
        METRICS.inc("riffle_batch_seconds_total", seconds, stream=self.stream, stage=self.stage)
        METRICS.observe_many(
            "riffle_stage_batch_seconds",
            [seconds],
            BATCH_SECONDS_BUCKETS,
            stream=self.stream,
            stage=self.stage,
        )
        METRICS.inc("riffle_batches_total", 1, stream=self.stream, stage=self.stage)

    def _check_acks(self) -> None:
        """Forget acknowledged outputs; a send that failed fails the loop at once."""
        if len(self._unacked) < 64:
            return
        pending = []
        for f in self._unacked:
            if not f.done():
                pending.append(f)
            elif f.exception() is not None:
                self._failure = f.exception()
                raise f.exception()  # type: ignore[misc]
        self._unacked = pending

    async def _acked(self) -> None:
        """Wait until every output sent so far is acknowledged: only then may the offsets that
        produced them be checkpointed. A failed send fails the loop, which then never
        checkpoints over the lost outputs."""
        futures, self._unacked = self._unacked, []
        try:
            await asyncio.gather(*futures)
        except Exception as exc:
            self._failure = exc
            raise

    async def checkpoint(self, tps: Iterable[TopicPartition]) -> None:
        tps = [tp for tp in tps if tp in self._next]
        if not tps:
            return
        t0 = time.perf_counter()
        await self._acked()
        size = 0
        if self.per_partition:
            for tp in tps:
                ck = Checkpoint(self.state_dict(tp.partition), {tp_key(tp): self._next[tp]})
                size += await self.checkpoints.save(self._ckpt_name(tp.partition), ck)
        else:
            offsets = {tp_key(tp): off for tp, off in self._next.items()}
            size = await self.checkpoints.save(
                self._ckpt_name(None), Checkpoint(self.state_dict(None), offsets)
            )
        consumer = self._require()
        await consumer.commit({tp: self._next[tp] for tp in tps})
        self._last_ckpt = time.monotonic()
        self._dirty = False
        METRICS.set("riffle_checkpoint_bytes", size, stream=self.stream, stage=self.stage)
        METRICS.set(
            "riffle_checkpoint_seconds",
            time.perf_counter() - t0,
            stream=self.stream,
            stage=self.stage,
        )

    def _ckpt_name(self, partition: int | None) -> str:
        base = f"{self.stream}:{self.stage}"
        return base if partition is None else f"{base}:{partition}"

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        # aiokafka only logs a listener's exception; a failed load must stop the loop instead
        # of letting it process (and checkpoint over) the wrong state
        try:
            async with self._lock:
                await self._assign(assigned)
        except Exception as exc:
            log.exception("%s/%s could not set up %s", self.stream, self.stage, assigned)
            self._failure = exc

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        consumer = self._require()
        if self.per_partition:
            for tp in assigned:
                ck = await self.checkpoints.load(self._ckpt_name(tp.partition))
                self.load_state_dict(tp.partition, ck.state if ck else None)
                await self._seek(consumer, tp, ck.offsets.get(tp_key(tp)) if ck else None)
        else:
            ck = await self.checkpoints.load(self._ckpt_name(None))
            self.load_state_dict(None, ck.state if ck else None)
            self._next = {}
            for tp in assigned:
                await self._seek(consumer, tp, ck.offsets.get(tp_key(tp)) if ck else None)
        log.info("%s/%s assigned %s", self.stream, self.stage, sorted(map(tp_key, assigned)))
        self.ready.set()

    def _merge(self, fetched: dict[TopicPartition, list[Record]]) -> Batch:
        """Buffer what was fetched; release records in timestamp order across partitions.

        A partition whose buffer is empty holds the others back for up to `max_idle_ms` (its
        next records may be older than what the others hold), whether or not it looked caught
        up at its last fetch: upstream stages keep writing to it. Each partition has its own
        timer, reset when it gets data, so a quiet partition costs the wait once per quiet
        spell (Kafka Streams' `max.task.idle.ms`). With ``runtime.idle_wait = "lagging"``
        only partitions the last fetch found behind their high watermark hold the others
        back, as Kafka Streams does: a lone request on a quiet stream is answered without the
        wait, but records written upstream after the last fetch may be overtaken, so runs on
        a quiet stream are no longer reproducible record for record.
        """
        consumer = self._require()
        for tp, msgs in fetched.items():
            self._buffers.setdefault(tp, deque()).extend(msgs)
        now = time.monotonic()
        idle_s = self.runtime.max_idle_ms / 1000.0
        lagging_only = self.runtime.idle_wait == "lagging"
        empty_since = self._empty_since
        assigned = consumer.assignment()
        out: Batch = []
        limit = self.runtime.batch_size
        if not any(self._buffers.get(tp) for tp in assigned):
            # nothing to order: waiting starts only once some partition holds records
            empty_since.clear()
            return out
        while len(out) < limit:
            best: tuple[int, int, str, int, TopicPartition] | None = None
            blocked = False
            for tp in assigned:
                buf = self._buffers.get(tp)
                if buf:
                    empty_since.pop(tp, None)
                    # ties broken by topic and partition, never by set order (which varies
                    # between processes): a restarted stage merges exactly as before
                    key = (buf[0].timestamp, buf[0].offset, tp.topic, tp.partition, tp)
                    if best is None or key[:4] < best[:4]:
                        best = key
                elif now - empty_since.setdefault(tp, now) < idle_s and not (
                    lagging_only and self._caught_up(consumer, tp)
                ):
                    blocked = True
            if best is None or blocked:
                break
            tp = best[4]
            out.append((tp, self._buffers[tp].popleft()))
        # bound memory: stop fetching partitions that are far ahead of the others
        paused = consumer.paused()
        for tp, buf in self._buffers.items():
            if len(buf) > 4 * limit and tp not in paused:
                consumer.pause(tp)
            elif len(buf) <= limit and tp in paused:
                consumer.resume(tp)
        return out

    def _caught_up(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
        """Whether the last fetch said the partition had nothing more: then an empty buffer
        holds nothing back (Kafka Streams does the same), so an idle stream answers a lone
        request without waiting `max_idle_ms` for partitions that have nothing to say."""
        high = consumer.highwater(tp)
        expected = self._expected.get(tp)
        return high is not None and expected is not None and expected >= high

    async def _seek(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int | None
    ) -> None:
        self._buffers.pop(tp, None)
        self._empty_since.pop(tp, None)
        if tp in consumer.paused():
            consumer.resume(tp)
        # Without a checkpoint the state is fresh, so the input must be read from its start
        # for state and position to agree.
        if offset is None and tp.topic in self.from_end:
            # a shared control-plane topic: what it held before this stage existed is not
            # for this stage's state (old alerts of a reset stream)
            offset = (await consumer.end_offsets([tp]))[tp]
            self._next[tp] = offset
        elif offset is None:
            offset = (await consumer.beginning_offsets([tp]))[tp]
            self._next.pop(tp, None)
        else:
            self._next[tp] = offset
        consumer.seek(tp, offset)
        self._expected[tp] = offset
        self._reseeks[tp] = 0

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            if self._dirty and revoked and not self._poisoned and self._failure is None:
                await self.checkpoint(revoked if self.per_partition else list(self._next))
            for tp in revoked:
                METRICS.remove(
                    "riffle_consumer_lag",
                    stream=self.stream,
                    stage=self.stage,
                    topic=tp.topic,
                    partition=str(tp.partition),
                )
                self._next.pop(tp, None)
                self._buffers.pop(tp, None)
                self._expected.pop(tp, None)
                self._reseeks.pop(tp, None)
                if self.per_partition:
                    self.drop_partition(tp.partition)

    # -- helpers for subclasses -----------------------------------------------------------

    async def send_many(self, topic: str, records: Sequence[OutRecord]) -> list[Awaitable[Any]]:
        """Produce keyed records through whole batches per partition (the producer's default
        partitioner, so keys land where `send` would put them): per-record `send` costs ~20 µs
        of Python, which is most of a feature stage's budget."""
        if not records:
            return []
        parts = self._partitions.get(topic)
        if parts is None:
            parts = self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
        by_partition: dict[int, list[OutRecord]] = {}
        choose = self._partitioner
        placed = self._placed.setdefault(topic, {})  # murmur2 in Python costs ~5 µs a key
        for rec in records:
            key = rec[0]
            partition = placed.get(key)
            if partition is None:
                partition = choose(key, parts, parts)
                if key is not None and len(placed) < 1 << 18:
                    placed[key] = partition
            by_partition.setdefault(partition, []).append(rec)
        futs: list[Awaitable[Any]] = []
        for partition, recs in by_partition.items():
            batch = self.producer.create_batch()
            for key, value, ts, headers in recs:
                if batch.append(key=key, value=value, timestamp=ts, headers=headers) is None:
                    futs.append(await self.producer.send_batch(batch, topic, partition=partition))
                    batch = self.producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=ts, headers=headers) is None:
                        raise ValueError(f"a {len(value)}-byte record does not fit a batch")
            futs.append(await self.producer.send_batch(batch, topic, partition=partition))
        return futs

    async def send_dead(self, dead: Sequence[DeadLetter]) -> list[Awaitable[Any]]:
        futs = []
        for d in dead:
            futs.append(
                await self.producer.send(self.dlq_topic, d.value, key=d.key, headers=d.headers())
            )
            log.warning(
                "dead letter %s/%s %s:%d@%d %s: %s",
                self.stream,
                d.stage,
                d.topic,
                d.partition,
                d.offset,
                d.reason,
                d.message,
            )
        for d in dead:
            METRICS.inc(
                "riffle_dead_letters_total",
                1,
                stream=self.stream,
                stage=self.stage,
                reason=d.reason,
            )
        return futs


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base class
    def __init__(self, loop: StageLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.loop.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.loop.on_assigned(set(assigned))
