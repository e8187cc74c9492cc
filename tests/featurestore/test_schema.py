"""EventSchema: every way a raw event can be refused, with its reason code, and the valid forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from featurestore import Event, EventSchema, FieldSpec, InvalidEventError

MAX_BYTES = 256
SCHEMA = EventSchema(
    fields={
        "x": FieldSpec("float"),
        "n": FieldSpec("int"),
        "flag": FieldSpec("bool", required=False),
        "note": FieldSpec("str", required=False),
        "opt": FieldSpec("float", required=False),
    },
    max_event_bytes=MAX_BYTES,
)
DROP = object()  # marks a key to remove from the base event


def raw(**changes: Any) -> bytes:
    body: dict[str, Any] = {"id": "e1", "entity": "a", "ts": 1000, "x": 1.5, "n": 2}
    for key, value in changes.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return orjson.dumps(body)


def padded(size: int) -> bytes:
    """A valid event padded with trailing whitespace (allowed by JSON) to exactly `size` bytes."""
    base = raw()
    return base + b" " * (size - len(base))


def literal(x: str) -> bytes:
    return b'{"id":"e1","entity":"a","ts":1000,"n":2,"x":' + x.encode() + b"}"


REFUSED = [
    ("malformed_json", b'{"id": "e1", "entity": ', "malformed_json", "not valid JSON"),
    ("empty_bytes", b"", "malformed_json", "not valid JSON"),
    ("invalid_utf8", b'{"id": "e1", "entity": "\xff"}', "malformed_json", "not valid JSON"),
    ("json_list", b'[{"id": "e1"}]', "not_an_object", "JSON object"),
    ("json_number", b"42", "not_an_object", "JSON object"),
    ("json_string", b'"e1"', "not_an_object", "JSON object"),
    ("missing_id", raw(id=DROP), "missing_field", "'id'"),
    ("empty_id", raw(id=""), "missing_field", "'id'"),
    ("null_id", raw(id=None), "missing_field", "'id'"),
    ("bool_id", raw(id=True), "missing_field", "'id'"),
    ("missing_entity", raw(entity=DROP), "missing_field", "'entity'"),
    ("empty_entity", raw(entity=""), "missing_field", "'entity'"),
    ("bool_entity", raw(entity=True), "missing_field", "'entity'"),
    ("object_entity", raw(entity={"k": 1}), "missing_field", "'entity'"),
    ("missing_ts", raw(ts=DROP), "missing_field", "'ts'"),
    ("string_ts", raw(ts="1000"), "missing_field", "'ts'"),
    ("bool_ts", raw(ts=True), "missing_field", "'ts'"),
    ("float_field_string", raw(x="1.5"), "wrong_type", "'x' must be float, got str"),
    ("float_field_bool", raw(x=True), "wrong_type", "'x' must be float, got bool"),
    ("int_field_float", raw(n=2.0), "wrong_type", "'n' must be int, got float"),
    ("int_field_bool", raw(n=False), "wrong_type", "'n' must be int, got bool"),
    ("bool_field_int", raw(flag=1), "wrong_type", "'flag' must be bool"),
    ("str_field_number", raw(note=3), "wrong_type", "'note' must be str"),
    ("required_missing", raw(x=DROP), "missing_field", "required field 'x'"),
    ("required_null", raw(n=None), "missing_field", "required field 'n'"),
    ("nan_literal", literal("NaN"), "non_finite", "NaN"),
    ("infinity_literal", literal("Infinity"), "non_finite", "Infinity"),
    ("minus_infinity_literal", literal("-Infinity"), "non_finite", "Infinity"),
    ("oversized_valid", padded(MAX_BYTES + 1), "oversized", f"{MAX_BYTES + 1} bytes"),
    ("oversized_before_parse", b"{" * (MAX_BYTES + 1), "oversized", f"limit is {MAX_BYTES}"),
    ("label_2", raw(label=2), "invalid_label", "'label'"),
    ("label_half", raw(label=0.5), "invalid_label", "'label'"),
    ("label_float_one", raw(label=1.0), "invalid_label", "'label'"),
    ("label_string", raw(label="1"), "invalid_label", "'label'"),
    ("label_negative", raw(label=-1), "invalid_label", "'label'"),
]


@pytest.mark.parametrize(
    ("data", "reason", "fragment"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_invalid_events_are_refused_with_their_reason(data: bytes, reason: str, fragment: str):
    with pytest.raises(InvalidEventError) as info:
        SCHEMA.decode(data)
    assert info.value.reason == reason
    assert fragment in str(info.value)


VALIDATE_REFUSED = [
    ("nan_float_field", {"x": float("nan")}, "non_finite"),
    ("inf_float_field", {"x": float("-inf")}, "non_finite"),
    ("nan_optional_field", {"opt": float("nan")}, "non_finite"),
    ("nan_ts", {"ts": float("nan")}, "missing_field"),
    ("inf_ts", {"ts": float("inf")}, "missing_field"),
]


@pytest.mark.parametrize(
    ("changes", "reason"), [c[1:] for c in VALIDATE_REFUSED], ids=[c[0] for c in VALIDATE_REFUSED]
)
def test_validate_refuses_non_finite_numbers(changes: dict[str, Any], reason: str):
    obj = {"id": "e1", "entity": "a", "ts": 1000, "x": 1.5, "n": 2, **changes}
    with pytest.raises(InvalidEventError) as info:
        SCHEMA.validate(obj)
    assert info.value.reason == reason


def test_event_of_exactly_max_bytes_is_accepted():
    data = padded(MAX_BYTES)
    assert len(data) == MAX_BYTES
    assert SCHEMA.decode(data).id == "e1"


OPTIONAL_UNSET = {"flag": None, "note": None, "opt": None}


def event(
    id: str = "e1", entity: str = "a", ts: int = 1000, label: int | None = None, **fields: Any
) -> Event:
    return Event(id, entity, ts, {"x": 1.5, "n": 2, **OPTIONAL_UNSET, **fields}, label)


ACCEPTED = [
    ("minimal_optional_missing", raw(), event()),
    ("optional_null", raw(opt=None), event()),
    ("optionals_set", raw(flag=True, note="hi", opt=-2.25), event(flag=True, note="hi", opt=-2.25)),
    ("int_id_and_entity", raw(id=7, entity=42), event(id="7", entity="42")),
    ("float_ms_ts_truncates", raw(ts=1000.9), event()),
    ("label_true", raw(label=True), event(label=1)),
    ("label_false", raw(label=False), event(label=0)),
    ("label_0", raw(label=0), event(label=0)),
    ("label_1", raw(label=1), event(label=1)),
    ("label_null", raw(label=None), event()),
    ("extra_keys_ignored", raw(other=[1, 2]), event()),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_valid_events_decode(data: bytes, expected: Event):
    decoded = SCHEMA.decode(data)
    assert decoded == expected
    assert type(decoded.label) is type(expected.label)  # bool labels become int


def test_ints_are_accepted_for_float_fields_and_returned_as_float():
    decoded = SCHEMA.decode(raw(x=3, opt=-4))
    assert decoded.fields["x"] == 3.0 and type(decoded.fields["x"]) is float
    assert decoded.fields["opt"] == -4.0 and type(decoded.fields["opt"]) is float
    assert type(decoded.fields["n"]) is int


@pytest.mark.parametrize(
    ("ts", "ms"),
    [
        (2, 2000),
        (1.5, 1500),
        (0, 0),
        (1_700_000_000, 1_700_000_000_000),
        (1.25e9, 1_250_000_000_000),
    ],
)
def test_seconds_timestamps_are_converted_to_ms(ts: float, ms: int):
    schema = EventSchema(fields={"x": FieldSpec("float")}, timestamp_unit="s")
    decoded = schema.decode(raw(ts=ts))
    assert decoded.ts == ms and type(decoded.ts) is int


def test_seconds_timestamp_with_millisecond_fraction_is_exact():
    schema = EventSchema(fields={"x": FieldSpec("float")}, timestamp_unit="s")
    assert schema.decode(raw(ts=1.001)).ts == 1001


def test_custom_field_names():
    schema = EventSchema(
        fields={"amount": FieldSpec("float")},
        id_field="event_id",
        entity_field="user",
        timestamp_field="time",
        label_field="fraud",
    )
    data = orjson.dumps({"event_id": "q", "user": "u1", "time": 5, "amount": 1, "fraud": 1})
    assert schema.decode(data) == Event("q", "u1", 5, {"amount": 1.0}, 1)
    with pytest.raises(InvalidEventError) as info:
        schema.decode(orjson.dumps({"id": "q", "entity": "u1", "ts": 5, "amount": 1}))
    assert info.value.reason == "missing_field"
    assert "'event_id'" in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        b'\xef\xbb\xbf{"id":"e1","entity":"a","ts":1000,"x":1.5,"n":2}',
        b'{"id":"e1","entity":"\\ud800","ts":1000,"x":1.5,"n":2}',
    ],
    ids=["utf8_bom", "lone_surrogate"],
)
def test_json_errors_without_nan_are_not_reported_as_non_finite(data: bytes):
    try:
        SCHEMA.decode(data)
    except InvalidEventError as exc:
        assert exc.reason != "non_finite", str(exc)


BAD_CONFIG: list[tuple[str, Callable[[], object], str]] = [
    ("unknown_type", lambda: FieldSpec("decimal"), "field type"),
    ("reserved_ts", lambda: EventSchema(fields={"ts": FieldSpec()}), "reserved"),
    ("reserved_id", lambda: EventSchema(fields={"id": FieldSpec("str")}), "reserved"),
    ("reserved_label", lambda: EventSchema(fields={"label": FieldSpec("int")}), "reserved"),
    (
        "reserved_custom_name",
        lambda: EventSchema(fields={"user": FieldSpec()}, entity_field="user"),
        "reserved",
    ),
    ("timestamp_unit_us", lambda: EventSchema(timestamp_unit="us"), "timestamp_unit"),
    ("timestamp_unit_empty", lambda: EventSchema(timestamp_unit=""), "timestamp_unit"),
    ("max_bytes_zero", lambda: EventSchema(max_event_bytes=0), "max_event_bytes"),
]


@pytest.mark.parametrize(
    ("build", "match"), [c[1:] for c in BAD_CONFIG], ids=[c[0] for c in BAD_CONFIG]
)
def test_bad_configuration_raises_value_error(build: Callable[[], object], match: str):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"id": "1", "entity": "a", "ts": 1e20, "x": 1.0}', "invalid_timestamp"),
        (b'{"id": "1", "entity": "a", "ts": -5, "x": 1.0}', "invalid_timestamp"),
        (b'{"id": "1", "entity": "a", "ts": 5, "x": 1e308}', "out_of_range"),
        (b'{"id": "1", "entity": "a", "ts": 5, "x": -2e12}', "out_of_range"),
    ],
)
def test_values_and_times_out_of_range_are_refused(body: bytes, reason: str) -> None:
    schema = EventSchema(fields={"x": FieldSpec("float")})
    with pytest.raises(InvalidEventError) as info:
        schema.decode(body)
    assert info.value.reason == reason
