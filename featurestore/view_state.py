"""One feature view inside the processor: its aggregator, transforms and batch bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore.aggregator import Aggregator
from featurestore.event_columns import EventColumns
from featurestore.field_reader import FieldReader, Fields, Queued
from featurestore.record import FeatureRecord
from featurestore.schema import EventSchema
from featurestore.transform import Columns
from featurestore.view import FeatureView

__all__ = ["ViewState"]


class ViewState:
    """Folds validated events into one view's state and builds its vectors.

    With the Python engine each event is folded as it comes (`step`, `fold`); with the native
    engine (``deferred``) events queue (`add`, `fold`) and are folded a batch per call into C
    (`results`, `finish`), which gives the same vectors. Raises ValueError at construction
    when the view does not fit the schema.
    """

    def __init__(self, schema: EventSchema, view: FeatureView, native: bool | None = None) -> None:
        missing = [f for f in view.input_fields if f not in schema.fields]
        if missing:
            raise ValueError(f"feature view {view.name!r} uses fields not in the schema: {missing}")
        self.aggregator = Aggregator(view, native)
        self.deferred = self.aggregator.native
        numeric = (*view.raw_fields, *self.aggregator.num_fields)
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
        self.view = view
        self.names = view.feature_names
        self._read = FieldReader(
            schema, view, self.aggregator.num_fields, self.aggregator.key_fields
        )
        self._n_raw = len(view.raw_fields)
        # validated numbers below the aggregator's limit need no overflow check
        self._check_values = not schema.max_abs_value < Aggregator.LIMIT
        stored = {n: i for i, n in enumerate(self.names[: len(view.raw_fields) + len(view.specs)])}
        sources = [[stored.get(i, i) for i in t.inputs] for t in view.transforms]
        self._transforms = [t.bind(p) for t, p in zip(view.transforms, sources, strict=True)]
        self._transforms_many = [
            t.bind_many(p) for t, p in zip(view.transforms, sources, strict=True)
        ]
        # the event fields the transforms read (one-hot inputs, fields that are not features)
        self._event_inputs = tuple(dict.fromkeys(p for ps in sources for p in ps if type(p) is str))
        # a batch of columns (`add_columns`) needs no per-event check when values are in range
        self.columnar = self.deferred and not self._check_values
        self.begin()

    def begin(self) -> None:
        """Start a batch: forget the previous batch's newest vectors."""
        self.latest: dict[str, FeatureRecord] = {}
        self._stale: set[str] = set()
        self._touched: dict[str, None] = {}  # `fold`ed entities, in order
        self._events: list[Queued] = []  # deferred events
        self._columns: EventColumns | None = None  # or a batch of them, decoded into columns

    def check(self, ts: int, fields: Fields) -> None:
        """Raise `InvalidEventError` if the view would refuse the event (changes nothing)."""
        agg = self.aggregator
        if ts < agg.watermark - agg.lateness or self._check_values:
            agg.check(ts, self._read.one("", fields)[3])

    def step(self, entity: str, ts: int, fields: Fields) -> tuple[str, list[float], bool]:
        """Fold a checked event in; return its entity (under the view's key), its vector, and
        whether it is the entity's newest event."""
        key, raw, kept, nums, hashes = self._read.one(entity, fields)
        aggregates, newest = self.aggregator.step(key, ts, nums, hashes, kept)
        values = raw + aggregates
        for t in self._transforms:
            values += t(values, fields)
        return key, values, newest

    def add(self, entity: str, ts: int, fields: Fields) -> None:
        """Queue a checked event (deferred mode): `results` folds the queue in one call."""
        self._events.append((entity, ts, fields))
        agg = self.aggregator
        if ts > agg.watermark:  # the next events are checked against it
            agg.watermark = ts

    def in_time(self, ts: np.ndarray[Any, np.dtype[np.int64]]) -> bool:
        """Whether `check` would pass every event of a batch with these times, folded in order
        (the watermark moving as they come)."""
        agg = self.aggregator
        before = np.maximum.accumulate(np.concatenate(([agg.watermark], ts[:-1])))
        return not bool(np.any(ts < before - agg.lateness))

    def add_columns(self, cols: EventColumns) -> None:
        """Queue a batch of events decoded into columns, all checked (`in_time`): `results`
        or `finish` fold them as they would the same events `add`ed one by one."""
        assert self.columnar and not self._events and self._columns is None
        self._columns = cols
        if len(cols):
            self.aggregator.watermark = max(self.aggregator.watermark, int(cols.ts.max()))

    def _queued(
        self,
    ) -> tuple[
        tuple[list[str], list[int], list[float], list[int], list[Sequence[Any]], list[float]],
        Columns,
    ]:
        """The queued events as the engine takes them, and the fields the transforms read, as
        columns."""
        cols, self._columns = self._columns, None
        names = self._event_inputs
        if cols is None:
            events, self._events = self._events, []
            fields = {n: [e[2][n] for e in events] for n in names}
            return self._read.many(events), fields
        return self._read.columns(cols), {n: cols.column(n) for n in names}

    def results(self) -> tuple[list[str], list[list[float]], Sequence[int]]:
        """Fold the queued events; return their entities, vectors and whether each is its
        entity's newest event, in order."""
        (entities, times, nums, hashes, kept, raw), fields = self._queued()
        aggregates, newest = self.aggregator.run(entities, times, nums, hashes, kept, True)
        assert aggregates is not None
        if self._n_raw:  # passthrough values, then aggregates: one matrix, one list per event
            matrix = np.empty((len(entities), self._n_raw + aggregates.shape[1]))
            matrix[:, : self._n_raw] = np.asarray(raw, dtype=np.float64).reshape(-1, self._n_raw)
            matrix[:, self._n_raw :] = aggregates
            aggregates = matrix
        vectors: list[list[float]] = aggregates.tolist()
        if self._transforms:
            for t in self._transforms_many:
                t(vectors, fields)
        return entities, vectors, newest

    def note_many(
        self, entities: Sequence[str], records: Sequence[FeatureRecord], newest: Sequence[int]
    ) -> None:
        """`note` of a batch, in order."""
        latest, stale = self.latest, self._stale
        for entity, record, new in zip(entities, records, newest, strict=True):
            if new:
                latest[entity] = record
                stale.discard(entity)
            else:
                stale.add(entity)

    def fold(self, entity: str, ts: int, fields: Fields) -> None:
        """Fold a checked event in without its vector (queued in deferred mode): `finish`
        builds the newest vector of each entity the batch touched, which is what the store
        gets of a serving-only view."""
        if self.deferred:
            self.add(entity, ts, fields)
            return
        key, _, kept, nums, hashes = self._read.one(entity, fields)
        self.aggregator.fold(key, ts, nums, hashes, kept)
        self._touched[key] = None

    def note(self, entity: str, record: FeatureRecord, newest: bool | int) -> None:
        """Track what the store must hold: the entity's newest vector, or a recomputation at
        `finish` if a late event changed its window."""
        if newest:
            self.latest[entity] = record
            self._stale.discard(entity)
        else:
            self._stale.add(entity)

    def finish(self) -> dict[str, FeatureRecord]:
        """End a batch: the newest vector of every entity it touched; evict old state."""
        if self._events or self._columns is not None:
            (entities, times, nums, hashes, kept, _), _ = self._queued()
            self.aggregator.run(entities, times, nums, hashes, kept, False)
            self._touched.update(dict.fromkeys(entities))
        wanted = [*self._stale, *self._touched]
        for entity, record in zip(wanted, self.current_many(wanted), strict=True):
            self.latest[entity] = record
        self.aggregator.evict()
        return self.latest

    def current_many(self, entities: Sequence[str]) -> list[FeatureRecord]:
        """The entities' newest vectors with their aggregates as of now (late events folded
        in): what the store must hold."""
        out = []
        view = self.view
        for entity, current in zip(entities, self.aggregator.current_many(entities), strict=True):
            ts, stored, aggregates = current
            values = list(stored[: self._n_raw]) + aggregates
            if self._transforms:
                hot = dict(zip(self._read.hot, stored[self._n_raw :], strict=True))
                for t in self._transforms:
                    values += t(values, hot)
            out.append(
                FeatureRecord(
                    "", entity, ts, values, None, view.name, view.version, names=self.names
                )
            )
        return out

    def state_dict(self) -> dict[str, Any]:
        return self.aggregator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.aggregator.load_state_dict(state)
