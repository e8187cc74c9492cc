"""Kafka binding of the learner: `<s>.features` + `<s>.labels` → `<s>.predictions` and reply
topics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import orjson

from featurestore import DeadLetter, FeatureRecord, InvalidEventError
from streams.config import StreamConfig
from streams.deployment import STATUSES, Control, Member
from streams.deployment_control import decode_control, drift_control, lifecycle_alert
from streams.learner import Label, Learner
from streams.metrics import METRICS
from streams.records import decode_label
from streams.registry_sync import RegistrySync
from streams.stage_loop import Batch, StageLoop

__all__ = ["LearnerLoop"]

log = logging.getLogger("riffle.learner")


class LearnerLoop(StageLoop):
    stage = "learner"
    align = True

    def __init__(
        self, cfg: StreamConfig, registry: RegistrySync | None = None, **kwargs: Any
    ) -> None:
        t = cfg.topics
        topics = [t.features, t.labels, t.control]
        if cfg.deployment.drift_challenger:
            topics.append(t.alerts)  # the control plane: drift alerts start challengers
        super().__init__(cfg.name, topics, dlq_topic=t.dlq, **kwargs)
        self.from_end.add(t.alerts)
        self.cfg = cfg
        self.learner = self._fresh()
        self.lifecycle: list[dict[str, Any]] = []  # deployment events, newest last (bounded)
        self.registry = registry
        self._to_register: list[dict[str, Any]] = []

    def _fresh(self) -> Learner:
        return Learner(
            self.cfg.name,
            self.cfg.view.feature_names,
            self.cfg.model,
            max_pending=self.cfg.max_pending_labels,
            deployment=self.cfg.deployment,
        )

    async def handle(self, batch: Batch) -> list[Awaitable[Any]]:
        names = self.cfg.view.feature_names
        features: list[FeatureRecord] = []
        dead: list[DeadLetter] = []
        items: list[FeatureRecord | Label | Control] = []
        t = self.cfg.topics
        for tp, m in batch:
            value = m.value or b""
            try:
                if tp.topic == t.labels:
                    event_id, y = decode_label(value)
                    where = (tp.topic, tp.partition, m.offset, value.decode())
                    items.append((event_id, y, where))
                    continue
                if tp.topic == t.alerts:
                    start = drift_control(value, self.stream)
                    if start is not None:
                        items.append(start)
                    continue
                if tp.topic == t.control:
                    items.append(decode_control(value))
                    continue
                rec = FeatureRecord.from_json(value, names)
                for k, v in m.headers:
                    if v is None:
                        continue
                    if k == "reply-to":
                        rec.reply_to = v.decode()
                    elif k == "correlation-id":
                        rec.correlation_id = v.decode()
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
            features.append(rec)
            items.append(rec)
        futs = await self.send_dead(dead)
        send = self.producer.send
        out = self.cfg.topics.predictions
        by_id = {r.event_id: r for r in features}
        # replays of records already learned are skipped, so pair predictions by event id
        for pred in self.learner.process_mixed(items):
            rec = by_id[pred.event_id]
            value = pred.to_json()
            key = rec.entity.encode()
            ts = rec.source_ts or None
            futs.append(await send(out, value, key=key, timestamp_ms=ts))
            if rec.reply_to:
                # best effort: the prediction is on the predictions topic whatever happens to
                # the reply, and a requester's bad reply topic must not stall the stream
                headers = [("correlation-id", (rec.correlation_id or "").encode())]
                reply = await send(rec.reply_to, value, key=key, headers=headers, timestamp_ms=ts)
                reply.add_done_callback(self._reply_done)
        futs.extend(await self.send_dead(self._unmatched()))
        futs.extend(await self._publish_lifecycle())
        lr = self.learner
        METRICS.set(
            "riffle_prequential_accuracy", lr.accuracy, stream=self.stream, model=lr.model_id
        )
        METRICS.set(
            "riffle_rolling_accuracy", lr.rolling_accuracy, stream=self.stream, model=lr.model_id
        )
        METRICS.set("riffle_model_predicted", lr.n_predicted, stream=self.stream, model=lr.model_id)
        METRICS.set("riffle_model_learned", lr.n_learned, stream=self.stream, model=lr.model_id)
        METRICS.set("riffle_unmatched_labels", lr.n_unmatched_labels, stream=self.stream)
        for outcome, n in (
            ("late_label", lr.n_late_labels),
            ("unknown_event", lr.n_unknown_labels),
            ("unlabelled_event", lr.n_unlabelled),
        ):
            METRICS.set("riffle_label_join", n, stream=self.stream, outcome=outcome)
        return futs

    def _unmatched(self) -> list[DeadLetter]:
        """Labels that will never be learned go to the DLQ with the reason: ``late_label``
        (its event's wait had ended) or ``unknown_event`` (no event came within the TTL)."""
        dead = []
        for reason, event_id, _, source in self.learner.drain_unmatched():
            topic, partition, offset, raw = source or (self.cfg.topics.labels, -1, -1, "")
            message = (
                f"label for event {event_id!r} arrived after the event's label wait ended"
                if reason == "late_label"
                else f"no event {event_id!r} arrived within the label TTL"
            )
            dead.append(
                DeadLetter(raw.encode(), None, reason, message, topic, partition, offset, "learner")
            )
        return dead

    async def _publish_lifecycle(self) -> list[Awaitable[Any]]:
        """Deployment events as alerts (ops see promotions where they see drift) and in the
        registry's audit log; per-model metrics for every deployed model."""
        futs = []
        dep = self.learner.deployment
        events = dep.drain()
        if self.registry is not None and (events or self._to_register):
            await self.registry.record(self._to_register + events, self.learner.seen)
            self._to_register = []
        for event in events:
            alert = lifecycle_alert(self.stream, event)
            futs.append(
                await self.producer.send(
                    self.cfg.topics.alerts, alert.to_json(), key=self.stream.encode()
                )
            )
            log.info("%s deployment: %s", self.stream, alert.details)
            self.lifecycle.append(alert.details)
            del self.lifecycle[:-100]
        for mid, m in dep.members.items():
            labels = {"stream": self.stream, "model": mid}
            METRICS.set("riffle_model_accuracy", m.accuracy.get(), **labels)
            METRICS.set("riffle_model_rolling_accuracy", m.rolling.get(), **labels)
            METRICS.set("riffle_model_status", STATUSES.index(m.status), **labels)
        for mid, d in dep.decisions().items():
            METRICS.set("riffle_promotion_p_value", d.p_value, stream=self.stream, model=mid)
        return futs

    def _reply_done(self, fut: Any) -> None:
        if fut.cancelled() or fut.exception() is not None:
            METRICS.inc("riffle_reply_errors_total", 1, stream=self.stream)
            log.warning("reply failed: %s", "cancelled" if fut.cancelled() else fut.exception())

    def state_dict(self, partition: int | None) -> dict[str, Any]:
        versions = self.registry.versions if self.registry is not None else {}
        return self.learner.state_dict() | {"registry": dict(versions)}

    def load_state_dict(self, partition: int | None, state: dict[str, Any] | None) -> None:
        self.learner = self._fresh()
        if state is not None:
            self.learner.load_state_dict(state)
            if self.registry is not None:
                self.registry.versions = {
                    str(k): int(v) for k, v in state.get("registry", {}).items()
                }
        elif self.registry is not None:
            # a fresh learner: its models are registered before they learn anything
            self.registry.versions = {}
            # (fresh copies: the live members learn before the first registration runs)
            self._to_register = [
                {"action": "initial", "reason": "deployed", "actor": "riffle"}
                | {"member": Member(m.config, m.version, m.status, m.origin, m.parent)}
                for m in self.learner.deployment.members.values()
            ]
