"""`riffle features export` against the real broker: features and labels produced to a fresh
stream's topics, exported, and read back from Parquet/CSV row by row."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from featurestore import FeatureRecord
from streams.config import RiffleConfig, StreamConfig, load_config
from streams.export import export_features
from streams.topics import ensure_topics
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

# (event id, entity, ts, inline label, features partition, source offset); the list is the
# order on the features topic. e3 is late (event time before e2's, on the topic after it),
# e4 and e5 tie on ts, and e2 is replayed after a "crash" (same source position).
EVENTS = [
    ("e1", "a", 1000, None, 0, 10),
    ("e2", "a", 2000, 1, 0, 11),
    ("e3", "a", 1500, None, 0, 12),
    ("e2", "a", 2000, 1, 0, 11),
    ("e4", "b", 1000, None, 1, 20),
    ("e5", "b", 1000, None, 1, 21),
    ("e6", "b", 5000, 0, 1, 22),
]
# (event id, label as bytes, partition): e1's second label wins, "ghost" has no event, e6's
# delayed label loses to its inline one, and one record is invalid.
LABELS = [
    ("e1", b'{"event_id": "e1", "label": 0}', 0),
    ("e1", b'{"event_id": "e1", "label": 1}', 0),
    ("ghost", b'{"event_id": "ghost", "label": 1}', 0),
    ("e4", b'{"event_id": "e4", "label": true}', 1),
    ("e5", b'{"event_id": "e5", "label": 7}', 1),
    ("e6", b'{"event_id": "e6", "label": 1}', 1),
]


def values_of(event_id: str, names: tuple[str, ...]) -> dict[str, float]:
    base = int(event_id[1:])
    return {n: base + k / 10 for k, n in enumerate(names)}


def config_file(tmp_path: Path, services: tuple[str, str]) -> tuple[Path, RiffleConfig]:
    name = f"x{uuid.uuid4().hex[:10]}"
    text = (ROOT / "riffle.toml").read_text().replace("streams.payments", f"streams.{name}")
    path = tmp_path / "riffle.toml"
    path.write_text(text)
    kafka, redis = services
    return path, load_config(path, {"RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis})


async def produce(cfg: RiffleConfig, stream: StreamConfig) -> None:
    await ensure_topics(cfg.kafka, [stream])
    names = stream.view.feature_names
    producer = AIOKafkaProducer(**cfg.kafka.client_options())
    await producer.start()
    try:
        for event_id, entity, ts, label, partition, src_offset in EVENTS:
            record = FeatureRecord(
                event_id,
                entity,
                ts,
                list(values_of(event_id, names).values()),
                label,
                stream.view.name,
                stream.view.version,
                topic=stream.topics.events,
                partition=partition,
                offset=src_offset,
                names=names,
                source_ts=ts,
            )
            await producer.send_and_wait(
                stream.topics.features, record.to_json(), entity.encode(), partition=partition
            )
        for _, value, partition in LABELS:
            await producer.send_and_wait(stream.topics.labels, value, partition=partition)
    finally:
        await producer.stop()


def event_row(stream: StreamConfig, event_id: str, label: int | None) -> dict[str, Any]:
    _, entity, ts, _, partition, src_offset = next(e for e in EVENTS if e[0] == event_id)
    return {
        "event_id": event_id,
        "entity": entity,
        "ts": ts,
        **values_of(event_id, stream.view.feature_names),
        "label": label,
        "view": stream.view.name,
        "version": stream.view.version,
        "source_topic": stream.topics.events,
        "source_partition": partition,
        "source_offset": src_offset,
    }


async def test_export_events_and_spine_point_in_time(
    services: tuple[str, str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # pyarrow has no stubs

    _, cfg = config_file(tmp_path, services)
    stream = cfg.stream()
    await produce(cfg, stream)

    # the events as spine, labelled rows only (the default), as Parquet
    out = tmp_path / "train.parquet"
    summary = await export_features(cfg, stream, out)
    assert pq.read_table(out).to_pylist() == [
        event_row(stream, "e1", 1),  # delayed; the last label on the topic
        event_row(stream, "e4", 1),  # ts tie with e1: ordered by topic position
        event_row(stream, "e2", 1),  # inline, once despite the replay
        event_row(stream, "e6", 0),  # inline beats the delayed 1
    ]
    got = summary.to_dict()
    assert {k: got[k] for k in got if k not in ("seconds", "records_per_s")} == {
        "path": str(out),
        "format": "parquet",
        "spine": "events",
        "rows": 4,
        "labelled": 4,
        "unlabelled_skipped": 2,  # e3, e5
        "duplicates_dropped": 1,
        "labels_unknown": 1,
        "labels_duplicate": 1,
        "invalid_features": 0,
        "invalid_labels": 1,
        "features_records": 7,
        "label_records": 6,
        "labels_inline": 2,
        "labels_delayed": 2,
        "out_of_range": 0,
    }

    # an as-of join on a spine: never a vector from after the spine row's ts
    spine = tmp_path / "spine.csv"
    spine.write_text(
        "entity,ts,label,request\n"
        "a,999,0,r0\n"  # before a's first event
        "a,1000,1,r1\n"
        "a,1700,,r2\n"  # e2 (ts 2000) is earlier on the topic but later in time: e3
        "a,1999,0,r3\n"
        "a,2000,1,r4\n"
        "b,1000,0,r5\n"  # e4 and e5 tie: the later on the topic
        "b,4999,1,r6\n"
        "c,3000,1,r7\n"  # unknown entity
    )
    out = tmp_path / "spine_out.parquet"
    summary = await export_features(cfg, stream, out, spine=spine)
    rows = pq.read_table(out).to_pylist()
    matches = ["", "e1", "e3", "e3", "e2", "e5", "e5", ""]
    assert [r["feature_event_id"] or "" for r in rows] == matches
    assert [r["request"] for r in rows] == [f"r{i}" for i in range(8)]
    assert [r["label"] for r in rows] == [0, 1, None, 0, 1, 0, 1, 1]
    names = stream.view.feature_names
    for row, match in zip(rows, matches, strict=True):
        assert row["found"] == bool(match)
        if match:
            assert {n: row[n] for n in names} == values_of(match, names)
            assert row["feature_ts"] <= row["ts"]
        else:
            assert all(row[n] is None for n in names) and row["feature_ts"] is None
    assert summary.rows == 8 and summary.details == {"found": 6, "not_found": 2, "out_of_range": 0}
    assert summary.label_records == 0  # the spine brings its own labels

    # a TTL of 1 s: e5 (1000) is too old for 4999, e3 (1500) fresh enough for 1999
    out = tmp_path / "spine_ttl.csv"
    await export_features(cfg, stream, out, spine=spine, ttl_s=1)
    with out.open(newline="") as f:
        found = [(r["request"], r["feature_event_id"], r["found"]) for r in csv.DictReader(f)]
    assert found == [
        ("r0", "", "false"),
        ("r1", "e1", "true"),
        ("r2", "e3", "true"),
        ("r3", "e3", "true"),
        ("r4", "e2", "true"),
        ("r5", "e5", "true"),
        ("r6", "", "false"),
        ("r7", "", "false"),
    ]


async def test_cli_exports_every_event_in_a_range_as_csv(
    services: tuple[str, str], tmp_path: Path
) -> None:
    path, cfg = config_file(tmp_path, services)
    stream = cfg.stream()
    await produce(cfg, stream)
    out = tmp_path / "all.csv"
    kafka, redis = services
    argv = ["features", "export", "--output", str(out), "--all", "--from-ts", "1000"]
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--config", str(path), *argv, "--to-ts", "5000"],
        cwd=ROOT,
        env={**os.environ, "RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["rows"], summary["labelled"], summary["out_of_range"]) == (5, 3, 1)
    assert summary["duplicates_dropped"] == 1 and summary["path"] == str(out)
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [
        event_row(stream, "e1", 1),
        event_row(stream, "e4", 1),
        event_row(stream, "e5", None),  # its only label record is invalid
        event_row(stream, "e3", None),
        event_row(stream, "e2", 1),
    ]
    assert rows == [
        {k: "" if v is None else repr(v) if isinstance(v, float) else str(v) for k, v in e.items()}
        for e in expected
    ]
