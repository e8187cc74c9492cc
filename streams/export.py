"""`riffle features export`: point-in-time-correct training sets from a stream's features topic.

Reads `<s>.features` (and, with the events as spine, `<s>.labels`) from the beginning of every
partition up to the end offsets seen at start, so the export terminates and is a consistent
snapshot; joins with `streams.point_in_time`; writes Parquet (pyarrow) or CSV, atomically.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from featurestore import InvalidEventError
from featurestore.view import parse_duration_ms
from streams.config import RiffleConfig, StreamConfig
from streams.exceptions import RiffleError, ServiceUnavailableError
from streams.point_in_time import (
    FeatureLog,
    Spine,
    Table,
    event_rows,
    latest_labels,
    position,
    spine_rows,
)
from streams.records import decode_label

__all__ = ["ExportSummary", "export_features", "read_spine", "write_table"]

log = logging.getLogger(__name__)

FORMATS = ("parquet", "csv")
_STALL_S = 30.0


@dataclass
class ExportSummary:
    """What an export wrote and what it left out, printed as JSON by the CLI.

    >>> s = ExportSummary("train.parquet", "parquet", "events", rows=3, features_records=10)
    >>> s.seconds = 0.5
    >>> s.to_dict()["records_per_s"], s.to_dict()["rows"]
    (20, 3)
    """

    path: str
    format: str
    spine: str  # "events" or the spine file
    rows: int = 0
    labelled: int = 0
    unlabelled_skipped: int = 0
    duplicates_dropped: int = 0
    labels_unknown: int = 0
    labels_duplicate: int = 0
    invalid_features: int = 0
    invalid_labels: int = 0
    features_records: int = 0
    label_records: int = 0
    seconds: float = 0.0
    details: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("details"))
        out["records_per_s"] = round(self.features_records / self.seconds) if self.seconds else 0
        return out


async def export_features(
    cfg: RiffleConfig,
    stream: StreamConfig,
    output: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    spine: str | os.PathLike[str] | None = None,
    from_ts: int | None = None,
    to_ts: int | None = None,
    labelled_only: bool | None = None,
    ttl_s: float | None = None,
    batch_size: int = 10_000,
) -> ExportSummary:
    """Write the training rows of `stream` to `output` and return the summary.

    Rows have from_ts <= ts < to_ts. With the events as spine (no `spine`), only labelled
    rows unless `labelled_only=False`; with a spine file, every spine row unless
    `labelled_only=True`. `ttl_s` bounds the age of an as-of match (default: the view's
    `ttl` if configured, else unbounded).
    """
    t0 = time.perf_counter()
    path = Path(output)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "parquet")
    if fmt not in FORMATS:
        raise RiffleError(f"unknown format {fmt!r}; use one of {FORMATS}")
    if from_ts is not None and to_ts is not None and from_ts >= to_ts:
        raise RiffleError("--from-ts must be before --to-ts")
    if ttl_s is not None and ttl_s <= 0:
        raise RiffleError("--ttl must be positive")
    spine_rows_in = read_spine(spine) if spine is not None else None
    summary = ExportSummary(str(path), fmt, "events" if spine is None else str(spine))
    feature_log = FeatureLog()
    labels: list[tuple[int, str, int]] = []
    topics = stream.topics

    def on_record(topic: str, partition: int, offset: int, value: bytes) -> None:
        if topic == topics.features:
            summary.features_records += 1
            try:
                feature_log.add(value, partition, offset)
            except ValueError as exc:
                summary.invalid_features += 1
                log.warning("skipped features record %s:%d@%d: %s", topic, partition, offset, exc)
            return
        summary.label_records += 1
        try:
            event_id, label = decode_label(value)
        except InvalidEventError as exc:
            summary.invalid_labels += 1
            log.warning("skipped label record %s:%d@%d: %s", topic, partition, offset, exc)
            return
        labels.append((position(partition, offset), event_id, label))

    wanted = [topics.features] if spine_rows_in is not None else [topics.features, topics.labels]
    await _read_snapshot(cfg, wanted, [topics.features], on_record, batch_size)
    summary.duplicates_dropped = feature_log.duplicates
    preferred = stream.view.feature_names
    view_ttl = stream.view.ttl
    ttl_ms = round(ttl_s * 1000) if ttl_s is not None else None
    if ttl_ms is None and view_ttl is not None:
        ttl_ms = parse_duration_ms(view_ttl)
    try:
        if spine_rows_in is None:
            by_id, summary.labels_duplicate = latest_labels(labels)
            table, stats = event_rows(
                feature_log,
                by_id,
                labelled_only=True if labelled_only is None else labelled_only,
                from_ts=from_ts,
                to_ts=to_ts,
                preferred=preferred,
            )
        else:
            table, stats = spine_rows(
                feature_log,
                spine_rows_in,
                ttl_ms=ttl_ms,
                labelled_only=bool(labelled_only),
                from_ts=from_ts,
                to_ts=to_ts,
                preferred=preferred,
            )
    except ValueError as exc:
        raise RiffleError(str(exc)) from None
    for key in ("rows", "labelled", "unlabelled_skipped", "labels_unknown"):
        setattr(summary, key, stats.pop(key, 0))
    if spine_rows_in is not None and ttl_ms is not None:
        stats["ttl_ms"] = ttl_ms
    summary.details = stats
    write_table(table, path, fmt)
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


async def _read_snapshot(
    cfg: RiffleConfig,
    topics: Sequence[str],
    required: Sequence[str],
    on_record: Callable[[str, int, int, bytes], None],
    batch_size: int,
) -> None:
    """Every partition of `topics` from its beginning to the end offset seen now, by manual
    assignment (no group, no commits). A missing topic in `required` is an error, others
    read as empty."""
    partitions = await _partitions(cfg, topics)
    for topic in required:
        if not partitions.get(topic):
            raise RiffleError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(t, p) for t in topics for p in partitions.get(t, [])]
    consumer = AIOKafkaConsumer(
        **cfg.kafka.client_options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        pending: set[TopicPartition] = set()
        for tp in tps:
            consumer.seek(tp, begins[tp])
            if ends[tp] > begins[tp]:
                pending.add(tp)
            else:
                consumer.pause(tp)
        last_progress = time.monotonic()
        while pending:
            data = await consumer.getmany(*pending, timeout_ms=1000, max_records=batch_size)
            for tp, msgs in data.items():
                end = ends[tp]
                for m in msgs:
                    if m.offset < end:
                        on_record(tp.topic, tp.partition, m.offset, m.value or b"")
            if data:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > _STALL_S:
                raise ServiceUnavailableError(
                    f"no records for {_STALL_S:.0f}s with {sorted(map(str, pending))} unfinished"
                )
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()


async def _partitions(cfg: RiffleConfig, topics: Sequence[str]) -> dict[str, list[int]]:
    """The partitions of each existing topic of `topics` (without creating any)."""
    admin = AIOKafkaAdminClient(**cfg.kafka.client_options(), client_id="riffle-export")
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise ServiceUnavailableError(
            f"cannot reach Kafka at {cfg.kafka.bootstrap_servers}: {exc}"
        ) from exc
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {
        t["topic"]: sorted(p["partition"] for p in t["partitions"])
        for t in described
        if t["error_code"] == 0
    }


def read_spine(path: str | os.PathLike[str]) -> Spine:
    """A CSV spine with columns entity, ts (ms) and optionally label (0/1/true/false, empty:
    none); other columns are kept as text."""
    p = Path(path)
    try:
        f = p.open(newline="")
    except OSError as exc:
        raise RiffleError(f"cannot read the spine {p}: {exc}") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or not {"entity", "ts"} <= set(header):
            raise RiffleError(f"spine {p}: needs a header with 'entity' and 'ts' columns")
        if len(set(header)) != len(header):
            raise RiffleError(f"spine {p}: duplicate column names in {header}")
        cols: dict[str, list[str]] = {name: [] for name in header}
        lists = list(cols.values())
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                if not row:
                    continue
                raise RiffleError(f"spine {p}:{line}: {len(row)} cells, header has {len(header)}")
            for target, cell in zip(lists, row, strict=True):
                target.append(cell)
    try:
        ts = [_parse_ts(v) for v in cols.pop("ts")]
        label = [_parse_label(v) for v in cols.pop("label")] if "label" in cols else None
    except ValueError as exc:
        raise RiffleError(f"spine {p}: {exc}") from None
    entity = cols.pop("entity")
    return Spine(entity, ts, label, cols)


def _parse_ts(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # "1700000000000.0"
        if not value.is_integer():
            raise ValueError(f"ts {text!r} is not whole milliseconds") from None
        return int(value)


_LABELS = {"": None, "0": 0, "1": 1, "false": 0, "true": 1, "0.0": 0, "1.0": 1}


def _parse_label(text: str) -> int | None:
    try:
        return _LABELS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"label {text!r} is not 0, 1, true, false or empty") from None


def write_table(table: Table, path: str | os.PathLike[str], fmt: str) -> None:
    """Write `table` as Parquet (typed columns; empty cells and NaN as nulls) or CSV (empty
    cells), replacing `path` atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    if fmt == "parquet":
        _write_parquet(table, tmp)
    elif fmt == "csv":
        _write_csv(table, tmp)
    else:
        raise RiffleError(f"unknown format {fmt!r}; use one of {FORMATS}")
    os.replace(tmp, p)


def _write_parquet(table: Table, path: Path) -> None:
    # pyarrow ships no type information
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    arrays = {}
    for name, col in table.items():
        if col.kind == "float":
            arrays[name] = pa.array(col.values, type=pa.float64(), from_pandas=True)
        else:
            arrays[name] = pa.array(col.values, type=types[col.kind], mask=col.nulls)
    pq.write_table(pa.table(arrays), path)


def _write_csv(table: Table, path: Path) -> None:
    cells: list[list[str]] = []
    for col in table.values():
        values = col.values.tolist()
        if col.kind == "float":
            cells.append(["" if v != v else repr(v) for v in values])
        elif col.kind == "bool":
            cells.append(["true" if v else "false" for v in values])
        else:
            text = [str(v) for v in values]
            if col.nulls is not None:
                text = ["" if null else v for v, null in zip(text, col.nulls.tolist(), strict=True)]
            cells.append(text)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(table)
        writer.writerows(zip(*cells, strict=True))
