"""Where a model version's training data came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Lineage"]


@dataclass(frozen=True)
class Lineage:
    """The topic, partitions and offset ranges a model version learned from, and how many
    samples.

    `offsets` maps ``"topic:partition"`` to the first and last offset learned (inclusive).

    Examples
    --------
    >>> lin = Lineage("payments.features", (0, 1), {"payments.features:0": (0, 999)}, 1000)
    >>> lin.to_dict()["offsets"]
    {'payments.features:0': [0, 999]}
    >>> Lineage.from_dict(lin.to_dict()) == lin
    True
    >>> Lineage(offsets={"t:0": (5, 2)})
    Traceback (most recent call last):
    ...
    ValueError: lineage offsets for 't:0': first 5 > last 2
    """

    topic: str | None = None
    partitions: tuple[int, ...] = ()
    offsets: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    samples: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitions", tuple(int(p) for p in self.partitions))
        offsets: dict[str, tuple[int, int]] = {}
        for where, pair in self.offsets.items():
            if not isinstance(where, str) or ":" not in where:
                raise ValueError(f"lineage offsets are keyed 'topic:partition', got {where!r}")
            first, last = (int(v) for v in pair)
            if first > last:
                raise ValueError(f"lineage offsets for {where!r}: first {first} > last {last}")
            offsets[where] = (first, last)
        object.__setattr__(self, "offsets", offsets)
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 0:
            raise ValueError(f"lineage samples must be an integer >= 0, got {self.samples!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`from_dict` reads it back)."""
        return {
            "topic": self.topic,
            "partitions": list(self.partitions),
            "offsets": {k: list(v) for k, v in self.offsets.items()},
            "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Lineage:
        """A lineage from `to_dict()` output or a hand-written mapping with the same keys."""
        unknown = set(raw) - {"topic", "partitions", "offsets", "samples"}
        if unknown:
            raise ValueError(f"unknown lineage keys: {sorted(unknown)}")
        partitions: Iterable[int] = raw.get("partitions", ())
        return cls(
            raw.get("topic"),
            tuple(partitions),
            {k: (v[0], v[1]) for k, v in dict(raw.get("offsets", {})).items()},
            raw.get("samples", 0),
        )
