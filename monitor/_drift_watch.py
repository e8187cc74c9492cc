"""Concept-drift episodes of a `StreamMonitor`: model outcomes in, drift alerts out."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from monitor._episode import Episode, Source
from monitor.alert import Alert

RECENT = 200  # outcomes behind the error rate quoted in drift alerts


class Drift(Protocol):
    def update_many(self, values: Any) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class DriftWatch:
    """Feeds outcomes (1 = the model was wrong) to a drift detector and turns its detections
    into episodes: a detection outside an episode fires, one inside extends it, and the
    ``cooldown``-th outcome after the last detection resolves it. Keeps the recent error rate.
    """

    def __init__(
        self,
        stream: str,
        drift: Drift,
        cooldown: int,
        name: str,
        view_version: str | None,
    ) -> None:
        self.stream = stream
        self.drift = drift
        self.cooldown = cooldown
        self.name = name
        self.view_version = view_version
        self.recent: deque[float] = deque(maxlen=RECENT)
        self.episode: Episode | None = None

    @property
    def error_rate(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else 0.0

    def observe(
        self,
        errors: np.ndarray,
        ts: Sequence[int],
        sources: Sequence[Source],
        model_version: str | None,
        event_ids: Sequence[str] | None,
        base: int,
    ) -> list[Alert]:
        """Alerts for a non-empty batch of outcomes, the first being outcome ``base``."""
        n = len(errors)
        hits = self.drift.update_many(errors).tolist()
        alerts: list[Alert] = []
        done = 0  # outcomes of this batch already in the error-rate window

        def upto(i: int) -> None:
            nonlocal done
            self.recent.extend(errors[done : i + 1].tolist())
            done = max(done, i + 1)

        def end_before(limit: int) -> None:
            ep = self.episode
            if ep is not None and ep.last + self.cooldown - base < limit:
                j = ep.last + self.cooldown - base
                upto(j)
                details = {
                    "event_id": event_ids[j] if event_ids is not None else None,
                    "outcomes_seen": base + j + 1,
                    "detections": ep.detections,
                    "episode_outcomes": base + j - ep.first,
                    "error_rate_window": len(self.recent),
                }
                alerts.append(
                    ep.alert.resolve(
                        int(ts[j]), sources[j], self.error_rate, details, model_version
                    )
                )
                self.episode = None

        for i in hits:
            end_before(i)
            upto(i)
            ep = self.episode
            if ep is not None:
                ep.last = base + i
                ep.detections += 1
                continue
            alert = Alert.create(
                self.stream,
                "drift",
                self.name,
                "error_rate",
                self.error_rate,
                0.0,
                "critical",
                int(ts[i]),
                sources[i],
                model_version=model_version,
                view_version=self.view_version,
                details={
                    "outcomes_seen": base + i + 1,
                    "event_id": event_ids[i] if event_ids is not None else None,
                    "error_rate_window": len(self.recent),
                },
            )
            alerts.append(alert)
            self.episode = Episode(alert, base + i)
        end_before(n)
        upto(n - 1)
        return alerts

    def load_recent(self, values: Sequence[Any]) -> None:
        self.recent = deque((float(v) for v in values), maxlen=RECENT)
