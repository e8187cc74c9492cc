"""Kafka binding of the learner: `<s>.features` + `<s>.labels` → `<s>.predictions` and reply
topics."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson

from featurestore import DeadLetter, FeatureRecord, InvalidEventError
from streams.config import StreamConfig
from streams.learner import Label, Learner
from streams.metrics import METRICS
from streams.records import decode_label
from streams.stage_loop import Batch, StageLoop

__all__ = ["LearnerLoop"]


class LearnerLoop(StageLoop):
    stage = "learner"
    align = True

    def __init__(self, cfg: StreamConfig, **kwargs: Any) -> None:
        super().__init__(
            cfg.name, [cfg.topics.features, cfg.topics.labels], dlq_topic=cfg.topics.dlq, **kwargs
        )
        self.cfg = cfg
        self.learner = self._fresh()

    def _fresh(self) -> Learner:
        return Learner(
            self.cfg.name,
            self.cfg.view.feature_names,
            self.cfg.model,
            max_pending=self.cfg.max_pending_labels,
        )

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        names = self.cfg.view.feature_names
        features: list[FeatureRecord] = []
        dead: list[DeadLetter] = []
        items: list[FeatureRecord | Label] = []
        labels_topic = self.cfg.topics.labels
        for tp, m in batch:
            value = m.value or b""
            try:
                if tp.topic == labels_topic:
                    items.append(decode_label(value))
                    continue
                rec = FeatureRecord.from_json(value, names)
            except (
                InvalidEventError,
                orjson.JSONDecodeError,
                KeyError,
                TypeError,
                ValueError,
            ) as exc:
                reason = exc.reason if isinstance(exc, InvalidEventError) else "bad_features"
                dead.append(
                    DeadLetter(
                        value,
                        m.key,
                        reason,
                        str(exc),
                        tp.topic,
                        tp.partition,
                        m.offset,
                        stage=self.stage,
                    )
                )
                continue
            for k, v in m.headers:
                if k == "reply-to":
                    rec.reply_to = v.decode()
                elif k == "correlation-id":
                    rec.correlation_id = v.decode()
            features.append(rec)
            items.append(rec)
        futs = await self.send_dead(dead)
        send = self.producer.send
        out = self.cfg.topics.predictions
        for rec, pred in zip(features, self.learner.process_mixed(items), strict=True):
            value = pred.to_json()
            key = rec.entity.encode()
            ts = rec.source_ts or None
            futs.append(await send(out, value, key=key, timestamp_ms=ts))
            if rec.reply_to:
                headers = [("correlation-id", (rec.correlation_id or "").encode())]
                futs.append(
                    await send(rec.reply_to, value, key=key, headers=headers, timestamp_ms=ts)
                )
        lr = self.learner
        METRICS.set(
            "riffle_prequential_accuracy", lr.accuracy, stream=self.stream, model=lr.model_id
        )
        METRICS.set(
            "riffle_rolling_accuracy", lr.rolling_accuracy, stream=self.stream, model=lr.model_id
        )
        METRICS.set("riffle_unmatched_labels", lr.n_unmatched_labels, stream=self.stream)
        return futs

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        return self.learner.state_dict()

    def load_state_dict(self, partition: int | None, state: dict[str, Any] | None) -> None:
        self.learner = self._fresh()
        if state is not None:
            self.learner.load_state_dict(state)
