"""The model registry: signed versions of online models, their status, and an audit log."""

from __future__ import annotations

import hashlib
import math
import numbers
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from models.registry.artifact import Artifact, signing_key
from models.registry.audit_entry import AuditEntry
from models.registry.backend import RegistryBackend
from models.registry.catalog import Catalog
from models.registry.diff import diff_versions
from models.registry.exceptions import (
    InvalidTransitionError,
    MissingKeyError,
    RegistryError,
    TamperedArtifactError,
)
from models.registry.lineage import Lineage
from models.registry.model_version import STATUSES, ModelVersion
from models.registry.ref import Selector, check_name

__all__ = ["Registry"]

Factory = Callable[[Mapping[str, Any]], Any]


class Registry:
    """Versions of models that keep learning, like MLflow's registry, over a `RegistryBackend`.

    Each `register` stores a new version (1, 2, 3, ... per name, allocated atomically) with the
    model's config, prequential metrics, lineage and parent, and its learned state as an
    artifact signed with `key` (HMAC-SHA256). `load` checks the signature before it rebuilds the
    estimator with `factory(config)` and `load_state_dict`. A name has at most one champion:
    `promote` retires the old one, `rollback` restores the champion before the current one.
    Promotions, rollbacks and status changes are appended to an audit log that is never
    rewritten. Without a key the registry can read metadata but refuses to save or load.

    Examples
    --------
    >>> import numpy as np
    >>> from models import LogisticRegression
    >>> from models.registry import MemoryBackend
    >>> reg = Registry(MemoryBackend(), key=b"k", factory=lambda cfg: LogisticRegression(),
    ...                clock=lambda: 1700000000.0)
    >>> rng = np.random.default_rng(12345)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = LogisticRegression(); model.learn_many(X, y)
    >>> v1 = reg.register("fraud", model, config={"type": "logistic_regression"},
    ...                   metrics={"accuracy": 0.9}, status="champion", actor="ana")
    >>> v2 = reg.register("fraud", model, config={"type": "logistic_regression"}, parent=1)
    >>> [(v.version, v.status) for v in reg.versions("fraud")]
    [(1, 'champion'), (2, 'challenger')]
    >>> reg.promote("fraud", 2, reason="better on last week", actor="ana").status
    'champion'
    >>> reg.rollback("fraud", reason="alerts", actor="bob").ref
    'fraud@1'
    >>> bool(np.array_equal(reg.load("fraud").predict_proba_many(X), model.predict_proba_many(X)))
    True
    >>> [e.action for e in reg.audit("fraud")]
    ['register', 'promote', 'register', 'promote', 'rollback']
    """

    def __init__(
        self,
        backend: RegistryBackend,
        *,
        key: bytes | str | None = None,
        factory: Factory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = Catalog(backend)
        self.factory = factory
        self._key = signing_key(key)
        self._clock = clock

    def __repr__(self) -> str:
        return f"Registry({self.catalog.backend!r}, key={'***' if self._key else None})"

    # --- reading --------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every registered model name, sorted."""
        return self.catalog.names()

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first."""
        return [self.catalog.version(name, n) for n in self.catalog.numbers(name)]

    def get(self, name: str, version: Selector = None) -> ModelVersion:
        """One version: a number, ``"champion"``, ``"latest"``, or None (the champion if there
        is one, else the latest)."""
        return self.catalog.version(name, self.catalog.resolve(name, version))

    def load(self, name: str, version: Selector = None) -> Any:
        """The estimator of a version, rebuilt from its signed config and state."""
        if self.factory is None:
            raise RegistryError("the registry has no model factory: pass factory= to Registry")
        artifact = self._open(name, version)
        model = self.factory(artifact.info["config"])
        model.load_state_dict(artifact.state)
        return model

    def state(self, name: str, version: Selector = None) -> dict[str, Any]:
        """The verified `state_dict()` of a version."""
        return dict(self._open(name, version).state)

    def artifact(self, name: str, version: Selector = None) -> bytes:
        """The signed artifact bytes of a version, as stored (not verified)."""
        return self.catalog.artifact(name, self.catalog.resolve(name, version))

    def diff(self, name: str, a: Selector, b: Selector) -> dict[str, Any]:
        """Hyperparameter, metric and parameter differences of two versions (`diff_versions`)."""
        va, vb = self.get(name, a), self.get(name, b)
        return diff_versions(va, vb, self.state(name, va.version), self.state(name, vb.version))

    def audit(self, name: str | None = None) -> list[AuditEntry]:
        """The audit log (of one model, or all), oldest first."""
        return self.catalog.audit(name)

    # --- writing --------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        *,
        config: Mapping[str, Any],
        metrics: Mapping[str, float] | None = None,
        lineage: Lineage | Mapping[str, Any] | None = None,
        parent: int | None = None,
        status: str = "challenger",
        actor: str = "riffle",
        reason: str = "",
    ) -> ModelVersion:
        """Store `model`'s learned state as the next version of `name`.

        `config` is what the factory rebuilds the model from (its type and hyperparameters).
        A version registered as ``"champion"`` is registered, then promoted.
        """
        check_name(name)
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        if self._key is None:  # refuse before a version number is allocated
            raise MissingKeyError("refusing to register an unsigned model: no signing key")
        lin = lineage if isinstance(lineage, Lineage) else Lineage.from_dict(lineage or {})
        clean = _metrics(metrics or {})
        try:
            orjson.dumps(dict(config))
        except TypeError as exc:
            raise ValueError(f"config must be plain JSON with str keys: {exc}") from None
        if parent is not None:
            self.catalog.resolve(name, parent)
        state = model.state_dict()
        n = self.catalog.allocate(name)
        info = {"name": name, "version": n, "config": dict(config), "lineage": lin.to_dict()}
        info |= {"parent": parent, "created": self._clock()}
        data = Artifact(info, state).to_bytes(self._key)
        meta = info | {"artifact_sha256": hashlib.sha256(data).hexdigest()}
        first = "challenger" if status == "champion" else status
        self.catalog.write_version(
            name, n, data, meta | {"artifact_bytes": len(data)}, clean, first
        )
        self._log("register", name, n, None, actor, reason, first)
        if status == "champion":
            return self.promote(name, n, reason=reason or "registered as champion", actor=actor)
        return self.get(name, n)

    def promote(self, name: str, version: Selector, *, reason: str, actor: str) -> ModelVersion:
        """Make a version the champion (after checking its artifact); the old one is retired."""
        n = self.catalog.resolve(name, version)
        current = self.catalog.champion(name)
        if current == n:
            raise InvalidTransitionError(f"{name}@{n} is already the champion")
        self._open(name, n)  # never promote an artifact that does not verify
        self.catalog.crown(name, n, current)
        self._log("promote", name, n, current, actor, reason, "champion")
        return self.get(name, n)

    def rollback(self, name: str, *, reason: str, actor: str) -> ModelVersion:
        """Restore the champion before the current one, as the audit log records them: each
        promotion pushes a champion, each rollback pops one."""
        self.catalog.numbers(name)  # an unknown name is UnknownModelError
        history: list[int] = []
        for entry in self.catalog.audit(name):
            if entry.action == "promote":
                history.append(entry.version)
            elif entry.action == "rollback" and history:
                history.pop()
        current = self.catalog.champion(name)
        if current is None or len(history) < 2:
            raise InvalidTransitionError(f"{name} has no previous champion to roll back to")
        target = history[-2]
        self._open(name, target)
        self.catalog.crown(name, target, current)
        self._log("rollback", name, target, current, actor, reason, "champion")
        return self.get(name, target)

    def set_status(
        self, name: str, version: Selector, status: str, *, reason: str, actor: str
    ) -> ModelVersion:
        """Set a version's status; ``"champion"`` promotes it. The champion itself changes only
        by a promotion of another version or a rollback."""
        if status == "champion":
            return self.promote(name, version, reason=reason, actor=actor)
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        n = self.catalog.resolve(name, version)
        if self.catalog.champion(name) == n:
            raise InvalidTransitionError(
                f"{name}@{n} is the champion: promote another version or roll back instead"
            )
        self.catalog.set_status(name, n, status)
        self._log(
            "retire" if status == "retired" else "status", name, n, None, actor, reason, status
        )
        return self.get(name, n)

    def update_metrics(
        self, name: str, version: Selector, metrics: Mapping[str, float]
    ) -> ModelVersion:
        """Merge prequential metrics into a version's (not audited: they change all the time)."""
        n = self.catalog.resolve(name, version)
        self.catalog.merge_metrics(name, n, _metrics(metrics))
        return self.get(name, n)

    # --- internals ------------------------------------------------------------------------------

    def _open(self, name: str, version: Selector) -> Artifact:
        n = self.catalog.resolve(name, version)
        what = f"artifact {name}@{n}"
        art = Artifact.from_bytes(self.catalog.artifact(name, n), self._key, what=what)
        if (art.info.get("name"), art.info.get("version")) != (name, n):
            found = f"{art.info.get('name')}@{art.info.get('version')}"
            raise TamperedArtifactError(f"{what} holds the signed artifact of {found}")
        return art

    def _log(
        self, action: str, name: str, n: int, was: int | None, actor: str, reason: str, status: str
    ) -> None:
        self.catalog.log(AuditEntry(self._clock(), action, name, n, was, actor, reason, status))


def _metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    clean = {}
    for k, v in metrics.items():
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        if not isinstance(k, str) or not ok:
            raise ValueError(f"metric {k!r} must have a str name and a finite value, got {v!r}")
        clean[k] = float(v)
    return clean
