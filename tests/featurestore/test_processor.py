"""FeatureProcessor: dead letters with their source position, ordering, batching, checkpoints."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import (
    DeadLetter,
    EventSchema,
    FeatureProcessor,
    FeatureRecord,
    FeatureView,
    FieldSpec,
    SourceRecord,
)
from tests.featurestore.fixtures import (
    PARTITION,
    TOPIC,
    chunks,
    ev,
    portable,
    random_stream,
    source,
    stored,
)

OPTIONAL = FieldSpec("float", required=False)
FIELDS = {"x": FieldSpec(), "n": FieldSpec("int"), "flag": FieldSpec("bool"), "opt": OPTIONAL}
SCHEMA = EventSchema(fields={**FIELDS, "note": FieldSpec("str", required=False)})
AGGS = ("count", "sum", "max")
VIEW = FeatureView(
    "txn",
    window="1s",
    fields=("x", "n"),
    aggregations=AGGS,
    passthrough=("flag",),
    allowed_lateness="500ms",
)


NO_N = orjson.dumps({"id": "6", "entity": "b", "ts": 1600, "x": 1.0, "flag": True})
# (raw, dead reason or None, fragment of the dead letter's message)
MIXED: list[tuple[bytes, str | None, str]] = [
    (ev("1", "a", 1000, x=2.0, n=3), None, ""),
    (b"{not json", "malformed_json", "not valid JSON"),
    (ev("2", "b", 1500, x=5.0), None, ""),
    (ev("3", "a", 1200, x="big"), "wrong_type", "'x'"),
    (ev("4", "a", 1999, x=4.0, n=1, label=1), None, ""),
    (b"[1, 2]", "not_an_object", "JSON object"),
    (ev("5", "a", 999), "late_event", "behind"),  # 1000 ms behind the watermark (1999)
    (NO_N, "missing_field", "'n'"),
    (ev("7", "b", 2100, x=-1.0, n=2), None, ""),
    (ev("8", "c", 1, label=7), "invalid_label", "'label'"),
    (b'{"id":"9","entity":"a","ts":1,"x":NaN,"n":1,"flag":true}', "non_finite", "NaN"),
    (ev("10", "a", 1999, x=1.0, n=5, note="ok"), None, ""),
]


def test_mixed_batch_routes_each_record():
    proc = FeatureProcessor(SCHEMA, VIEW)
    records = source([raw for raw, _, _ in MIXED])
    out = proc.process(records)

    assert len(out.features) + len(out.dead) == len(records)
    assert proc.n_processed == len(out.features) and proc.n_dead == len(out.dead)
    expected_dead = [(rec, r, m) for rec, (_, r, m) in zip(records, MIXED, strict=True) if r]
    assert [(d.reason, d.topic, d.partition, d.offset, d.value, d.key) for d in out.dead] == [
        (r, TOPIC, PARTITION, rec.offset, rec.value, rec.key) for rec, r, _ in expected_dead
    ]
    for dead, (_, _, fragment) in zip(out.dead, expected_dead, strict=True):
        assert fragment in dead.message and dead.stage == "features"

    valid = [rec for rec, (_, r, _) in zip(records, MIXED, strict=True) if r is None]
    assert [f.offset for f in out.features] == [rec.offset for rec in valid]
    assert [f.event_id for f in out.features] == ["1", "2", "4", "7", "10"]
    assert [f.source_ts for f in out.features] == [rec.timestamp for rec in valid]
    assert all(
        (f.topic, f.partition, f.view, f.version, f.names)
        == (TOPIC, PARTITION, "txn", 1, VIEW.feature_names)
        for f in out.features
    )
    # flag, count, x_sum, x_max, n_sum, n_max
    assert [f.values for f in out.features] == [
        [1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
        [1.0, 1.0, 5.0, 5.0, 1.0, 1.0],
        [1.0, 2.0, 6.0, 4.0, 4.0, 3.0],
        [1.0, 1.0, -1.0, -1.0, 2.0, 2.0],
        [1.0, 3.0, 7.0, 4.0, 9.0, 5.0],
    ]
    assert [f.label for f in out.features] == [None, None, 1, None, None]
    assert out.max_ts == 2100
    assert {e: f.event_id for e, f in out.latest.items()} == {"a": "10", "b": "7"}
    assert out.latest["a"].values == out.features[-1].values
    assert proc.aggregates("a") == [3.0, 7.0, 4.0, 9.0, 5.0]


HEADERS = [
    ((("reply-to", b"replies.c1"), ("correlation-id", b"req-42")), "replies.c1", "req-42"),
    ((("reply-to", b"r"),), "r", None),
    ((("correlation-id", b"c"), ("other", b"\xff")), None, "c"),
    ((), None, None),
]


@pytest.mark.parametrize(("headers", "reply_to", "correlation_id"), HEADERS)
def test_reply_headers_are_carried_onto_the_record(
    headers: tuple[tuple[str, bytes], ...], reply_to: str | None, correlation_id: str | None
):
    proc = FeatureProcessor(SCHEMA, VIEW)
    (rec,) = proc.process(source([ev("1", "a", 0)], headers=headers)).features
    assert (rec.reply_to, rec.correlation_id) == (reply_to, correlation_id)


def test_undecodable_reply_header_does_not_crash_the_batch():
    proc = FeatureProcessor(SCHEMA, VIEW)
    records = [
        *source([ev("1", "a", 0)]),
        *source([ev("2", "a", 1)], start=200, headers=(("reply-to", b"\xff\xfe"),)),
        *source([ev("3", "a", 2)], start=300),
    ]
    out = proc.process(records)
    assert len(out.features) + len(out.dead) == 3
    assert proc.aggregates("a") is not None
    assert proc.aggregates("a")[0] == len(out.features)


@given(seed=st.integers(0, 2**16), sizes=st.lists(st.integers(1, 40), max_size=10))
def test_batching_does_not_change_the_output(seed: int, sizes: list[int]):
    records = source(random_stream(seed, 120))
    whole = FeatureProcessor(SCHEMA, VIEW)
    one = whole.process(records)
    for batches in ([[r] for r in records], chunks(records, sizes)):
        proc = FeatureProcessor(SCHEMA, VIEW)
        outs = [proc.process(b) for b in batches]
        assert [f for o in outs for f in o.features] == one.features
        assert [d for o in outs for d in o.dead] == one.dead
        latest: dict[str, FeatureRecord] = {}
        for o in outs:
            latest.update(o.latest)
        assert latest == one.latest
        assert (proc.n_processed, proc.n_dead) == (whole.n_processed, whole.n_dead)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cut", [0, 1, 150, 299, 300])
def test_checkpoint_round_trip_resumes_identically(seed: int, cut: int):
    records = source(random_stream(seed))
    straight = FeatureProcessor(SCHEMA, VIEW)
    expected = straight.process(records)

    first = FeatureProcessor(SCHEMA, VIEW)
    head = first.process(records[:cut])
    state = stored(first)
    resumed = FeatureProcessor(SCHEMA, VIEW)
    resumed.load_state_dict(state)
    tail = resumed.process(records[cut:])
    assert head.features + tail.features == expected.features
    assert head.dead + tail.dead == expected.dead
    assert (resumed.n_processed, resumed.n_dead) == (straight.n_processed, straight.n_dead)
    assert all(resumed.aggregates(e) == straight.aggregates(e) for e in "abcd")


def test_feature_record_json_round_trip():
    proc = FeatureProcessor(SCHEMA, VIEW)
    out = proc.process(source([ev("1", "a", 5, x=0.1, n=-3, label=1), ev("2", "a", 6, x=1 / 3)]))
    for rec in out.features:
        assert FeatureRecord.from_json(rec.to_json(), VIEW.feature_names) == rec
    rec = out.features[1]
    reordered = tuple(reversed(VIEW.feature_names))
    back = FeatureRecord.from_json(rec.to_json(), reordered)
    assert back.values == list(reversed(rec.values)) and back.names == reordered
    src = orjson.loads(rec.to_json())["source"]
    assert src == {"topic": TOPIC, "partition": PARTITION, "offset": 101, "timestamp": 7001}


def test_a_value_too_large_to_aggregate_is_dead_lettered_and_leaves_state_alone():
    # a schema may allow huge values; sums of squares of values beyond 1e150 could overflow
    loose = dataclasses.replace(SCHEMA, max_abs_value=1.7e308)
    proc = FeatureProcessor(loose, VIEW)
    out = proc.process(source([ev("1", "a", 0, x=1e140), ev("2", "a", 1, x=1e200)]))
    assert [d.reason for d in out.dead] == ["overflow"]
    assert proc.aggregates("a") == out.features[0].values[len(VIEW.raw_fields) :]
    rec = out.features[0]
    assert FeatureRecord.from_json(rec.to_json(), VIEW.feature_names).values == rec.values


text = st.text(max_size=30)


@settings(max_examples=50)
@given(
    st.builds(
        DeadLetter,
        st.binary(max_size=50),
        st.none() | st.binary(max_size=10),
        text,
        text,
        text,
        st.integers(0, 2**31 - 1),
        st.integers(-1, 2**62),
        text,
    )
)
def test_dead_letter_headers_round_trip(d: DeadLetter):
    headers = [("reply-to", b"x"), *d.headers()]  # unrelated headers are ignored
    assert DeadLetter.from_headers(d.value, d.key, headers) == d


BAD_VIEWS = [
    ("unknown_field", FeatureView("v", fields=("missing",)), "not in the schema"),
    ("unknown_pass", FeatureView("v", fields=("x",), passthrough=("zz",)), "not in the schema"),
    ("string_field", FeatureView("v", fields=("note",)), "numeric"),
    ("string_pass", FeatureView("v", fields=("x",), passthrough=("note",)), "numeric"),
    ("optional_field", FeatureView("v", fields=("opt",)), "numeric"),
    ("optional_pass", FeatureView("v", passthrough=("x", "opt")), "numeric"),
]


@pytest.mark.parametrize(
    ("view", "match"), [c[1:] for c in BAD_VIEWS], ids=[c[0] for c in BAD_VIEWS]
)
def test_constructor_rejects_views_the_schema_cannot_feed(view: FeatureView, match: str):
    with pytest.raises(ValueError, match=match):
        FeatureProcessor(SCHEMA, view)


def test_constructor_accepts_int_and_bool_fields():
    view = FeatureView("v", fields=("n", "flag"), aggregations=("sum",), passthrough=())
    proc = FeatureProcessor(SCHEMA, view)
    (rec,) = proc.process(source([ev("1", "a", 0, n=4)])).features
    assert rec.values == [4.0, 1.0]


def test_events_far_ahead_of_their_production_time_are_refused():
    proc = FeatureProcessor(SCHEMA, VIEW)
    ahead = SourceRecord(ev("1", "a", 10 * 86_400_000, x=1.0), offset=0, timestamp=1_000)
    ok = SourceRecord(ev("2", "a", 2_000, x=1.0), offset=1, timestamp=1_000)
    out = proc.process([ahead, ok])
    assert [d.reason for d in out.dead] == ["future_timestamp"]
    assert [r.event_id for r in out.features] == ["2"]


MERCHANTS = FeatureView(
    "merchants",
    window="1s",
    fields=("x",),
    aggregations=("count", "sum"),
    passthrough=(),
    entity="shop",
    allowed_lateness="100ms",
)
SHOPS = EventSchema(fields={**FIELDS, "shop": FieldSpec("str")})


def shop_ev(i: str, entity: str, ts: int, shop: str, x: float = 1.0) -> bytes:
    return orjson.dumps(
        {"id": i, "entity": entity, "ts": ts, "x": x, "n": 1, "flag": True, "shop": shop}
    )


def test_serving_views_fold_the_same_events_under_their_own_key():
    proc = FeatureProcessor(SHOPS, VIEW, [MERCHANTS])
    out = proc.process(
        source([shop_ev("1", "a", 1000, "s1", 2.0), shop_ev("2", "b", 1100, "s1", 3.0)])
    )
    assert [r.entity for r in out.features] == ["a", "b"]  # the model's view
    shops = out.views["merchants"]
    assert list(shops) == ["s1"] and shops["s1"].values == [2.0, 5.0]
    assert shops["s1"].names == MERCHANTS.feature_names and shops["s1"].ts == 1100


def test_the_view_header_routes_an_event_and_an_unknown_view_is_dead_lettered():
    proc = FeatureProcessor(SHOPS, VIEW, [MERCHANTS])
    only_shops = [("riffle-view", b"merchants")]
    out = proc.process(
        source([shop_ev("1", "a", 1000, "s1")], headers=only_shops)
        + source([shop_ev("2", "a", 1001, "s1")], start=200, headers=[("riffle-view", b"nope")])
    )
    assert out.features == [] and out.latest == {}  # not for the model: no features record
    assert out.views["merchants"]["s1"].values == [1.0, 1.0]
    (dead,) = out.dead
    assert (dead.reason, dead.offset) == ("unknown_view", 200) and "nope" in dead.message
    assert proc.n_processed == 1 and proc.n_dead == 1


def test_an_event_refused_by_one_view_changes_no_view():
    proc = FeatureProcessor(SHOPS, VIEW, [MERCHANTS])  # lateness 500 ms vs 100 ms
    proc.process(source([shop_ev("1", "a", 1000, "s1")]))
    before = portable(proc)
    out = proc.process(source([shop_ev("2", "a", 850, "s1")], start=300))
    assert [d.reason for d in out.dead] == ["late_event"]  # too late for merchants only
    after = portable(proc)
    after["n_dead"] -= 1
    assert after == before


def test_checkpoints_hold_every_view():
    proc = FeatureProcessor(SHOPS, VIEW, [MERCHANTS])
    proc.process(source([shop_ev("1", "a", 1000, "s1", 4.0)]))
    state = stored(proc)
    resumed = FeatureProcessor(SHOPS, VIEW, [MERCHANTS])
    resumed.load_state_dict(state)
    out = resumed.process(source([shop_ev("2", "b", 1200, "s1", 1.0)], start=101))
    assert out.views["merchants"]["s1"].values == [2.0, 5.0]
    with pytest.raises(ValueError, match="views"):
        FeatureProcessor(SHOPS, VIEW).load_state_dict(state)
