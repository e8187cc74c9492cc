"""The reply benchmark's pure parts: its requests are valid events of the stream."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from streams.bench_stats import latency_summary
from streams.config import RiffleConfig, StreamConfig, parse_config
from streams.reply_bench import _events


def _other_stream() -> StreamConfig:
    schema = {"x": "float", "n": "int", "ok": "bool", "tag": "str", "amount": "float"}
    raw = {"streams": {"s": {"event": {"id_field": "eid", "entity_field": "user"}}}}
    raw["streams"]["s"]["schema"] = schema
    return parse_config(raw).stream("s")


@pytest.mark.parametrize("which", ["demo", "other"])
def test_requests_decode_with_the_stream_schema(demo_config: RiffleConfig, which: str) -> None:
    stream = demo_config.stream("payments") if which == "demo" else _other_stream()
    events = _events(stream, 200, 50, seed=1)
    assert len(events) == 200
    assert len({e[stream.schema.id_field] for e in events}) == 200
    for e in events:
        e[stream.schema.timestamp_field] = 1_767_225_600_000
        decoded = stream.schema.decode(orjson.dumps(e))
        assert decoded.label is None  # a request asks; the label comes later
        assert set(decoded.fields) == set(stream.schema.fields)


def test_summary_in_milliseconds() -> None:
    out = latency_summary(np.array([0.001, 0.002, 0.003, 0.004]), digits=2)
    assert out["max"] == 4.0 and out["p50"] == 2.5
    assert all(v != v for v in latency_summary(np.array([])).values())  # NaN: no samples
