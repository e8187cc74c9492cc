"""One feature view inside the processor: its aggregator, transforms and batch bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from featurestore.aggregator import Aggregator
from featurestore.record import FeatureRecord
from featurestore.schema import Event, EventSchema
from featurestore.view import FeatureView

__all__ = ["ViewState"]


class ViewState:
    """Folds validated events into one view's state and builds its vectors.

    Raises ValueError at construction when the view does not fit the schema.
    """

    def __init__(self, schema: EventSchema, view: FeatureView) -> None:
        missing = [f for f in view.input_fields if f not in schema.fields]
        if missing:
            raise ValueError(f"feature view {view.name!r} uses fields not in the schema: {missing}")
        self.aggregator = Aggregator(view)
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
        self._num_fields = self.aggregator.num_fields
        self._key_fields = self.aggregator.key_fields
        self._raw_fields = view.raw_fields
        self._hot_fields = tuple(t.inputs[0] for t in view.transforms if t.kind == "one_hot")
        stored = {n: i for i, n in enumerate(self.names[: len(view.raw_fields) + len(view.specs)])}
        self._transform_plan = [(t, [stored.get(i, i) for i in t.inputs]) for t in view.transforms]
        self.begin()

    def begin(self) -> None:
        """Start a batch: forget the previous batch's newest vectors."""
        self.latest: dict[str, FeatureRecord] = {}
        self._stale: set[str] = set()

    def entity(self, event: Event) -> str:
        key = self.view.entity
        return event.entity if key is None else str(event.fields[key])

    def check(self, event: Event) -> None:
        """Raise `InvalidEventError` if the view would refuse the event (changes nothing)."""
        fields = event.fields
        self.aggregator.check(event.ts, [float(fields[f]) for f in self._num_fields])  # type: ignore[arg-type]

    def fold(self, event: Event) -> tuple[str, list[float]]:
        """Fold a checked event in; return its entity and vector."""
        fields = event.fields
        entity = self.entity(event)
        raw = [float(fields[f]) for f in self._raw_fields]  # type: ignore[arg-type]
        kept = raw + [fields[f] for f in self._hot_fields] if self._hot_fields else raw
        values = raw + self.aggregator.update(
            entity,
            event.ts,
            [float(fields[f]) for f in self._num_fields],  # type: ignore[arg-type]
            [fields[f] for f in self._key_fields],
            kept,
        )
        if self._transform_plan:
            values += self._transform(values, fields)
        return entity, values

    def note(self, entity: str, ts: int, record: FeatureRecord | None) -> None:
        """Track what the store must hold: the entity's newest vector, or a recomputation if a
        late event changed its window (`record` None: build it at `finish`)."""
        if record is not None and ts >= self.aggregator.newest_ts(entity):
            self.latest[entity] = record
            self._stale.discard(entity)
        else:
            self._stale.add(entity)

    def finish(self) -> dict[str, FeatureRecord]:
        """End a batch: the newest vector of every entity it touched; evict old state."""
        for entity in self._stale:
            self.latest[entity] = self.current(entity)
        self.aggregator.evict()
        return self.latest

    def _transform(self, values: list[float], fields: Mapping[str, object]) -> list[float]:
        """Each transform reads a feature computed so far, else an event field."""
        outputs: list[float] = []
        for t, positions in self._transform_plan:
            args = [values[p] if isinstance(p, int) else fields[p] for p in positions]
            outputs += t.compute(args)
        return outputs

    def current(self, entity: str) -> FeatureRecord:
        """The entity's newest vector with its aggregates as of now (late events folded in)."""
        current = self.aggregator.current(entity)
        assert current is not None
        ts, stored, aggregates = current
        raw = stored[: len(self._raw_fields)]
        values = raw + aggregates
        if self._transform_plan:
            hot = dict(zip(self._hot_fields, stored[len(self._raw_fields) :], strict=True))
            values += self._transform(values, hot)
        view = self.view
        return FeatureRecord(
            "", entity, ts, values, None, view.name, view.version, names=self.names
        )

    def state_dict(self) -> dict[str, Any]:
        return self.aggregator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.aggregator.load_state_dict(state)
