"""The embedded runner: the three stages chained in-process, no broker, in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from featurestore import (
    DeadLetter,
    FeatureProcessor,
    FeatureRecord,
    InMemoryStore,
    InvalidEventError,
    OnlineStore,
    SourceRecord,
)
from monitor.alert import Alert
from streams.config import StreamConfig
from streams.deployment import Control
from streams.deployment_control import drift_control, lifecycle_alert
from streams.learner import Label, Learner
from streams.monitor_stage import MonitorStage
from streams.records import Prediction, decode_label
from streams.workload import Message

__all__ = ["EmbeddedRunner", "RunResult"]


@dataclass
class RunResult:
    predictions: list[Prediction] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    n_events: int = 0
    n_labels: int = 0


class EmbeddedRunner:
    """Feeds events and labels through feature processor → learner → monitor in micro-batches.

    A batch keeps its events and labels in input order, and the learner applies them in that
    order, so predictions are exactly those of a one-by-one run.

    >>> from streams.config import load_config
    >>> from streams.workload import Workload
    >>> cfg = load_config("riffle.toml").stream("payments")
    >>> result = EmbeddedRunner(cfg).run_sync(Workload(n_events=2000, bad_rate=0.01).messages())
    >>> len(result.predictions) + len(result.dead) == 2000
    True
    """

    def __init__(
        self,
        cfg: StreamConfig,
        store: OnlineStore | None = None,
        batch_size: int = 1000,
        on_batch: Callable[[RunResult], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.processor = FeatureProcessor(cfg.schema, cfg.view, cfg.extra_views)
        self.learner = Learner(
            cfg.name,
            cfg.view.feature_names,
            cfg.model,
            max_pending=cfg.max_pending_labels,
            deployment=cfg.deployment,
        )
        self._controls: list[Control] = []  # drift alerts of a batch act at the next one
        self.monitor = MonitorStage(cfg)
        self.store = store if store is not None else InMemoryStore()
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.result = RunResult()

    async def run(self, messages: Iterable[Message]) -> RunResult:
        await self.store.start()
        try:
            batch: list[Message] = []
            n_events = 0
            for m in messages:
                batch.append(m)
                n_events += m.kind == "event"
                if n_events >= self.batch_size:
                    await self._batch(batch)
                    batch, n_events = [], 0
            if batch:
                await self._batch(batch)
        finally:
            await self.store.stop()
        return self.result

    def run_sync(self, messages: Iterable[Message]) -> RunResult:
        return asyncio.run(self.run(messages))

    async def _batch(self, batch: list[Message]) -> None:
        res = self.result
        t = self.cfg.topics
        sources = []
        for m in batch:
            if m.kind == "event":
                sources.append(SourceRecord(m.value, m.key, t.events, 0, res.n_events))
                res.n_events += 1
        out = self.processor.process(sources)
        await self.store.write_many(self.cfg.view, out.latest.values())
        for view in self.cfg.extra_views:
            await self.store.write_many(view, out.views.get(view.name, {}).values())
        res.dead.extend(out.dead)
        by_offset = {r.offset: r for r in out.features}
        mixed: list[FeatureRecord | Label | Control] = [*self._controls]
        self._controls = []
        labels: list[tuple[str, int]] = []
        offset = sources[0].offset if sources else 0
        for m in batch:
            if m.kind == "event":
                rec = by_offset.get(offset)
                offset += 1
                if rec is not None:
                    mixed.append(rec)
                continue
            try:
                label = decode_label(m.value)
            except InvalidEventError as exc:
                res.dead.append(
                    DeadLetter(
                        m.value,
                        m.key,
                        exc.reason,
                        str(exc),
                        t.labels,
                        0,
                        res.n_labels,
                        stage="labels",
                    )
                )
            else:
                mixed.append((*label, (t.labels, 0, res.n_labels, m.value.decode())))
                labels.append(label)
            res.n_labels += 1
        n_alerts = len(res.alerts)
        preds = self.learner.process_mixed(mixed)
        for reason, event_id, _, (topic, part, off, raw) in self.learner.drain_unmatched():
            res.dead.append(
                DeadLetter(raw.encode(), None, reason, event_id, topic, part, off, "learner")
            )
        start = len(res.predictions)
        res.predictions.extend(preds)
        res.alerts.extend(self.monitor.on_features(out.features))
        res.alerts.extend(
            self.monitor.on_predictions(
                preds, [(t.predictions, 0, start + i) for i in range(len(preds))]
            )
        )
        res.alerts.extend(self.monitor.on_labels(labels))
        if self.cfg.deployment.drift_challenger:
            for a in res.alerts[n_alerts:]:
                command = drift_control(a.to_json(), self.cfg.name)
                if command is not None:
                    self._controls.append(command)
        res.alerts.extend(
            lifecycle_alert(self.cfg.name, e) for e in self.learner.deployment.drain()
        )
        if self.on_batch is not None:
            self.on_batch(res)
