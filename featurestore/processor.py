"""The feature processor stage: raw events in, feature records and dead letters out."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from featurestore.event_columns import ColumnDecoder
from featurestore.exceptions import InvalidEventError
from featurestore.record import DeadLetter, FeatureRecord, Source
from featurestore.schema import EventSchema
from featurestore.view import FeatureView
from featurestore.view_state import ViewState

__all__ = ["FeatureBatch", "FeatureProcessor"]

# a source record's position: topic, partition, offset, Kafka timestamp
_POSITION = operator.attrgetter("topic", "partition", "offset", "timestamp")


@dataclass(slots=True)
class FeatureBatch:
    """What one batch produced: feature records in input order, dead letters, the latest
    vector per entity (what the online store must hold), and the highest event time seen."""

    features: list[FeatureRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    latest: dict[str, FeatureRecord] = field(default_factory=dict)
    max_ts: int = 0
    # the serving-only views' newest vectors: view name -> entity -> vector
    views: dict[str, dict[str, FeatureRecord]] = field(default_factory=dict)


class FeatureProcessor:
    """Validates events, updates per-entity windows and builds feature vectors.

    Pure: no I/O. Drivers (the embedded runner, the Kafka worker, batch scoring) feed it batches
    and ship its outputs. Its state is what a checkpoint must hold to resume exactly. The views'
    state lives in C when the native engine is available (``native``: see `Aggregator`), which
    folds a batch per call; the results and checkpoints are the same either way.

    >>> from featurestore.schema import EventSchema, FieldSpec
    >>> from featurestore.record import SourceRecord
    >>> schema = EventSchema(fields={"x": FieldSpec("float")})
    >>> proc = FeatureProcessor(schema, FeatureView("v", window="1m", fields=("x",)))
    >>> out = proc.process([
    ...     SourceRecord(b'{"id": "1", "entity": "a", "ts": 0, "x": 2.0, "label": 1}', offset=0),
    ...     SourceRecord(b'{"id": "2", "entity": "a", "ts": 5, "x": 4.0}', offset=1),
    ...     SourceRecord(b'{"id": "3", "ts": 5}', offset=2),
    ... ])
    >>> [(r.event_id, r.values) for r in out.features]
    [('1', [2.0, 1.0, 2.0, 2.0]), ('2', [4.0, 2.0, 3.0, 4.0])]
    >>> [(d.offset, d.reason) for d in out.dead]
    [(2, 'missing_field')]
    """

    def __init__(
        self,
        schema: EventSchema,
        view: FeatureView,
        extra_views: Sequence[FeatureView] = (),
        native: bool | None = None,
    ) -> None:
        names = [v.name for v in (view, *extra_views)]
        if len(set(names)) != len(names):
            raise ValueError(f"feature view names must be distinct, got {names}")
        self.schema = schema
        self._unpack = schema.unpacker()
        self.view = view
        self.names = view.feature_names
        self._primary = ViewState(schema, view, native)
        self._views = {view.name: self._primary}
        self._views.update((v.name, ViewState(schema, v, native)) for v in extra_views)
        # batches of well-formed events are decoded by C into columns (see `_process_columns`)
        self._decoder = (
            ColumnDecoder.for_schema(schema)
            if all(vs.columnar for vs in self._views.values())
            else None
        )
        self.n_processed = 0
        self.n_dead = 0

    @property
    def views(self) -> tuple[FeatureView, ...]:
        """The primary view (the model's input) first, then the serving-only views."""
        return tuple(vs.view for vs in self._views.values())

    def process(self, records: Sequence[Source]) -> FeatureBatch:
        if self._decoder is not None and records:
            fast = self._process_columns(records)
            if fast is not None:
                return fast
        out = FeatureBatch()
        unpack = self._unpack
        max_future = self.schema.max_future_ms
        primary = self._primary
        every = list(self._views.values())
        for vs in every:
            vs.begin()
        features, dead = out.features, out.dead
        deferred = primary.deferred
        # deferred (native engine): the primary view's events, built into records at the end
        queue: list[tuple[Source, str, int, int | None, str | None, str | None]] = []
        max_ts = n = 0
        for rec in records:
            try:
                event_id, entity, ts, fields, label = unpack(rec.value)
                if rec.timestamp > 0 and ts > rec.timestamp + max_future:
                    raise InvalidEventError(
                        "future_timestamp",
                        f"event time {ts} is more than {max_future} ms after it was "
                        f"produced ({rec.timestamp})",
                    )
                if rec.headers:
                    reply_to, correlation_id, only = _headers(rec.headers)
                    targets = every if only is None else self._targets(only)
                else:
                    reply_to = correlation_id = None
                    targets = every
                for vs in targets:  # all views take the event, or none does
                    vs.check(ts, fields)
            except InvalidEventError as exc:
                dead.append(
                    DeadLetter(
                        rec.value,
                        rec.key,
                        exc.reason,
                        str(exc),
                        rec.topic,
                        rec.partition,
                        rec.offset,
                    )
                )
                continue
            for vs in targets:
                if vs is not primary:
                    vs.fold(entity, ts, fields)
                    continue
                if deferred:
                    vs.add(entity, ts, fields)
                    queue.append((rec, event_id, ts, label, reply_to, correlation_id))
                    continue
                key, values, newest = vs.step(entity, ts, fields)
                (fr,) = self._records(
                    [rec], [event_id], [key], [ts], [values], [label], [reply_to], [correlation_id]
                )
                features.append(fr)
                vs.note(key, fr, newest)
            if ts > max_ts:
                max_ts = ts
            n += 1
        if queue:
            keys, vectors, flags = primary.results()
            sources, ids, times, labels, reply_tos, correlation_ids = zip(*queue, strict=True)
            built = self._records(
                sources, ids, keys, times, vectors, labels, reply_tos, correlation_ids
            )
            features += built
            primary.note_many(keys, built, flags)
        out.max_ts = max_ts
        self.n_processed += n
        self.n_dead += len(dead)
        return self._finish(out)

    def _process_columns(self, records: Sequence[Source]) -> FeatureBatch | None:
        """`process` of a batch the C decoder takes whole (no headers, no event the Python
        decoder would treat otherwise, none late): the same outputs, without a dict or a
        Python call per event until the records are built. None: use `process`."""
        assert self._decoder is not None
        if any(r.headers for r in records):
            return None
        cols = self._decoder.decode([r.value for r in records], [r.timestamp for r in records])
        every = list(self._views.values())
        if cols is None or not all(vs.in_time(cols.ts) for vs in every):
            return None
        for vs in every:
            vs.begin()
            vs.add_columns(cols)
        primary = self._primary
        keys, vectors, flags = primary.results()
        ts = cols.ts.tolist()
        none = itertools.repeat(None)
        features = self._records(records, cols.ids, keys, ts, vectors, cols.labels, none, none)
        primary.note_many(keys, features, flags)
        out = FeatureBatch(features=features, max_ts=max(ts))
        self.n_processed += len(features)
        return self._finish(out)

    def _finish(self, out: FeatureBatch) -> FeatureBatch:
        """End a batch: every view's newest vectors go into `out`."""
        out.latest = self._primary.finish()
        for vs in self._views.values():
            if vs is not self._primary:
                out.views[vs.view.name] = vs.finish()
        return out

    def _records(
        self,
        sources: Iterable[Source],
        ids: Iterable[str],
        keys: Iterable[str],
        times: Iterable[int],
        vectors: Iterable[list[float]],
        labels: Iterable[int | None],
        reply_tos: Iterable[str | None],
        correlation_ids: Iterable[str | None],
    ) -> list[FeatureRecord]:
        """The primary view's records of a batch, from its events' columns (built by `map`:
        no Python loop per record)."""
        view = self.view
        topics, partitions, offsets, produced = zip(*map(_POSITION, sources), strict=True)
        return list(
            map(
                FeatureRecord,
                ids,
                keys,
                times,
                vectors,
                labels,
                itertools.repeat(view.name),
                itertools.repeat(view.version),
                topics,
                partitions,
                offsets,
                reply_tos,
                correlation_ids,
                itertools.repeat(self.names),
                produced,
            )
        )

    def _targets(self, names: list[str]) -> list[ViewState]:
        unknown = [n for n in names if n not in self._views]
        if unknown:
            raise InvalidEventError(
                "unknown_view",
                f"event names views {unknown}; this stream has {list(self._views)}",
            )
        return [self._views[n] for n in dict.fromkeys(names)]

    @property
    def n_entities(self) -> int:
        """Entities whose state the primary view holds in memory."""
        return len(self._primary.aggregator)

    def aggregates(self, entity: str) -> list[float] | None:
        """The entity's aggregates as of its newest event, or None if it has no state."""
        current = self._primary.aggregator.current(entity)
        return None if current is None else current[2]

    def state_dict(self) -> dict[str, Any]:
        return {
            "aggregator": self._primary.state_dict(),
            "views": {
                n: vs.state_dict() for n, vs in self._views.items() if vs is not self._primary
            },
            "n_processed": self.n_processed,
            "n_dead": self.n_dead,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        extra = state.get("views", {})
        wanted = [n for n, vs in self._views.items() if vs is not self._primary]
        if sorted(extra) != sorted(wanted):
            raise ValueError(f"checkpoint holds views {sorted(extra)}, not {sorted(wanted)}")
        self._primary.load_state_dict(state["aggregator"])
        for n in wanted:
            self._views[n].load_state_dict(extra[n])
        self.n_processed = int(state["n_processed"])
        self.n_dead = int(state["n_dead"])


def _headers(
    headers: Sequence[tuple[str, bytes]],
) -> tuple[str | None, str | None, list[str] | None]:
    """reply-to, correlation-id and the views the event is for (``riffle-view``, a
    comma-separated list; None: every view of the stream)."""
    reply_to = correlation_id = None
    views: list[str] | None = None
    try:
        for k, v in headers:
            if v is None:  # Kafka allows null header values
                continue
            if k == "reply-to":
                reply_to = v.decode()
                if not _TOPIC.fullmatch(reply_to):
                    raise InvalidEventError("bad_header", f"reply-to {reply_to!r} is no topic name")
            elif k == "correlation-id":
                correlation_id = v.decode()
            elif k == "riffle-view":
                views = [n.strip() for n in v.decode().split(",") if n.strip()]
    except UnicodeDecodeError:
        raise InvalidEventError("bad_header", "a riffle header is not UTF-8") from None
    return reply_to, correlation_id, views


_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
