"""Decoding and validation of raw events against a stream's schema."""

from __future__ import annotations

import contextlib
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from featurestore.exceptions import InvalidEventError

__all__ = ["Event", "EventParts", "EventSchema", "FieldSpec"]

_MAX_TS = 2**53  # milliseconds that a float64 still holds exactly

_TYPES = ("float", "int", "bool", "str")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an event: its JSON type and whether it must be present."""

    type: str = "float"
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"field type must be one of {_TYPES}, got {self.type!r}")


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event: the id, entity, event time (epoch ms), typed fields and optional label."""

    id: str
    entity: str
    ts: int
    fields: dict[str, float | int | bool | str | None]
    label: int | None = None


# id, entity, event time (epoch ms), typed fields, label: an `Event`'s fields, in order
EventParts = tuple[str, str, int, dict[str, float | int | bool | str | None], int | None]


@dataclass(frozen=True)
class EventSchema:
    """What a valid raw event of one stream looks like.

    Raw events are flat JSON objects; the names of the id, entity, timestamp and label fields are
    configurable. Timestamps are epoch numbers in `timestamp_unit` ("ms" or "s").

    >>> schema = EventSchema(fields={"amount": FieldSpec("float")})
    >>> schema.decode(b'{"id": "e1", "entity": "a", "ts": 1000, "amount": 2.5, "label": 1}')
    Event(id='e1', entity='a', ts=1000, fields={'amount': 2.5}, label=1)
    >>> schema.decode(b'{"id": "e2", "entity": "a", "ts": 1000, "amount": "x"}')
    Traceback (most recent call last):
    ...
    featurestore.exceptions.InvalidEventError: field 'amount' must be float, got str
    """

    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    id_field: str = "id"
    entity_field: str = "entity"
    timestamp_field: str = "ts"
    label_field: str = "label"
    timestamp_unit: str = "ms"
    max_event_bytes: int = 65536
    # a finite but huge value (1e308) would overflow sums and a model's weights downstream
    max_abs_value: float = 1e12
    # how far an event's own time may run ahead of the time it was produced (Kafka timestamp)
    max_future_ms: int = 86_400_000

    def __post_init__(self) -> None:
        if self.timestamp_unit not in ("ms", "s"):
            raise ValueError(f"timestamp_unit must be 'ms' or 's', got {self.timestamp_unit!r}")
        if self.max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be positive")
        if not self.max_abs_value > 0:
            raise ValueError("max_abs_value must be positive")
        if self.max_future_ms < 0:
            raise ValueError("max_future_ms must be >= 0")
        reserved = {self.id_field, self.entity_field, self.timestamp_field, self.label_field}
        clash = reserved & set(self.fields)
        if clash:
            raise ValueError(f"schema fields clash with reserved field names: {sorted(clash)}")

    def decode(self, raw: bytes) -> Event:
        """Parse and validate one raw record; raise `InvalidEventError` with the reason."""
        return Event(*self._check(self._load(raw)))

    def validate(self, obj: Mapping[str, Any]) -> Event:
        """Validate an already parsed event."""
        return Event(*self._check(obj))

    def unpacker(self) -> Callable[[bytes], EventParts]:
        """`decode` as a function for hot loops: it returns the `Event`'s fields as a tuple,
        ``fields`` being the parsed object itself when that holds every schema field with its
        exact type (building the dataclass and a copy of the fields would cost as much as the
        validation). The same events pass, with the same values; any other takes `decode`'s
        checks and errors."""
        max_bytes, loads, check = self.max_event_bytes, orjson.loads, self._check
        label_field = self.label_field
        kinds = [spec.type for spec in self.fields.values()]
        # id, entity and event time, then the fields: their types in the common case (times in
        # seconds need converting: they never match and take the checks)
        pick = operator.itemgetter(
            self.id_field, self.entity_field, self.timestamp_field, *self.fields
        )
        types = [str, str, int if self.timestamp_unit == "ms" else type(None)]
        types += [_EXACT[k] for k in kinds]
        # orjson's floats are finite, so a min and a max range-check the numbers
        pick_numbers = _pick([3 + i for i, k in enumerate(kinds) if k in ("float", "int")])
        limit = self.max_abs_value

        def unpack(raw: bytes) -> EventParts:
            if len(raw) > max_bytes:
                return check(self._load(raw))  # raises
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _classify_json_error(raw, exc) from None
            if type(obj) is not dict:
                return check(self._load(raw))
            try:
                values = pick(obj)
            except KeyError:
                return check(obj)
            label = obj.get(label_field)
            if (
                list(map(type, values)) == types
                and values[0]
                and values[1]
                and 0 <= values[2] < _MAX_TS
                and (label is None or (type(label) is int and 0 <= label <= 1))
            ):
                numbers = pick_numbers(values)
                if not numbers or (-limit <= min(numbers) and max(numbers) <= limit):
                    return values[0], values[1], values[2], obj, label
            return check(obj)

        return unpack

    def _load(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > self.max_event_bytes:
            raise InvalidEventError(
                "oversized", f"record is {len(raw)} bytes, the limit is {self.max_event_bytes}"
            )
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _classify_json_error(raw, exc) from None
        if not isinstance(obj, dict):
            raise InvalidEventError("not_an_object", "event must be a JSON object")
        return obj

    def _check(self, obj: Mapping[str, Any]) -> EventParts:
        get = obj.get
        event_id = get(self.id_field)
        if not isinstance(event_id, str | int) or isinstance(event_id, bool) or event_id == "":
            raise InvalidEventError(
                "missing_field", f"missing or invalid id field {self.id_field!r}"
            )
        entity = get(self.entity_field)
        if not isinstance(entity, str | int) or isinstance(entity, bool) or entity == "":
            raise InvalidEventError(
                "missing_field", f"missing or invalid entity field {self.entity_field!r}"
            )
        ts = get(self.timestamp_field)
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            raise InvalidEventError(
                "missing_field", f"missing or invalid timestamp field {self.timestamp_field!r}"
            )
        ts_ms = round(ts * 1000) if self.timestamp_unit == "s" else int(ts)
        if not 0 <= ts_ms < _MAX_TS:
            raise InvalidEventError(
                "invalid_timestamp", f"timestamp {ts!r} is outside 1970 .. year 285,000"
            )
        values = self._check_fields(get)
        label = get(self.label_field)
        if label is not None:
            if label not in (0, 1) or isinstance(label, float):
                raise InvalidEventError(
                    "invalid_label", f"label field {self.label_field!r} must be 0, 1, true or false"
                )
            label = int(label)
        return str(event_id), str(entity), ts_ms, values, label

    def _check_fields(self, get: Any) -> dict[str, float | int | bool | str | None]:
        values: dict[str, float | int | bool | str | None] = {}
        limit = self.max_abs_value
        for name, spec in self.fields.items():
            value = get(name)
            kind = spec.type
            if type(value) is float and kind == "float" and -limit <= value <= limit:
                values[name] = value
                continue
            if type(value) is str and kind == "str":
                values[name] = value
                continue
            if value is None:
                if spec.required:
                    raise InvalidEventError("missing_field", f"missing required field {name!r}")
                values[name] = None
                continue
            checked = _check_type(name, kind, value)
            if (
                isinstance(checked, int | float)
                and not isinstance(checked, bool)
                and abs(checked) > self.max_abs_value
            ):
                raise InvalidEventError(
                    "out_of_range", f"field {name!r} exceeds ±{self.max_abs_value:g}"
                )
            values[name] = checked
        return values


_EXACT = {"float": float, "int": int, "bool": bool, "str": str}
Pick = Callable[[Any], tuple[Any, ...]]


def _pick(keys: list[Any]) -> Pick:
    """A function taking the items at ``keys`` of a mapping or sequence, as a tuple."""
    if len(keys) == 1:
        (key,) = keys
        return lambda xs: (xs[key],)
    if not keys:
        return lambda _: ()
    return operator.itemgetter(*keys)


def _check_type(name: str, kind: str, value: Any) -> float | int | bool | str:
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise InvalidEventError("non_finite", f"field {name!r} is not finite")
            return float(value)
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif isinstance(value, str):
        return value
    raise InvalidEventError(
        "wrong_type", f"field {name!r} must be {kind}, got {type(value).__name__}"
    )


def _classify_json_error(raw: bytes, exc: orjson.JSONDecodeError) -> InvalidEventError:
    # orjson refuses NaN/Infinity like the JSON spec; the stdlib accepts them, which tells a
    # producer that wrote non-finite numbers apart from one that wrote broken JSON. Error path only.
    non_finite = False

    def flag(_: str) -> float:
        nonlocal non_finite
        non_finite = True
        return math.nan

    with contextlib.suppress(ValueError, UnicodeDecodeError):
        json.loads(raw, parse_constant=flag)
    if non_finite:
        return InvalidEventError("non_finite", "event holds NaN or Infinity, which JSON forbids")
    return InvalidEventError("malformed_json", f"not valid JSON: {exc}")
