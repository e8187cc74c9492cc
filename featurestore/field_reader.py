"""Reading a feature view's inputs from validated events, one event or a batch at a time."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from featurestore.event_columns import EventColumns
from featurestore.schema import EventSchema
from featurestore.sketch import hash_key
from featurestore.view import FeatureView

__all__ = ["FieldReader"]

Fields = Mapping[str, Any]
# queued events: (entity, event time, fields)
Queued = tuple[str, int, Fields]


class FieldReader:
    """A view's entity key, aggregated numbers, distinct keys (hashed) and the values it keeps
    (passthrough fields, then one-hot inputs), read as the Python engine takes them (`one`) or
    as flat columns for the native engine (`many`). Numbers of float fields are taken as they
    are (the schema made them floats); others go through ``float`` like the Python engine's.
    """

    def __init__(
        self,
        schema: EventSchema,
        view: FeatureView,
        num_fields: Sequence[str],
        key_fields: Sequence[str],
    ) -> None:
        kinds = {f: schema.fields[f].type for f in view.input_fields}
        self._key = view.entity
        self._nums = tuple(num_fields)
        self._num_float = any(kinds[f] != "float" for f in num_fields)
        self._raw = tuple(view.raw_fields)
        self._raw_float = any(kinds[f] != "float" for f in self._raw)
        self._keys = tuple(key_fields)
        self.hot = tuple(t.inputs[0] for t in view.transforms if t.kind == "one_hot")

    def one(
        self, entity: str, fields: Fields
    ) -> tuple[str, list[Any], list[Any], list[float], list[int]]:
        """The entity, passthrough values, kept values, numbers and key hashes of an event."""
        if self._key is not None:
            entity = str(fields[self._key])
        raw = _row(self._raw, fields, self._raw_float)
        kept = raw + [fields[f] for f in self.hot] if self.hot else raw
        nums = _row(self._nums, fields, self._num_float)
        return entity, raw, kept, nums, [hash_key(fields[f]) for f in self._keys]

    def many(
        self, events: Sequence[Queued]
    ) -> tuple[list[str], list[int], list[float], list[int], list[Sequence[Any]], list[float]]:
        """`one` for a batch, as columns: entities, times, numbers and key hashes (flat, one
        event after the other), kept values (tuples when no value needs converting) and
        passthrough values (flat)."""
        fields = [e[2] for e in events]
        if self._key is None:
            entities = [e[0] for e in events]
        else:
            key = self._key
            entities = [str(f[key]) for f in fields]
        times = [e[1] for e in events]
        nums = _flat(self._nums, fields, self._num_float)
        hashes = list(map(hash_key, _flat(self._keys, fields, False)))
        raw = _flat(self._raw, fields, self._raw_float)
        kept: list[Sequence[Any]]
        if self._raw_float:
            n = len(self._raw)
            kept = [raw[i : i + n] for i in range(0, len(raw), n)] if n else [[] for _ in fields]
            if self.hot:
                kept = [[*r, *(f[h] for h in self.hot)] for r, f in zip(kept, fields, strict=True)]
        else:
            kept = _tuples((*self._raw, *self.hot), fields)
        return entities, times, nums, hashes, kept, raw

    def columns(
        self, cols: EventColumns
    ) -> tuple[list[str], list[int], list[float], list[int], list[Sequence[Any]], list[float]]:
        """`many` of events the C decoder read into columns (float and string fields only, so
        nothing needs converting): the same values, without a dict per event."""
        entities = cols.entities if self._key is None else cols.column(self._key)
        times: list[int] = cols.ts.tolist()
        nums: list[float] = cols.numbers(self._nums).ravel().tolist()
        keyed = [cols.column(k) for k in self._keys]
        hashes = list(map(hash_key, keyed[0] if len(keyed) == 1 else _interleave(keyed)))
        kept_columns = [cols.column(f) for f in (*self._raw, *self.hot)]
        kept: list[Sequence[Any]] = (
            list(zip(*kept_columns, strict=True)) if kept_columns else [() for _ in times]
        )
        raw: list[float] = cols.numbers(self._raw).ravel().tolist()
        return entities, times, nums, hashes, kept, raw


def _interleave(columns: list[list[Any]]) -> list[Any]:
    """Columns as one flat list, event after event."""
    return list(itertools.chain.from_iterable(zip(*columns, strict=True)))


def _row(names: tuple[str, ...], fields: Fields, convert: bool) -> list[Any]:
    if convert:
        return [float(fields[f]) for f in names]
    return [fields[f] for f in names]


def _flat(names: tuple[str, ...], fields: Sequence[Fields], convert: bool) -> list[Any]:
    """The values of ``names`` of every event, one event after the other."""
    if not names:
        return []
    if len(names) == 1:
        (name,) = names
        column = [f[name] for f in fields]
    else:
        column = list(itertools.chain.from_iterable(map(operator.itemgetter(*names), fields)))
    return list(map(float, column)) if convert else column


def _tuples(names: tuple[str, ...], fields: Sequence[Fields]) -> list[Sequence[Any]]:
    if not names:
        return [() for _ in fields]
    if len(names) == 1:
        (name,) = names
        return [(f[name],) for f in fields]
    return list(map(operator.itemgetter(*names), fields))
