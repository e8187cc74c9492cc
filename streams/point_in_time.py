"""Point-in-time-correct training rows from a stream's features log.

Pure (numpy and the standard library): `streams.export` feeds it from Kafka. Two kinds of
spine, as in Feast's `get_historical_features`:

- the events themselves (`event_rows`): one row per features record, holding the vector the
  feature processor computed for that event, with its inline or delayed label;
- a spine of (entity, ts) rows (`spine_rows`): an as-of join that takes, for each row, the
  latest features record of the entity with ``record ts <= row ts`` (ties: the later record on
  the topic) and, with a TTL, ``row ts - record ts <= ttl``.

A features record replayed after a crash (same source topic/partition/offset) counts once.

>>> import orjson
>>> log = FeatureLog()
>>> def rec(eid, ts, x):
...     return orjson.dumps({"event_id": eid, "entity": "a", "ts": ts, "features": {"x": x},
...         "label": None, "view": "v", "version": 1,
...         "source": {"topic": "s.events", "partition": 0, "offset": int(eid)}})
>>> [log.add(rec(*r), 0, i) for i, r in enumerate([("1", 100, 1.0), ("2", 200, 2.0)])]
[True, True]
>>> table, _ = spine_rows(log, Spine(["a", "a"], [150, 99]))
>>> table["x"].values.tolist(), table["found"].values.tolist()
([1.0, nan], [True, False])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

__all__ = [
    "Column",
    "FeatureLog",
    "Spine",
    "Table",
    "as_of_indices",
    "event_rows",
    "latest_labels",
    "position",
    "spine_rows",
]

_OFFSET_BITS = 40


def position(partition: int, offset: int) -> int:
    """One int64 ordering records of a topic: by partition, then offset."""
    return (partition << _OFFSET_BITS) | offset


@dataclass(frozen=True, slots=True)
class Column:
    """A typed output column: kind is "str", "int", "float" or "bool"; `nulls` marks empty
    cells (float columns use NaN instead)."""

    kind: str
    values: np.ndarray[Any, Any]
    nulls: np.ndarray[Any, np.dtype[np.bool_]] | None = None


Table = dict[str, Column]


@dataclass
class Spine:
    """The rows to join features to: entity, event time (ms), an optional label (None where
    empty) and extra columns, kept as text."""

    entity: Sequence[str]
    ts: Sequence[int]
    label: Sequence[int | None] | None = None
    extras: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.entity)
        lengths = [len(self.ts), *(len(v) for v in self.extras.values())]
        if self.label is not None:
            lengths.append(len(self.label))
        if any(m != n for m in lengths):
            raise ValueError("spine columns must have the same length")


class FeatureLog:
    """Features records as read from `<s>.features`, deduplicated by source position.

    `add` takes the raw record and where it sits on the features topic; a duplicate keeps the
    copy earliest on the topic. Invalid records raise `ValueError` (the caller counts them).
    """

    def __init__(self) -> None:
        self.duplicates = 0
        self._by_source: dict[tuple[str, int, int] | str, int] = {}
        self._names: dict[str, None] = {}
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, raw: bytes, partition: int, offset: int) -> bool:
        """Add one record; False if it duplicates one already added."""
        row = _decode(raw, position(partition, offset))
        src_offset = row[8]
        key: tuple[str, int, int] | str = (
            (row[6], row[7], src_offset) if src_offset >= 0 else row[0]
        )
        seen = self._by_source.get(key)
        if seen is not None:
            self.duplicates += 1
            if row[9] < self._rows[seen][9]:
                self._rows[seen] = row
            return False
        self._by_source[key] = len(self._rows)
        self._rows.append(row)
        for name in row[10]:
            self._names.setdefault(name)
        return True

    def names(self, preferred: Iterable[str] = ()) -> list[str]:
        """Feature names seen: those of `preferred` first (in its order), then the others in
        the order first seen. With no records, `preferred`."""
        if not self._rows:
            return list(preferred)
        first = [n for n in preferred if n in self._names]
        return first + [n for n in self._names if n not in set(first)]

    def columns(self, names: Sequence[str]) -> dict[str, Any]:
        """The log as arrays (in the order added); `values` is (n, len(names)), NaN where a
        record lacks a feature."""
        rows = self._rows
        n = len(rows)
        values = np.full((n, len(names)), np.nan)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(r[10], []).append(i)
        index = {name: j for j, name in enumerate(names)}
        for group_names, idx in groups.items():
            cols = [(k, index[name]) for k, name in enumerate(group_names) if name in index]
            if not cols:
                continue
            block = np.array([rows[i][11] for i in idx], dtype=np.float64).reshape(len(idx), -1)
            src, dst = zip(*cols, strict=True)
            values[np.ix_(np.asarray(idx), np.asarray(dst))] = block[:, list(src)]
        ints = np.empty((n, 6), dtype=np.int64)  # ts, label, version, partition, offset, seq
        for i, r in enumerate(rows):
            ints[i] = (r[2], r[3], r[5], r[7], r[8], r[9])
        return {
            "event_id": np.array([r[0] for r in rows], dtype=object),
            "entity": np.array([r[1] for r in rows], dtype=object),
            "ts": ints[:, 0],
            "label": ints[:, 1],  # -1: none
            "view": np.array([r[4] for r in rows], dtype=object),
            "version": ints[:, 2],
            "source_topic": np.array([r[6] for r in rows], dtype=object),
            "source_partition": ints[:, 3],
            "source_offset": ints[:, 4],
            "seq": ints[:, 5],
            "values": values,
        }


_NUMBERS = frozenset((int, float))
_FIELD_TYPES = (str, str, int, int, str, int, str, int, int)


def _decode(raw: bytes, seq: int) -> tuple[Any, ...]:
    """A features record as the row tuple `FeatureLog` keeps: (event_id, entity, ts, label
    (-1: none), view, version, source topic, source partition, source offset, topic position,
    feature names, feature values)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"features record is not JSON: {exc}") from None
    if type(body) is not dict:
        raise ValueError("features record must be a JSON object")
    feats, source = body.get("features"), body.get("source")
    if type(feats) is not dict or type(source) is not dict:
        raise ValueError("features record needs 'features' and 'source' objects")
    values = tuple(feats.values())
    if not _NUMBERS.issuperset(map(type, values)):  # bool is not int here
        raise ValueError(f"features record has a non-numeric feature in {values!r}")
    event_id, label = body.get("event_id"), body.get("label")
    if type(event_id) is int:
        event_id = str(event_id)
    if label is None:
        label = -1
    elif label not in (0, 1) or type(label) is float:
        raise ValueError(f"features record has an invalid label {label!r}")
    row = (
        event_id,
        body.get("entity"),
        body.get("ts"),
        int(label),
        body.get("view", ""),
        body.get("version", 0),
        source.get("topic", ""),
        source.get("partition", 0),
        source.get("offset", -1),
        seq,
        tuple(feats),
        values,
    )
    if not all(type(v) is t for v, t in zip(row, _FIELD_TYPES, strict=False)):
        raise ValueError(f"features record has an invalid field in {row[:9]!r}")
    return row


def latest_labels(labels: Iterable[tuple[int, str, int]]) -> tuple[dict[str, int], int]:
    """Delayed labels as (topic position, event id, label): the last one on the topic wins.
    Returns the labels by event id and how many records were superseded."""
    ordered = sorted(labels, key=lambda t: t[0])
    latest = {event_id: label for _, event_id, label in ordered}
    return latest, len(ordered) - len(latest)


def as_of_indices(
    feat_entity: np.ndarray[Any, Any],
    feat_ts: np.ndarray[Any, Any],
    feat_seq: np.ndarray[Any, Any],
    spine_entity: np.ndarray[Any, Any],
    spine_ts: np.ndarray[Any, Any],
    ttl_ms: int | None = None,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each spine row, the index of the features record of the same entity (int codes;
    a spine code absent from the features never matches) with the greatest (ts, seq) such
    that ts <= spine ts and, with a TTL, spine ts - ts <= ttl_ms; -1 where none.

    >>> as_of_indices(np.array([0, 0, 0]), np.array([10, 30, 10]), np.array([0, 1, 2]),
    ...               np.array([0, 0, 0, 1]), np.array([9, 10, 40, 40]), ttl_ms=None).tolist()
    [-1, 2, 1, -1]
    """
    fe = np.asarray(feat_entity, dtype=np.int64)
    ft = np.asarray(feat_ts, dtype=np.int64)
    se = np.asarray(spine_entity, dtype=np.int64)
    st = np.asarray(spine_ts, dtype=np.int64)
    out = np.full(len(se), -1, dtype=np.int64)
    if len(fe) == 0 or len(se) == 0:
        return out
    # (entity, ts) as one sortable int64: entity code * span + ts offset; spine times are
    # clipped to the features' range, which keeps every match. If that could overflow, the
    # dense rank of the time stands in for the offset.
    lo, hi = int(ft.min()), int(ft.max())
    codes = max(int(fe.max()), int(se.max())) + 1
    if codes * (hi - lo + 2) < 2**62:
        fkey = fe * (hi - lo + 2) + (ft - lo + 1)
        skey = se * (hi - lo + 2) + (np.clip(st, lo - 1, hi) - lo + 1)
    else:
        times = np.unique(ft)
        fkey = fe * (len(times) + 1) + np.searchsorted(times, ft) + 1
        skey = se * (len(times) + 1) + np.searchsorted(times, st, side="right")
    order = np.lexsort((np.asarray(feat_seq, dtype=np.int64), fkey))
    fe, ft, fkey = fe[order], ft[order], fkey[order]
    pos = np.searchsorted(fkey, skey, side="right") - 1
    safe = np.maximum(pos, 0)
    ok = (pos >= 0) & (fe[safe] == se) & (se >= 0)
    if ttl_ms is not None:
        ok &= st - ft[safe] <= ttl_ms
    out[ok] = order[safe[ok]]
    return out


_EVENT_COLUMNS = ("event_id", "entity", "ts", "label", "view", "version")
_SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset")
_MATCH_COLUMNS = ("found", "feature_ts", "feature_event_id")


def _in_range(ts: np.ndarray[Any, Any], from_ts: int | None, to_ts: int | None) -> Any:
    keep = np.ones(len(ts), dtype=bool)
    if from_ts is not None:
        keep &= ts >= from_ts
    if to_ts is not None:
        keep &= ts < to_ts
    return keep


def _check_names(fixed: Iterable[str], names: Sequence[str]) -> None:
    clash = sorted(set(fixed) & set(names))
    if clash or len(set(names)) != len(names):
        raise ValueError(f"feature names clash with the table's columns: {clash or names}")


def event_rows(
    log: FeatureLog,
    labels: Mapping[str, int],
    *,
    labelled_only: bool = True,
    from_ts: int | None = None,
    to_ts: int | None = None,
    preferred: Iterable[str] = (),
) -> tuple[Table, dict[str, int]]:
    """One row per event with from_ts <= ts < to_ts, ordered by (ts, topic position): its own
    features, and its label (inline, else delayed from `labels`)."""
    names = log.names(preferred)
    _check_names((*_EVENT_COLUMNS, *_SOURCE_COLUMNS), names)
    c = log.columns(names)
    inline = c["label"]
    delayed = np.array([labels.get(e, -1) for e in c["event_id"]], dtype=np.int64)
    label = np.where(inline >= 0, inline, delayed)
    in_range = _in_range(c["ts"], from_ts, to_ts)
    keep = in_range & (label >= 0) if labelled_only else in_range
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((c["seq"][idx], c["ts"][idx]))]
    table: Table = {
        "event_id": Column("str", c["event_id"][idx]),
        "entity": Column("str", c["entity"][idx]),
        "ts": Column("int", c["ts"][idx]),
    }
    for j, name in enumerate(names):
        table[name] = Column("float", c["values"][idx, j])
    table["label"] = Column("int", label[idx], label[idx] < 0)
    table["view"] = Column("str", c["view"][idx])
    table["version"] = Column("int", c["version"][idx])
    for col in _SOURCE_COLUMNS:
        table[col] = Column("str" if col == "source_topic" else "int", c[col][idx])
    ids = set(c["event_id"].tolist())
    stats = {
        "rows": len(idx),
        "labelled": int((label[idx] >= 0).sum()),
        "labels_inline": int((inline[idx] >= 0).sum()),
        "labels_delayed": int(((inline[idx] < 0) & (delayed[idx] >= 0)).sum()),
        "unlabelled_skipped": int((in_range & (label < 0)).sum()) if labelled_only else 0,
        "out_of_range": int((~in_range).sum()),
        "labels_unknown": sum(1 for e in labels if e not in ids),
    }
    return table, stats


def spine_rows(
    log: FeatureLog,
    spine: Spine,
    *,
    ttl_ms: int | None = None,
    labelled_only: bool = False,
    from_ts: int | None = None,
    to_ts: int | None = None,
    preferred: Iterable[str] = (),
) -> tuple[Table, dict[str, int]]:
    """The spine rows with from_ts <= ts < to_ts, in spine order, with the features as of
    each row's ts (NaN and found=false where none), the matched record's ts and event id."""
    names = log.names(preferred)
    fixed = ("entity", "ts", *(("label",) if spine.label is not None else ()), *spine.extras)
    _check_names((*fixed, *_MATCH_COLUMNS), names)
    clash = sorted(set(spine.extras) & {"entity", "ts", "label", *_MATCH_COLUMNS})
    if clash:
        raise ValueError(f"spine columns clash with the table's columns: {clash}")
    c = log.columns(names)
    codes: dict[str, int] = {}
    feat_codes = np.array([codes.setdefault(e, len(codes)) for e in c["entity"]], dtype=np.int64)
    entity = np.array(list(spine.entity), dtype=object)
    ts = np.asarray(spine.ts, dtype=np.int64)
    spine_codes = np.array([codes.get(e, -1) for e in entity], dtype=np.int64)
    keep = _in_range(ts, from_ts, to_ts)
    if spine.label is not None:
        label = np.array([-1 if v is None else v for v in spine.label], dtype=np.int64)
        n_unlabelled = int((keep & (label < 0)).sum())
        if labelled_only:
            keep &= label >= 0
    rows = np.flatnonzero(keep)
    match = as_of_indices(feat_codes, c["ts"], c["seq"], spine_codes[rows], ts[rows], ttl_ms)
    found = match >= 0
    safe = np.maximum(match, 0)
    table: Table = {"entity": Column("str", entity[rows]), "ts": Column("int", ts[rows])}
    if spine.label is not None:
        table["label"] = Column("int", label[rows], label[rows] < 0)
    for name, values in spine.extras.items():
        table[name] = Column("str", np.array(list(values), dtype=object)[rows])
    for j, name in enumerate(names):
        column = c["values"][safe, j] if len(c["ts"]) else np.full(len(rows), np.nan)
        table[name] = Column("float", np.where(found, column, np.nan))
    table["found"] = Column("bool", found)
    feat_ts = c["ts"][safe] if len(c["ts"]) else np.zeros(len(rows), dtype=np.int64)
    table["feature_ts"] = Column("int", np.where(found, feat_ts, 0), ~found)
    feat_ids = c["event_id"][safe] if len(c["ts"]) else np.full(len(rows), "", dtype=object)
    table["feature_event_id"] = Column("str", np.where(found, feat_ids, ""), ~found)
    stats = {
        "rows": len(rows),
        "found": int(found.sum()),
        "not_found": int((~found).sum()),
        "out_of_range": int((~_in_range(ts, from_ts, to_ts)).sum()),
    }
    if spine.label is not None:
        stats["labelled"] = int((label[rows] >= 0).sum())
        stats["unlabelled_skipped"] = n_unlabelled if labelled_only else 0
    return table, stats
