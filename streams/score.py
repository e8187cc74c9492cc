"""`riffle score`: a file or a topic through the same feature views and a registered model
version, giving the predictions the stream gave.

The replay runs the stream's feature processor per partition from the first event (so
windows hold what they held live), then feeds the learner in the order the Kafka learner
merges its inputs: features and labels by producer timestamp, then offset, then topic and
partition. The model starts from the version's signed artifact; events its lineage already
covers only warm the feature windows. With ``learn=True`` (the default) it goes on learning
test-then-train as the stream did, so a version registered when the stream started (or any
version, when labels are inline) reproduces the streaming predictions exactly; with
``learn=False`` the version is scored frozen.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from featurestore import FeatureProcessor, FeatureRecord, InvalidEventError, SourceRecord
from streams.config import ModelConfig, StreamConfig
from streams.feature_loop import source_record
from streams.learner import Label, Learner
from streams.records import Prediction, decode_label

__all__ = ["Replay", "ScoreResult", "read_file", "score"]


@dataclass
class Replay:
    """Events per partition in offset order, and labels with their positions."""

    events: dict[int, list[SourceRecord]] = field(default_factory=dict)
    # (timestamp, offset, partition, (event id, label))
    labels: list[tuple[int, int, int, Label]] = field(default_factory=list)
    # lines of a file in their order: ("event", partition, index) or ("label", index)
    file_order: list[tuple[str, int]] | None = None


@dataclass
class ScoreResult:
    predictions: list[Prediction]
    n_events: int
    n_dead: int
    n_skipped: int  # events the version had already learned (its lineage)


def read_file(path: str | Path, stream: StreamConfig) -> Replay:
    """JSON lines: events (as producers publish them) and label records
    (``{"event_id": ..., "label": ...}``) in the order the stream received them."""
    order: list[tuple[str, int]] = []
    replay = Replay(file_order=order)
    events = replay.events.setdefault(0, [])
    id_field = stream.schema.id_field
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            is_label = False
            with contextlib.suppress(orjson.JSONDecodeError):
                body = orjson.loads(line)
                is_label = isinstance(body, dict) and "event_id" in body and id_field not in body
            if is_label:
                label = decode_label(line)
                replay.labels.append((0, len(replay.labels), 0, label))
                order.append(("label", len(replay.labels) - 1))
            else:
                events.append(SourceRecord(line, None, stream.topics.events, 0, len(events)))
                order.append(("event", len(events) - 1))
    return replay


def score(
    stream: StreamConfig,
    replay: Replay,
    model: ModelConfig,
    state: Mapping[str, Any] | None,
    *,
    version: str,
    lineage: Mapping[str, Sequence[int]] | None = None,
    learn: bool = True,
) -> ScoreResult:
    """Predictions for every valid event of `replay` from the model `state` (a registered
    version's `state_dict`; None: a fresh model), in the learner's order."""
    name, _, number = version.partition("@")
    learner = Learner(
        stream.name,
        stream.view.feature_names,
        ModelConfig(**{**model.__dict__, "name": name}),
        version=int(number or 1),
        max_pending=stream.max_pending_labels,
    )
    if state is not None:
        learner.model.load_state_dict(state)
    # events the version already learned: the learner skips them as replays
    learner.mark_seen({where: int(last) for where, (_, last) in (lineage or {}).items()})
    features: dict[int, list[FeatureRecord]] = {}
    n_dead = n_events = 0
    for p, recs in sorted(replay.events.items()):
        proc = FeatureProcessor(stream.schema, stream.view, stream.extra_views)
        out = proc.process(recs)
        features[p] = out.features
        n_dead += len(out.dead)
        n_events += len(recs)
    items = list(_learner_order(stream, replay, features))
    before = learner.n_replayed
    if not learn:  # frozen: every event predicted, nothing learned
        items = [
            dataclasses.replace(it, label=None) for it in items if isinstance(it, FeatureRecord)
        ]
    preds = learner.process_mixed(items)
    return ScoreResult(preds, n_events, n_dead, learner.n_replayed - before)


def _learner_order(
    stream: StreamConfig, replay: Replay, features: Mapping[int, list[FeatureRecord]]
) -> Iterator[FeatureRecord | Label]:
    if replay.file_order is not None:
        by_offset = {r.offset: r for r in features.get(0, [])}
        for kind, i in replay.file_order:
            if kind == "label":
                yield replay.labels[i][3]
            elif i in by_offset:
                yield by_offset[i]
        return
    # the Kafka learner's merge: features records carry their source's timestamp and are
    # numbered per partition in the features topic in the order they were produced
    keyed: list[tuple[int, int, str, int, FeatureRecord | Label]] = []
    ft, lt = stream.topics.features, stream.topics.labels
    for p, recs in features.items():
        keyed.extend((r.source_ts, i, ft, p, r) for i, r in enumerate(recs))
    keyed.extend((ts, off, lt, p, label) for ts, off, p, label in replay.labels)
    keyed.sort(key=lambda k: k[:4])
    for *_, it in keyed:
        yield it


def write_predictions(preds: Iterable[Prediction], path: str | Path) -> int:
    n = 0
    with open(path, "wb") as f:
        for p in preds:
            f.write(p.to_json() + b"\n")
            n += 1
    return n


async def read_topic(kafka: Any, stream: StreamConfig) -> Replay:
    """Every event and label of the stream's topics, up to their end offsets at the start."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    replay = Replay()
    try:
        t = stream.topics
        tps = [TopicPartition(t.events, p) for p in range(stream.partitions)]
        tps += [TopicPartition(t.labels, p) for p in range(stream.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            fetched = await consumer.getmany(*todo, timeout_ms=500, max_records=10_000)
            for tp, msgs in fetched.items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        continue
                    if tp.topic == t.events:
                        replay.events.setdefault(tp.partition, []).append(source_record(tp, m))
                    else:
                        try:
                            label = decode_label(m.value or b"")
                        except InvalidEventError:
                            continue  # the stream dead-lettered it too
                        replay.labels.append((m.timestamp, m.offset, tp.partition, label))
            todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return replay
