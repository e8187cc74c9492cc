"""Kafka binding of the feature processor: `<s>.events` → `<s>.features`, Redis, `<s>.dlq`."""

from __future__ import annotations

import itertools
import operator
import time
from collections import deque
from collections.abc import Awaitable, Iterable
from typing import Any

from aiokafka import TopicPartition

from featurestore import FeatureProcessor, FeatureRecord, OnlineStore, SourceRecord
from featurestore.record import Source
from featurestore.record_json import records_json
from streams.config import StreamConfig
from streams.metrics import METRICS
from streams.stage_loop import Batch, OutRecord, Record, StageLoop

__all__ = ["FRESHNESS_BUCKETS", "FeatureLoop", "source_record"]

FRESHNESS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 60000)


class FeatureLoop(StageLoop):
    stage = "features"
    per_partition = True

    def __init__(self, cfg: StreamConfig, store: OnlineStore, **kwargs: Any) -> None:
        super().__init__(cfg.name, [cfg.topics.events], dlq_topic=cfg.topics.dlq, **kwargs)
        self.cfg = cfg
        self.store = store
        self._procs: dict[int, FeatureProcessor] = {}
        # recent per-event freshness samples (ms), read by `riffle bench features`
        self.freshness: deque[float] = deque(maxlen=1_000_000)

    def _proc(self, partition: int) -> FeatureProcessor:
        proc = self._procs.get(partition)
        if proc is None:
            proc = self._procs[partition] = FeatureProcessor(
                self.cfg.schema, self.cfg.view, self.cfg.extra_views
            )
        return proc

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        futs: list[Awaitable[Any]] = []
        latest: dict[str, FeatureRecord] = {}
        out_topic = self.cfg.topics.features
        max_ts = 0
        event_ts: list[int] = []
        outgoing: list[OutRecord] = []
        extra: dict[str, dict[str, FeatureRecord]] = {}
        by_partition: dict[TopicPartition, list[Source]] = {}
        for tp, m in batch:  # consumer records go in as they are; a null value is an empty one
            by_partition.setdefault(tp, []).append(
                m if m.value is not None else source_record(tp, m)
            )
        for tp, recs in by_partition.items():
            out = self._proc(tp.partition).process(recs)
            outgoing.extend(_outgoing(out.features))
            futs.extend(await self.send_dead(out.dead))
            latest.update(out.latest)
            for name, vectors in out.views.items():
                extra.setdefault(name, {}).update(vectors)
            event_ts.extend(map(_TS, out.features))
            max_ts = max(max_ts, out.max_ts)
        futs.extend(await self.send_many(out_topic, outgoing))
        for view in self.cfg.extra_views:
            if extra.get(view.name):
                await self.store.write_many(view, extra[view.name].values())
        if latest:
            await self.store.write_many(self.cfg.view, latest.values())
            # freshness: event time → the event's vector written to the store, per event
            now = time.time() * 1000
            lags = [now - ts for ts in event_ts]
            self.freshness.extend(lags)
            METRICS.observe_many(
                "riffle_feature_freshness_ms", lags, FRESHNESS_BUCKETS, stream=self.stream
            )
            METRICS.set("riffle_feature_batch_freshness_ms", now - max_ts, stream=self.stream)
            METRICS.inc("riffle_feature_writes_total", len(latest), stream=self.stream)
        return futs

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        assert partition is not None
        return self._proc(partition).state_dict()

    def load_state_dict(self, partition: int | None, state: dict[str, Any] | None) -> None:
        assert partition is not None
        self._procs.pop(partition, None)
        if state is not None:
            self._proc(partition).load_state_dict(state)

    def drop_partition(self, partition: int) -> None:
        self._procs.pop(partition, None)

    def aggregates(self, entity: str) -> list[float] | None:
        for proc in self._procs.values():
            agg = proc.aggregates(entity)
            if agg is not None:
                return agg
        return None


def source_record(tp: TopicPartition, m: Record) -> SourceRecord:
    """A consumed event as the feature processor takes it, with its position."""
    return SourceRecord(
        m.value or b"", m.key, tp.topic, tp.partition, m.offset, m.timestamp, tuple(m.headers)
    )


def _outgoing(features: list[FeatureRecord]) -> Iterable[OutRecord]:
    """The features topic's records: keyed by entity, valued by the record's JSON, stamped
    with the source's Kafka timestamp (downstream stages merge partitions in the order the
    events were produced), with the reply headers of a request."""
    values = records_json(features)
    keys = map(str.encode, map(_ENTITY, features))
    stamps = [t or None for t in map(_SOURCE_TS, features)]
    if not any(map(_REPLY_TO, features)):  # the common case: no reply wanted
        return zip(keys, values, stamps, itertools.repeat([]), strict=False)
    headers = [
        [] if r.reply_to is None else _reply_headers(r.reply_to, r.correlation_id) for r in features
    ]
    return zip(keys, values, stamps, headers, strict=True)


_TS = operator.attrgetter("ts")
_ENTITY = operator.attrgetter("entity")
_SOURCE_TS = operator.attrgetter("source_ts")
_REPLY_TO = operator.attrgetter("reply_to")


def _reply_headers(reply_to: str, correlation_id: str | None) -> list[tuple[str, bytes]]:
    headers = [("reply-to", reply_to.encode())]
    if correlation_id is not None:
        headers.append(("correlation-id", correlation_id.encode()))
    return headers
