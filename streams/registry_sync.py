"""Recording a stream's deployment in the model registry: every model the learner deploys
becomes a signed version, and promotions, rollbacks and retirements go to the audit log.

All of a stream's models are versions of one registry name (the stream's `model.name`), so
the registry's single champion pointer and its rollback follow the learner's. Registry calls
are synchronous; the learner loop runs them in a thread. A registry failure is logged and
counted, never allowed to stop the stream (the learner's own checkpoint stays the truth).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from models.registry import Lineage, Registry, RegistryError
from streams.config import RiffleConfig, StreamConfig
from streams.deployment import Member
from streams.exceptions import RiffleError
from streams.metrics import METRICS
from streams.registry_redis import model_config, open_registry

__all__ = ["RegistrySync"]

log = logging.getLogger("riffle.registry")


class RegistrySync:
    """Mirrors one stream's deployment into a `Registry`."""

    def __init__(self, registry: Registry, stream: StreamConfig) -> None:
        self.registry = registry
        self.stream = stream
        self.name = stream.model.name
        # member id (name@version in the stream) -> registry version; checkpointed
        self.versions: dict[str, int] = {}

    @classmethod
    def from_config(cls, cfg: RiffleConfig, stream: StreamConfig) -> RegistrySync | None:
        reg = cfg.registry
        if reg.key is None:
            log.warning(
                "no registry key (RIFFLE_REGISTRY_KEY): model versions of %s are not recorded",
                stream.name,
            )
            return None
        url = reg.url.get() if reg.url is not None else cfg.redis_url.get()
        return cls(open_registry(url, key=reg.key.get(), prefix=reg.prefix), stream)

    def _lineage(self, seen: Mapping[str, int], samples: int) -> Lineage:
        offsets = {k: (0, int(v)) for k, v in seen.items()}
        parts = sorted({int(k.rsplit(":", 1)[1]) for k in offsets})
        return Lineage(self.stream.topics.events, tuple(parts), offsets, samples)

    def _register(
        self, m: Member, status: str, seen: Mapping[str, int], reason: str, actor: str
    ) -> int:
        # a snapshot of a model registered before descends from that version; a new model
        # from the model it was started beside
        parent = self.versions.get(m.model_id)
        if parent is None and m.parent:
            parent = self.versions.get(m.parent)
        v = self.registry.register(
            self.name,
            m.model,
            config=model_config(m.config),
            metrics={"accuracy": m.accuracy.get(), "rolling_accuracy": m.rolling.get()},
            lineage=self._lineage(seen, m.n_learned),
            parent=parent,
            status=status,
            actor=actor,
            reason=f"{m.model_id} on stream {self.stream.name}: {reason}",
        )
        self.versions[m.model_id] = v.version
        return v.version

    def _apply(self, event: Mapping[str, Any], seen: Mapping[str, int]) -> None:
        action, actor, reason = event["action"], event.get("actor", "riffle"), event["reason"]
        m: Member | None = event.get("member")
        if action == "initial" and m is not None:
            self._register(m, m.status, {}, reason, actor)  # nothing learned yet
        elif action == "start" and m is not None:
            self._register(m, "challenger", seen, reason, actor)
        elif action == "promote" and m is not None:
            # the promoted model as it stands now: a new version, then the champion
            self._register(m, "champion", seen, reason, actor)
        elif action == "rollback":
            self.registry.rollback(self.name, reason=reason, actor=actor)
        elif action == "retire":
            v = self.versions.get(str(event.get("model")))
            if v is not None:
                self.registry.set_status(self.name, v, "retired", reason=reason, actor=actor)

    async def record(self, events: list[dict[str, Any]], seen: Mapping[str, int]) -> None:
        for event in events:
            try:
                await asyncio.to_thread(self._apply, event, dict(seen))
            except (RegistryError, RiffleError, OSError, ValueError) as exc:
                METRICS.inc("riffle_registry_errors_total", 1, stream=self.stream.name)
                log.warning(
                    "registry: %s of %s not recorded: %s", event["action"], event.get("model"), exc
                )
