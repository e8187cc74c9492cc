"""Point-in-time logic of `riffle features export`, without Kafka: dedupe, label precedence,
the as-of join against a brute-force loop, and the file formats."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.exceptions import RiffleError
from streams.export import read_spine, write_table
from streams.point_in_time import (
    FeatureLog,
    Spine,
    as_of_indices,
    event_rows,
    latest_labels,
    position,
    spine_rows,
)


def rec(
    event_id: str,
    entity: str,
    ts: int,
    x: float,
    label: int | None = None,
    src_offset: int | None = None,
    **extra: float,
) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "entity": entity,
            "ts": ts,
            "features": {"x": x, **extra},
            "label": label,
            "view": "v",
            "version": 1,
            "source": {
                "topic": "s.events",
                "partition": 0,
                "offset": int(event_id) if src_offset is None else src_offset,
                "timestamp": 0,
            },
        }
    )


def make_log(*records: bytes, partition: int = 0) -> FeatureLog:
    log = FeatureLog()
    for offset, raw in enumerate(records):
        log.add(raw, partition, offset)
    return log


# --- as-of join: vectorised == brute force ---------------------------------------------


def brute_as_of(
    feats: list[tuple[int, int, int]], spine: list[tuple[int, int]], ttl: int | None
) -> list[int]:
    out = []
    for entity, ts in spine:
        best = -1
        for i, (fe, ft, fs) in enumerate(feats):
            if fe != entity or ft > ts or (ttl is not None and ts - ft > ttl):
                continue
            if best < 0 or (ft, fs) > (feats[best][1], feats[best][2]):
                best = i
        out.append(best)
    return out


@st.composite
def join_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    # small ranges force ties on ts and out-of-order event times along the topic; a huge
    # scale makes (entity, ts) keys overflow int64, so the dense-rank path runs
    scale = draw(st.sampled_from([1, 1000, 2**58]))
    pairs = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12)), max_size=40))
    seqs = draw(st.permutations(list(range(len(pairs)))))
    feats = [(e, t * scale, s) for (e, t), s in zip(pairs, seqs, strict=True)]
    spine = draw(st.lists(st.tuples(st.integers(-1, 4), st.integers(-2, 14)), max_size=30))
    ttl = draw(st.none() | st.integers(0, 6))
    return feats, [(e, t * scale) for e, t in spine], None if ttl is None else ttl * scale


@settings(max_examples=400, deadline=None)
@given(join_cases())
def test_as_of_indices_equals_brute_force(case: tuple[Any, ...]) -> None:
    feats, spine, ttl = case
    got = as_of_indices(
        np.array([f[0] for f in feats], dtype=np.int64),
        np.array([f[1] for f in feats], dtype=np.int64),
        np.array([f[2] for f in feats], dtype=np.int64),
        np.array([s[0] for s in spine], dtype=np.int64),
        np.array([s[1] for s in spine], dtype=np.int64),
        ttl,
    )
    assert got.tolist() == brute_as_of(feats, spine, ttl)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 10), st.integers(0, 5)), max_size=30),
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-1, 12)), max_size=20),
    st.none() | st.integers(0, 4),
)
def test_spine_rows_equal_brute_force_with_replays(
    events: list[tuple[str, int, int]], spine: list[tuple[str, int]], ttl: int | None
) -> None:
    """Records carry their source offset in `x`; some are replayed (same source offset
    again, later on the topic); a spine row gets the record with the greatest (ts, topic
    offset) among the first copies with ts <= its ts (and within the TTL)."""
    raws, first_copy = [], []
    for i, (entity, ts, replay_of) in enumerate(events):
        if replay_of < i and events[replay_of][0] == entity and i % 2:
            src = raws[replay_of]
            raws.append(src)
            continue
        raws.append(rec(str(i), entity, ts, float(i)))
        first_copy.append((entity, ts, len(raws) - 1, float(i)))
    log = make_log(*raws)
    assert len(log) == len(first_copy) and log.duplicates == len(raws) - len(first_copy)
    table, stats = spine_rows(
        log, Spine([e for e, _ in spine], [t for _, t in spine]), ttl_ms=ttl, preferred=("x",)
    )
    for row, (entity, ts) in enumerate(spine):
        ok = [c for c in first_copy if c[0] == entity and c[1] <= ts]
        ok = [c for c in ok if ttl is None or ts - c[1] <= ttl]
        best = max(ok, key=lambda c: (c[1], c[2]), default=None)
        x = table["x"].values[row]
        if best is None:
            assert math.isnan(x) and not table["found"].values[row]
            assert table["feature_ts"].nulls is not None and table["feature_ts"].nulls[row]
        else:
            assert x == best[3] and table["found"].values[row]
            assert table["feature_ts"].values[row] == best[1] <= ts
    assert stats["found"] + stats["not_found"] == len(spine)


# --- the as-of join, case by case -----------------------------------------------------


def test_spine_ties_out_of_order_ttl_and_unknown_entities() -> None:
    log = make_log(
        rec("1", "a", 100, 1.0),
        rec("2", "a", 300, 3.0),  # a later event first ...
        rec("3", "a", 200, 2.0),  # ... then a late one, earlier in event time
        rec("4", "a", 200, 2.5),  # same ts, later on the topic: wins the tie
        rec("5", "b", 50, 9.0),
    )
    spine = Spine(
        ["a", "a", "a", "a", "a", "b", "zz"],
        [99, 100, 250, 299, 1000, 60, 500],
        label=[1, None, 0, 1, 0, None, 1],
        extras={"note": ["n0", "n1", "n2", "n3", "n4", "n5", "n6"]},
    )
    table, stats = spine_rows(log, spine, ttl_ms=None)
    x = table["x"].values.tolist()
    assert math.isnan(x[0]) and x[1:6] == [1.0, 2.5, 2.5, 3.0, 9.0] and math.isnan(x[6])
    assert table["found"].values.tolist() == [False, True, True, True, True, True, False]
    assert table["feature_event_id"].values.tolist()[1:6] == ["1", "4", "4", "2", "5"]
    assert table["note"].values.tolist() == spine.extras["note"]
    assert table["label"].nulls is not None
    assert table["label"].nulls.tolist() == [False, True, False, False, False, True, False]
    assert list(table) == [
        *("entity", "ts", "label", "note", "x", "found", "feature_ts", "feature_event_id")
    ]
    assert stats == {
        "rows": 7,
        "found": 5,
        "not_found": 2,
        "out_of_range": 0,
        "labelled": 5,
        "unlabelled_skipped": 0,
    }

    # a TTL of 50 ms: 250 - 200 = 50 is still fresh; at 299 the newest vector (200) is too
    # old, and an older one never stands in for it
    table, _ = spine_rows(log, spine, ttl_ms=50)
    assert table["found"].values.tolist() == [False, True, True, False, False, True, False]

    # labelled only and a time range, over the spine's ts
    table, stats = spine_rows(log, spine, labelled_only=True, from_ts=100, to_ts=1000)
    assert table["ts"].values.tolist() == [250, 299, 500]
    assert stats["unlabelled_skipped"] == 1 and stats["out_of_range"] == 3


def test_spine_on_an_empty_log_finds_nothing() -> None:
    table, stats = spine_rows(FeatureLog(), Spine(["a"], [5]), preferred=("x", "y"))
    assert list(table) == ["entity", "ts", "x", "y", "found", "feature_ts", "feature_event_id"]
    assert math.isnan(table["y"].values[0]) and stats["not_found"] == 1


# --- dedupe, labels, events as spine ---------------------------------------------------


def test_replayed_records_appear_once_keeping_the_first_copy() -> None:
    log = FeatureLog()
    assert log.add(rec("1", "a", 10, 1.0), 0, 5)
    assert not log.add(rec("1", "a", 10, 1.0), 0, 9)  # replay after a crash
    assert log.add(rec("1", "a", 10, 1.0, src_offset=7), 0, 10)  # the producer sent it twice
    assert not log.add(rec("1", "a", 10, 1.0), 0, 2)  # an earlier copy replaces the kept one
    assert len(log) == 2 and log.duplicates == 2
    assert log.columns(["x"])["seq"].tolist() == [position(0, 2), position(0, 10)]


def test_records_without_a_source_offset_dedupe_by_event_id() -> None:
    log = make_log(rec("1", "a", 10, 1.0, src_offset=-1), rec("1", "a", 10, 1.0, src_offset=-1))
    assert len(log) == 1 and log.duplicates == 1


def test_latest_label_on_the_topic_wins() -> None:
    labels = [(position(0, 3), "e1", 0), (position(0, 1), "e1", 1), (position(1, 0), "e2", 1)]
    assert latest_labels(labels) == ({"e1": 0, "e2": 1}, 1)


@pytest.mark.parametrize(
    ("inline", "delayed", "expected"),
    [
        (1, None, 1),
        (None, 0, 0),
        (0, 1, 0),  # the inline label is the one the learner used
        (None, None, None),
    ],
)
def test_label_precedence(inline: int | None, delayed: int | None, expected: int | None) -> None:
    log = make_log(rec("1", "a", 10, 1.0, label=inline))
    labels = {} if delayed is None else {"1": delayed}
    table, stats = event_rows(log, labels, labelled_only=False)
    assert table["label"].nulls is not None
    got = None if table["label"].nulls[0] else int(table["label"].values[0])
    assert got == expected
    assert stats["labels_inline"] == (inline is not None)
    assert stats["labels_delayed"] == (inline is None and delayed is not None)


def test_event_rows_use_each_events_own_vector_ordered_by_time() -> None:
    log = make_log(
        rec("1", "a", 300, 1.0, label=1, y=5.0),
        rec("2", "a", 100, 2.0),
        rec("3", "b", 200, 3.0),
        rec("4", "b", 400, 4.0),
        rec("1", "a", 300, 1.0, label=1, y=5.0),  # replayed
        partition=1,
    )
    labels = {"2": 0, "3": 1, "ghost": 1}
    table, stats = event_rows(log, labels, preferred=("y", "x", "not_seen"))
    assert list(table) == [
        *("event_id", "entity", "ts", "y", "x", "label", "view", "version"),
        *("source_topic", "source_partition", "source_offset"),
    ]
    assert table["event_id"].values.tolist() == ["2", "3", "1"]
    assert table["x"].values.tolist() == [2.0, 3.0, 1.0]
    y = table["y"].values.tolist()
    assert math.isnan(y[0]) and math.isnan(y[1]) and y[2] == 5.0
    assert table["label"].values.tolist() == [0, 1, 1]
    assert table["source_offset"].values.tolist() == [2, 3, 1]
    assert stats == {
        "rows": 3,
        "labelled": 3,
        "labels_inline": 1,
        "labels_delayed": 2,
        "unlabelled_skipped": 1,
        "out_of_range": 0,
        "labels_unknown": 1,
    }
    table, stats = event_rows(log, labels, labelled_only=False, from_ts=200, to_ts=400)
    assert table["event_id"].values.tolist() == ["3", "1"] and stats["out_of_range"] == 2


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1]",
        orjson.dumps({"event_id": "1", "entity": "a", "ts": 1, "features": {}}),
        rec("1", "a", 1, 1.0).replace(b'"label":null', b'"label":2'),
        rec("1", "a", 1, 1.0).replace(b'"x":1.0', b'"x":"1"'),
        rec("1", "a", 1, 1.0).replace(b'"ts":1', b'"ts":"1"'),
        rec("1", "a", 1, 1.0).replace(b'"entity":"a"', b'"entity":null'),
    ],
)
def test_invalid_features_records_are_refused(raw: bytes) -> None:
    log = FeatureLog()
    with pytest.raises(ValueError):
        log.add(raw, 0, 0)
    assert len(log) == 0


def test_feature_names_clashing_with_columns_are_refused() -> None:
    log = make_log(rec("1", "a", 1, 1.0, view=3.0))
    with pytest.raises(ValueError, match="view"):
        event_rows(log, {}, labelled_only=False)


# --- files -----------------------------------------------------------------------------


def test_read_spine_parses_ts_labels_and_keeps_extras(tmp_path: Path) -> None:
    path = tmp_path / "spine.csv"
    path.write_text("ts,entity,label,why\n10,a,1,x\n20.0,b,,y\n30,a,false,z\n")
    spine = read_spine(path)
    assert list(spine.entity) == ["a", "b", "a"] and list(spine.ts) == [10, 20, 30]
    assert spine.label is not None and list(spine.label) == [1, None, 0]
    assert {k: list(v) for k, v in spine.extras.items()} == {"why": ["x", "y", "z"]}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("entity\na\n", "header"),
        ("entity,ts\na,1.5\n", "whole milliseconds"),
        ("entity,ts,label\na,1,2\n", "label"),
        ("entity,ts\na,1,3\n", "cells"),
    ],
)
def test_bad_spines_are_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "spine.csv"
    path.write_text(text)
    with pytest.raises(RiffleError, match=match):
        read_spine(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_files_keep_types_and_empty_cells(tmp_path: Path, fmt: str) -> None:
    log = make_log(rec("1", "a", 100, 0.1), rec("2", "a", 200, 1e-300))
    table, _ = spine_rows(log, Spine(["a", "a", "b"], [150, 250, 1], label=[1, None, 0]))
    path = tmp_path / f"out.{fmt}"
    write_table(table, path, fmt)
    if fmt == "csv":
        assert path.read_text().splitlines() == [
            "entity,ts,label,x,found,feature_ts,feature_event_id",
            "a,150,1,0.1,true,100,1",
            "a,250,,1e-300,true,200,2",
            "b,1,0,,false,,",
        ]
        return
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # pyarrow has no stubs

    back = pq.read_table(path)
    assert [str(t) for t in back.schema.types] == [
        *("string", "int64", "int64", "double", "bool", "int64", "string")
    ]
    assert back.to_pylist() == [
        dict(entity="a", ts=150, label=1, x=0.1, found=True, feature_ts=100, feature_event_id="1"),
        dict(entity="a", ts=250, label=None, x=1e-300, found=True, feature_ts=200,
             feature_event_id="2"),
        dict(entity="b", ts=1, label=0, x=None, found=False, feature_ts=None,
             feature_event_id=None),
    ]  # fmt: skip
    assert not list(tmp_path.glob(".*.tmp"))
