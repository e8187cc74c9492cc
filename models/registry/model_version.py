"""What the registry knows about one version of a model (everything but its arrays)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.registry.lineage import Lineage

__all__ = ["STATUSES", "ModelVersion"]

STATUSES = ("champion", "challenger", "shadow", "retired")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: identity, model config, metrics, lineage, parent and status.

    `config` is the model's type and hyperparameters (what the registry's factory rebuilds the
    estimator from), `metrics` its prequential metrics, `parent` the version it was trained on
    from (None for a fresh model). `status` is one of `STATUSES`; a name has at most one
    champion. `artifact_sha256` and `artifact_bytes` describe the signed artifact holding the
    learned state (read it with `Registry.load`).

    Examples
    --------
    >>> v = ModelVersion("fraud", 2, {"type": "logistic_regression"}, {"accuracy": 0.91},
    ...                  Lineage("payments.features", (0,), {"payments.features:0": (0, 9)}, 10),
    ...                  parent=1, status="challenger", created=1700000000.0)
    >>> v.ref, v.lineage.samples
    ('fraud@2', 10)
    >>> ModelVersion.from_dict(v.to_dict()) == v
    True
    """

    name: str
    version: int
    config: Mapping[str, Any]
    metrics: Mapping[str, float] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)
    parent: int | None = None
    status: str = "challenger"
    created: float = 0.0
    artifact_sha256: str = ""
    artifact_bytes: int = 0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ref(self) -> str:
        """``NAME@VERSION``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`from_dict` reads it back)."""
        return {
            "name": self.name,
            "version": self.version,
            "config": dict(self.config),
            "metrics": dict(self.metrics),
            "lineage": self.lineage.to_dict(),
            "parent": self.parent,
            "status": self.status,
            "created": self.created,
            "artifact_sha256": self.artifact_sha256,
            "artifact_bytes": self.artifact_bytes,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelVersion:
        """A version from `to_dict()` output."""
        fields = dict(raw)
        fields["lineage"] = Lineage.from_dict(fields.get("lineage", {}))
        return cls(**fields)
