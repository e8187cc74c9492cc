"""One line of the registry's append-only audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ACTIONS", "AuditEntry"]

ACTIONS = ("register", "promote", "rollback", "retire", "status")


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which model version, when, and why.

    `action` is one of `ACTIONS`; `from_version` is the champion a promotion or rollback
    replaced; `status` is the status the version was given.

    Examples
    --------
    >>> e = AuditEntry(1700000000.0, "promote", "fraud", 3, 2, "ana", "better AUC", "champion")
    >>> AuditEntry.from_dict(e.to_dict()) == e
    True
    >>> e.summary()
    'promote fraud@3 (was fraud@2) by ana: better AUC'
    """

    ts: float
    action: str
    name: str
    version: int
    from_version: int | None
    actor: str
    reason: str
    status: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"audit action must be one of {ACTIONS}, got {self.action!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuditEntry:
        """An entry from `to_dict()` output."""
        return cls(**raw)

    def summary(self) -> str:
        """One human-readable line."""
        was = f" (was {self.name}@{self.from_version})" if self.from_version is not None else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.action} {self.name}@{self.version}{was} by {self.actor}{why}"
