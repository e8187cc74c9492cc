"""The C batch decoder agrees with the schema's Python decoder: whatever it takes, it decodes
to the same values; whatever it refuses goes to the Python decoder (which may still take it)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.event_columns import ColumnDecoder, EventColumns
from featurestore.exceptions import InvalidEventError
from featurestore.schema import EventSchema, FieldSpec
from streams.workload import Workload

SCHEMA = EventSchema(
    fields={
        "amount": FieldSpec("float"),
        "risk": FieldSpec("float"),
        "merchant": FieldSpec("str"),
        "channel": FieldSpec("str", required=False),
    },
    max_event_bytes=400,
)
DECODER = ColumnDecoder.for_schema(SCHEMA)
KEPT = [f for f, spec in SCHEMA.fields.items() if spec.required]  # optional ones: checked only
pytestmark = pytest.mark.skipif(DECODER is None, reason="no C compiler")


def python_parts(values: list[bytes]) -> list[Any]:
    unpack = SCHEMA.unpacker()
    out = []
    for v in values:
        try:
            event_id, entity, ts, fields, label = unpack(v)
        except InvalidEventError as exc:
            out.append(exc.reason)
            continue
        out.append((event_id, entity, ts, {f: fields[f] for f in KEPT}, label))
    return out


def column_parts(cols: EventColumns) -> list[Any]:
    fields = {f: cols.column(f) for f in KEPT}
    return [
        (cols.ids[i], cols.entities[i], int(cols.ts[i]), {f: fields[f][i] for f in fields}, lab)
        for i, lab in enumerate(cols.labels)
    ]


def same(a: Any, b: Any) -> bool:
    """Equal, floats bit for bit (-0.0 is not 0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 1e12, -1e12, 1.0000000001e12, 5e-324, 0.1, 1 / 3, 2.5e-310]
)
texts = st.text(max_size=6) | st.sampled_from(["", "a", "é", 'q"', "b\\s", "\x00", "tab\t"])
scalars = floats | texts | st.integers(-(2**64), 2**64) | st.booleans() | st.none()
values = scalars | st.lists(st.integers(), max_size=2) | st.dictionaries(texts, st.integers())


ascii_ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,10}", fullmatch=True)
small = st.floats(-1e12, 1e12) | st.sampled_from([0.0, -0.0, 1e12, -1e12, 5e-324, 0.1, 2.5e-310])


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """Three in four events well formed (with odd floats, spacing and key order), the others
    with fields dropped, retyped, repeated or added, or cut short."""
    if draw(st.integers(0, 3)) > 0:
        obj: dict[str, Any] = {
            "id": draw(ascii_ids),
            "entity": draw(ascii_ids),
            "ts": draw(st.integers(0, 2**53 - 1)),
            "amount": draw(small),
            "risk": draw(small),
            "merchant": draw(ascii_ids | st.just("")),
            "channel": draw(st.sampled_from(["web", "app", ""])),
        }
        if draw(st.booleans()):
            obj["label"] = draw(st.sampled_from([0, 1, None]))
        if draw(st.booleans()):
            obj["extra"] = draw(small | ascii_ids | st.booleans() | st.none() | st.integers())
        keys = draw(st.permutations(list(obj)))
        obj = {k: obj[k] for k in keys}
    else:
        obj = {
            "id": draw(st.sampled_from(["e1", "x" * 3, ""]) | texts),
            "entity": draw(st.sampled_from(["a", "acct-7"]) | texts | st.integers(0, 9)),
            "ts": draw(st.integers(0, 2**53 + 2) | st.sampled_from([0, -1])),
            "amount": draw(floats),
            "risk": draw(floats),
            "merchant": draw(st.sampled_from(["m-1", ""]) | texts),
        }
        if draw(st.booleans()):
            obj["channel"] = draw(st.sampled_from(["web", "app"]) | texts)
        if draw(st.booleans()):
            obj["label"] = draw(st.sampled_from([0, 1, None, True, 2, 0.0]))
        for _ in range(draw(st.integers(0, 2))):  # retype or add fields
            obj[draw(st.sampled_from([*obj, "extra", "more"]))] = draw(values)
        for k in draw(st.lists(st.sampled_from(list(obj)), max_size=1)):
            del obj[k]
    spaced, ascii_only = draw(st.booleans()), draw(st.booleans())
    separators = (" ,\n ", ": ") if spaced else (",", ":")
    raw = json.dumps(obj, separators=separators, ensure_ascii=ascii_only).encode()
    if draw(st.integers(0, 19)) == 0:  # a repeated key: orjson keeps the last
        raw = raw[:-1] + b',"amount":1.5}'
    if draw(st.integers(0, 19)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@settings(max_examples=400, deadline=None)
@given(st.lists(events(), min_size=1, max_size=3), st.data())
def test_what_c_takes_it_decodes_as_python_does(batch: list[bytes], data: st.DataObject) -> None:
    assert DECODER is not None
    produced = data.draw(st.lists(st.integers(0, 2**53), min_size=len(batch), max_size=len(batch)))
    cols = DECODER.decode(batch, produced)
    expected = python_parts(batch)
    if cols is None:
        return
    assert all(not isinstance(e, str) for e in expected), expected  # an error went through C
    assert same(column_parts(cols), expected)
    assert all(
        p == 0 or t <= p + SCHEMA.max_future_ms for t, p in zip(cols.ts, produced, strict=True)
    )


def test_the_workloads_events_take_the_fast_path() -> None:
    from streams.config import load_config
    from tests.conftest import ROOT

    stream = load_config(ROOT / "riffle.toml").stream("payments")
    decoder = ColumnDecoder.for_schema(stream.schema)
    assert decoder is not None
    wl = Workload(n_events=3000, n_entities=50, seed=3, disorder_rate=0.05)
    batch = [m.value for m in wl.messages() if m.kind == "event"]
    cols = decoder.decode(batch, [0] * len(batch))
    assert cols is not None and len(cols) == len(batch)
    unpack = stream.schema.unpacker()
    for i in (0, 1, len(batch) // 2, len(batch) - 1):
        event_id, entity, ts, fields, label = unpack(batch[i])
        assert (cols.ids[i], cols.entities[i], cols.ts[i], cols.labels[i]) == (
            event_id,
            entity,
            ts,
            label,
        )
        assert {f: cols.column(f)[i] for f in stream.schema.fields} == {
            f: fields[f] for f in stream.schema.fields
        }


GOOD = b'{"id":"e","entity":"a","ts":1,"amount":1.0,"risk":0.5,"merchant":"m","channel":"web"}'


@pytest.mark.parametrize(
    "raw",
    [
        GOOD.replace(b'"amount":1.0', b'"amount":1'),  # an int for a float field
        GOOD.replace(b'"ts":1', b'"ts":1.0'),
        GOOD.replace(b'"m"', b'"m\\u0041"'),
        GOOD.replace(b'"m"', b'"m","x":{}'),
        GOOD.replace(b'"m"', b'"m","label":true'),
        GOOD.replace(b'"amount":1.0', b'"amount":2e12'),
        GOOD.replace(b'"m"', b'"m","x":1e999'),
        GOOD + b" x",
        GOOD[:-1] + b" " * 400 + b"}",
    ],
)
def test_unusual_or_bad_events_go_to_the_python_decoder(raw: bytes) -> None:
    assert DECODER is not None
    assert DECODER.decode([GOOD], [0]) is not None
    assert DECODER.decode([GOOD, raw, GOOD], [0, 0, 0]) is None


@pytest.mark.parametrize("channel", [b"", b',"channel":null', b',"channel":"app"'])
def test_optional_fields_may_be_absent_or_null(channel: bytes) -> None:
    assert DECODER is not None
    raw = GOOD.replace(b',"channel":"web"', channel)
    assert DECODER.decode([raw], [0]) is not None
    assert DECODER.decode([raw.replace(b'"m"', b'"m","channel":5')], [0]) is None


def test_events_dated_too_far_after_they_were_produced_go_to_the_python_decoder() -> None:
    assert DECODER is not None
    raw = GOOD.replace(b'"ts":1', b'"ts":90000000')
    assert DECODER.decode([raw], [90_000_000 - SCHEMA.max_future_ms]) is not None
    assert DECODER.decode([raw], [90_000_000 - SCHEMA.max_future_ms - 1]) is None


def test_schemas_the_fast_path_does_not_cover() -> None:
    assert ColumnDecoder.for_schema(EventSchema(fields={"n": FieldSpec("int")})) is None
    assert ColumnDecoder.for_schema(EventSchema(timestamp_unit="s")) is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.from_regex(r"(0|[1-9][0-9]{0,19})", fullmatch=True),
            st.from_regex(r"[0-9]{1,20}", fullmatch=True),
            st.none() | st.tuples(st.sampled_from(["e", "E", "e+", "e-"]), st.integers(0, 330)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_float_tokens_are_read_correctly_rounded(tokens: list[Any]) -> None:
    """Short decimals take an exact shortcut, the others strtod: either way the double
    Python's float() gives (correctly rounded), or a refusal where orjson would refuse."""
    assert DECODER is not None
    wide = ColumnDecoder.for_schema(
        EventSchema(fields={"amount": FieldSpec("float")}, max_abs_value=1.7e308)
    )
    assert wide is not None
    texts = [
        ("-" if neg else "") + whole + "." + frac + (f"{e[0]}{e[1]}" if e else "")
        for neg, whole, frac, e in tokens
    ]
    batch = [b'{"id":"i","entity":"a","ts":1,"amount":%s}' % t.encode() for t in texts]
    expected = [float(t) for t in texts]
    cols = wide.decode(batch, [0] * len(batch))
    if any(math.isinf(x) for x in expected):
        assert cols is None
        return
    assert cols is not None
    assert same(cols.column("amount"), expected)
