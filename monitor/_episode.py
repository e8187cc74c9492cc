"""An open stream-level alert episode (concept or data drift) and its checkpoint form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.alert import Alert

Source = tuple[str, int, int]


class Episode:
    """An open stream-level episode: its firing alert, the index of its last detection, how
    many detections it had and (data drift) every feature that drifted in it."""

    __slots__ = ("alert", "detections", "features", "first", "last")

    def __init__(self, alert: Alert, first: int, features: Sequence[str] = ()) -> None:
        self.alert = alert
        self.first = self.last = first
        self.detections = 1
        self.features = list(features)

    def state(self) -> list[Any]:
        return [self.alert.to_dict(), self.first, self.last, self.detections, self.features]

    @classmethod
    def load(cls, state: list[Any] | None) -> Episode | None:
        if state is None:
            return None
        alert, first, last, detections, features = state
        ep = cls(Alert.from_dict(alert), int(first), [str(f) for f in features])
        ep.last, ep.detections = int(last), int(detections)
        return ep
