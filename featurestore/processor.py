"""The feature processor stage: raw events in, feature records and dead letters out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from featurestore.aggregator import Aggregator
from featurestore.exceptions import InvalidEventError
from featurestore.record import DeadLetter, FeatureRecord, SourceRecord
from featurestore.schema import EventSchema
from featurestore.view import FeatureView

__all__ = ["FeatureBatch", "FeatureProcessor"]


@dataclass(slots=True)
class FeatureBatch:
    """What one batch produced: feature records in input order, dead letters, the latest
    vector per entity (what the online store must hold), and the highest event time seen."""

    features: list[FeatureRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    latest: dict[str, FeatureRecord] = field(default_factory=dict)
    max_ts: int = 0


class FeatureProcessor:
    """Validates events, updates per-entity windows and builds feature vectors.

    Pure: no I/O. Drivers (the embedded runner, the Kafka worker, batch scoring) feed it batches
    and ship its outputs. Its state is what a checkpoint must hold to resume exactly.

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

    def __init__(self, schema: EventSchema, view: FeatureView) -> None:
        missing = [f for f in view.input_fields if f not in schema.fields]
        if missing:
            raise ValueError(f"feature view {view.name!r} uses fields not in the schema: {missing}")
        self._aggregator = Aggregator(view)
        numeric = (*view.raw_fields, *self._aggregator.num_fields)
        bad = [
            f
            for f in numeric
            if schema.fields[f].type not in ("float", "int", "bool")
            or not schema.fields[f].required
        ]
        if bad:
            raise ValueError(f"feature view {view.name!r} needs required numeric fields: {bad}")
        if view.entity is not None and (
            view.entity not in schema.fields
            or schema.fields[view.entity].type not in ("str", "int")
            or not schema.fields[view.entity].required
        ):
            raise ValueError(f"view entity {view.entity!r} must be a required str or int field")
        optional = [f for f in view.input_fields if not schema.fields[f].required]
        if optional:
            raise ValueError(f"feature view {view.name!r} reads optional fields: {optional}")
        self.schema = schema
        self.view = view
        self.names = view.feature_names
        self._num_fields = self._aggregator.num_fields
        self._key_fields = self._aggregator.key_fields
        self._raw_fields = view.raw_fields
        self._hot_fields = tuple(t.inputs[0] for t in view.transforms if t.kind == "one_hot")
        self.n_processed = 0
        self.n_dead = 0
        stored = {n: i for i, n in enumerate(self.names[: len(view.raw_fields) + len(view.specs)])}
        self._transform_plan = [(t, [stored.get(i, i) for i in t.inputs]) for t in view.transforms]

    def process(self, records: Sequence[SourceRecord]) -> FeatureBatch:
        out = FeatureBatch()
        decode = self.schema.decode
        update = self._aggregator.update
        max_future = self.schema.max_future_ms
        hot = bool(self._hot_fields)
        transforms = bool(self.view.transforms)
        stale: set[str] = set()
        newest_ts = self._aggregator.newest_ts
        key_field = self.view.entity
        for rec in records:
            try:
                event = decode(rec.value)
                if rec.timestamp > 0 and event.ts > rec.timestamp + max_future:
                    raise InvalidEventError(
                        "future_timestamp",
                        f"event time {event.ts} is more than {max_future} ms after it was "
                        f"produced ({rec.timestamp})",
                    )
                reply_to, correlation_id = _reply_headers(rec.headers)
                fields = event.fields
                entity = event.entity if key_field is None else str(fields[key_field])
                raw = [float(fields[f]) for f in self._raw_fields]  # type: ignore[arg-type]
                aggregates = update(
                    entity,
                    event.ts,
                    [float(fields[f]) for f in self._num_fields],  # type: ignore[arg-type]
                    [fields[f] for f in self._key_fields],
                    raw + [fields[f] for f in self._hot_fields] if hot else raw,
                )
            except InvalidEventError as exc:
                out.dead.append(
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
            values = raw + aggregates
            if transforms:
                values += self._transform(values, fields)
            fr = FeatureRecord(
                event.id,
                entity,
                event.ts,
                values,
                event.label,
                self.view.name,
                self.view.version,
                rec.topic,
                rec.partition,
                rec.offset,
                reply_to,
                correlation_id,
                self.names,
                rec.timestamp,
            )
            out.features.append(fr)
            if event.ts > out.max_ts:
                out.max_ts = event.ts
            # the store holds each entity's newest vector; a late event changes it only
            # through its window, which `current` recomputes below
            if event.ts >= newest_ts(entity):
                out.latest[entity] = fr
                stale.discard(entity)
            else:
                stale.add(entity)
        for entity in stale:
            out.latest[entity] = self._current(entity)
        self.n_processed += len(out.features)
        self.n_dead += len(out.dead)
        self._aggregator.evict()
        return out

    def _transform(self, values: list[float], fields: Mapping[str, object]) -> list[float]:
        """Each transform reads a feature computed so far, else an event field."""
        outputs: list[float] = []
        for t, positions in self._transform_plan:
            args = [values[p] if isinstance(p, int) else fields[p] for p in positions]
            outputs += t.compute(args)
        return outputs

    def _current(self, entity: str) -> FeatureRecord:
        """The entity's newest vector with its aggregates as of now (late events folded in)."""
        current = self._aggregator.current(entity)
        assert current is not None
        ts, stored, aggregates = current
        raw = stored[: len(self._raw_fields)]
        values = raw + aggregates
        if self.view.transforms:
            hot = dict(zip(self._hot_fields, stored[len(self._raw_fields) :], strict=True))
            values += self._transform(values, hot)
        view = self.view
        return FeatureRecord(
            "", entity, ts, values, None, view.name, view.version, names=self.names
        )

    @property
    def n_entities(self) -> int:
        """Entities whose window is held in memory."""
        return len(self._aggregator)

    def aggregates(self, entity: str) -> list[float] | None:
        """The entity's aggregates as of its newest event, or None if it has no state."""
        current = self._aggregator.current(entity)
        return None if current is None else current[2]

    def state_dict(self) -> dict[str, Any]:
        return {
            "aggregator": self._aggregator.state_dict(),
            "n_processed": self.n_processed,
            "n_dead": self.n_dead,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._aggregator.load_state_dict(state["aggregator"])
        self.n_processed = int(state["n_processed"])
        self.n_dead = int(state["n_dead"])


def _reply_headers(headers: tuple[tuple[str, bytes], ...]) -> tuple[str | None, str | None]:
    reply_to = correlation_id = None
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
    except UnicodeDecodeError:
        raise InvalidEventError("bad_header", "reply-to / correlation-id is not UTF-8") from None
    return reply_to, correlation_id


_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
