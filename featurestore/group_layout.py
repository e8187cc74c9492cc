"""Which event values a window group reads, and where each of its aggregates comes from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from featurestore.aggregation import Aggregation

__all__ = ["NUMERIC", "GroupLayout", "unique"]

# aggregations of a numeric field over a window's members
NUMERIC = frozenset({"sum", "mean", "std", "min", "max", "last"})


def unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class GroupLayout:
    """For the aggregates of one window: ``fidx`` are the positions of the numeric fields in the
    event's numeric values, ``didx``/``dprec`` those of the distinct keys and their precisions;
    ``plan`` lists per aggregate its kind and the index of its field (or distinct key)."""

    fidx: list[int]
    didx: list[int]
    dprec: list[int]
    plan: list[tuple[str, int]]

    @classmethod
    def of(
        cls, specs: Sequence[Aggregation], num_pos: dict[str, int], key_pos: dict[str, int]
    ) -> GroupLayout:
        fields = unique([s.field for s in specs if s.kind in NUMERIC])
        dkeys = unique([(s.field, s.precision) for s in specs if s.kind == "distinct"])
        plan: list[tuple[str, int]] = []
        for s in specs:
            if s.kind in ("count", "rate"):
                plan.append((s.kind, 0))
            elif s.kind == "distinct":
                plan.append(("distinct", dkeys.index((s.field, s.precision))))
            else:
                plan.append((s.kind, fields.index(s.field)))
        return cls(
            [num_pos[f] for f in fields],
            [key_pos[f] for f, _ in dkeys],
            [p for _, p in dkeys],
            plan,
        )
