"""A batch of raw events decoded by C into columns (``_native/decode.c``): the feature
processor's fast path, where decoding events one by one into dicts cost more than folding them.

The C decoder takes only events that the schema's Python decoder (`EventSchema.unpacker`)
takes unchanged in its common case; at the first other event it gives up and the batch goes
through the Python decoder, which gives the same values (and the errors). So the fast path
changes speed, never results. It is off without a C compiler (``RIFFLE_NO_NATIVE=1``), for
event times in seconds, and for schemas with int or bool fields.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from featurestore.schema import EventSchema
from models._native_build import load_library

__all__ = ["ColumnDecoder", "EventColumns"]

_P = ctypes.c_void_p
_I = ctypes.c_longlong
_ARGS: list[Any] = [_P, _P, _I, _P, _P, _P, _P, ctypes.c_int, ctypes.c_int, _I, ctypes.c_double]
_ARGS += [_P, _P, _P, _P, _I]
_ID, _ENTITY, _TS, _LABEL, _FLOAT, _STR, _OPT_FLOAT, _OPT_STR = range(8)


@functools.cache
def _library() -> ctypes.CDLL | None:
    lib = load_library("decode", [Path(__file__).with_name("_native") / "decode.c"])
    if lib is not None:
        lib.decode_events.restype, lib.decode_events.argtypes = _I, _ARGS
    return lib


@dataclass(slots=True)
class EventColumns:
    """Decoded events, column by column, in input order: what `EventSchema.unpacker` gives
    event by event (ids, entities, event times in ms, labels) with the schema's required float
    fields as a matrix and its required string fields as lists."""

    ids: list[str]
    entities: list[str]
    ts: np.ndarray[Any, np.dtype[np.int64]]
    labels: list[int | None]
    floats: np.ndarray[Any, np.dtype[np.float64]]  # one row per event
    float_index: dict[str, int]
    strs: dict[str, list[str]]

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> list[Any]:
        """A field's values as the Python decoder gives them (floats, or strings)."""
        if name in self.strs:
            return self.strs[name]
        values: list[Any] = self.floats[:, self.float_index[name]].tolist()
        return values

    def numbers(self, names: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The float fields ``names``, one row per event (C order)."""
        return np.ascontiguousarray(self.floats[:, [self.float_index[n] for n in names]])


class ColumnDecoder:
    """Decodes batches of a schema's events into `EventColumns`, or says it cannot."""

    def __init__(self, schema: EventSchema, lib: ctypes.CDLL) -> None:
        self.schema = schema
        self._lib = lib
        keys = [schema.id_field, schema.entity_field, schema.timestamp_field, schema.label_field]
        kinds, slots = [_ID, _ENTITY, _TS, _LABEL], [0, 0, 0, 0]
        # optional fields are checked, not kept: no view may read them (see `ViewState`)
        fields = schema.fields.items()
        self.float_fields = [f for f, s in fields if s.type == "float" and s.required]
        self.str_fields = [f for f, s in fields if s.type == "str" and s.required]
        for f, spec in fields:
            keys.append(f)
            if not spec.required:
                kinds.append(_OPT_FLOAT if spec.type == "float" else _OPT_STR)
                slots.append(0)
            elif spec.type == "float":
                kinds.append(_FLOAT)
                slots.append(self.float_fields.index(f))
            else:
                kinds.append(_STR)
                slots.append(self.str_fields.index(f))
        encoded = [k.encode() for k in keys]
        self._keys = b"".join(encoded)
        self._key_offs = array("q", itertools.accumulate(map(len, encoded), initial=0))
        self._kinds = array("i", kinds)
        self._slots = array("i", slots)
        self._nkeys = len(keys)
        self._index = {f: i for i, f in enumerate(self.float_fields)}

    @classmethod
    def for_schema(cls, schema: EventSchema) -> ColumnDecoder | None:
        """The decoder, or None where the fast path does not apply (see the module)."""
        lib = _library()
        if (
            lib is None
            or schema.timestamp_unit != "ms"
            or any(s.type not in ("float", "str") for s in schema.fields.values())
            or len(schema.fields) + 4 > 64
        ):
            return None
        return cls(schema, lib)

    def decode(self, values: Sequence[bytes], timestamps: Sequence[int]) -> EventColumns | None:
        """The events ``values`` (produced at Kafka ``timestamps``, 0 if unknown) as columns;
        None if any of them needs the Python decoder (an error, an unusual form), or is dated
        too far after it was produced."""
        n = len(values)
        try:
            buf = b"".join(values)
        except TypeError:  # a null value
            return None
        offs = array("q", itertools.accumulate(map(len, values), initial=0))
        ts = np.empty(n, dtype=np.int64)
        labels = np.empty(n, dtype=np.int8)
        floats = np.empty((n, len(self.float_fields)), dtype=np.float64)
        strs = ctypes.create_string_buffer(len(buf) + 1)
        schema = self.schema
        size = self._lib.decode_events(
            buf,
            offs.buffer_info()[0],
            n,
            self._keys,
            self._key_offs.buffer_info()[0],
            self._kinds.buffer_info()[0],
            self._slots.buffer_info()[0],
            self._nkeys,
            len(self.float_fields),
            schema.max_event_bytes,
            schema.max_abs_value,
            ts.ctypes.data,
            labels.ctypes.data,
            floats.ctypes.data,
            strs,
            len(buf) + 1,
        )
        if size < 0:
            return None
        produced = np.asarray(timestamps, dtype=np.int64)
        if np.any((produced > 0) & (ts > produced + schema.max_future_ms)):
            return None
        parts = strs.raw[:size].decode("ascii").split("\0")
        width = 2 + len(self.str_fields)
        label_list = cast(list[int | None], labels.tolist())
        if labels.min(initial=0) < 0:  # -1: no label
            label_list = [None if x < 0 else x for x in cast(list[int], label_list)]
        return EventColumns(
            parts[0:-1:width],
            parts[1:-1:width],
            ts,
            label_list,
            floats,
            self._index,
            {f: parts[2 + k : -1 : width] for k, f in enumerate(self.str_fields)},
        )
