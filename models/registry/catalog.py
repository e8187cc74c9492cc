"""Where the registry keeps what: its key layout over a `RegistryBackend`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from models.registry.audit_entry import AuditEntry
from models.registry.backend import RegistryBackend
from models.registry.exceptions import UnknownModelError, UnknownVersionError
from models.registry.model_version import ModelVersion
from models.registry.ref import Selector

__all__ = ["Catalog"]


class Catalog:
    """The registry's records, without its rules (those are `Registry`'s).

    Keys, under the backend's namespace (a Redis prefix such as ``riffle:registry``, or a
    directory)::

        names                   list     every model name, appended with its version 1
        audit                   list     every audit entry (JSON), oldest first
        {name}:audit            list     the model's audit entries
        {name}:last_version     counter  INCR'd to allocate version numbers
        {name}:versions         list     version numbers, appended once a version is written
        {name}:champion         value    the champion's version number
        {name}:v{n}:artifact    value    the signed artifact (`Artifact`)
        {name}:v{n}:meta        value    JSON: immutable facts (config, lineage, parent, ...)
        {name}:v{n}:status      value    challenger | shadow | retired | champion
        {name}:v{n}:metrics     value    JSON: metric name -> float

    Mutable fields (status, metrics, champion) sit in keys of their own, so a metrics update
    can never undo a concurrent promotion.

    Examples
    --------
    >>> from models.registry import MemoryBackend
    >>> cat = Catalog(MemoryBackend())
    >>> cat.allocate("fraud"), cat.allocate("fraud"), cat.names()
    (1, 2, ['fraud'])
    >>> cat.numbers("fraud")  # allocated, not written yet
    []
    >>> cat.numbers("spam")
    Traceback (most recent call last):
    ...
    models.registry.exceptions.UnknownModelError: unknown model 'spam'; registered: fraud
    """

    def __init__(self, backend: RegistryBackend) -> None:
        self.backend = backend

    def names(self) -> list[str]:
        """Every model name, sorted."""
        return sorted({raw.decode() for raw in self.backend.read_list("names")})

    def numbers(self, name: str) -> list[int]:
        """The version numbers of `name`, ascending; `UnknownModelError` for an unknown name."""
        have = sorted({int(raw) for raw in self.backend.read_list(f"{name}:versions")})
        if not have and name not in self.names():
            raise UnknownModelError(name, self.names())
        return have

    def champion(self, name: str) -> int | None:
        raw = self.backend.get(f"{name}:champion")
        return None if raw is None else int(raw)

    def resolve(self, name: str, selector: Selector) -> int:
        """The version number a selector names: an int, "champion", "latest", or None (the
        champion if there is one, else the latest)."""
        have = self.numbers(name)
        if selector in (None, "champion"):
            champion = self.champion(name)
            if champion is not None:
                return champion
            if selector == "champion" or not have:
                raise UnknownVersionError(name, "champion" if have else "latest", have)
            return have[-1]
        if selector == "latest":
            if not have:
                raise UnknownVersionError(name, "latest", have)
            return have[-1]
        if isinstance(selector, bool) or not isinstance(selector, int) or selector not in have:
            raise UnknownVersionError(name, selector, have)
        return selector

    def version(self, name: str, n: int) -> ModelVersion:
        raw = self.backend.get(f"{name}:v{n}:meta")
        if raw is None:
            raise UnknownVersionError(name, n, self.numbers(name))
        meta = orjson.loads(raw)
        stored = (self.backend.get(f"{name}:v{n}:status") or b"challenger").decode()
        # a stored "champion" that the pointer no longer names was demoted mid-promotion
        is_champion = self.champion(name) == n
        meta["status"] = (
            "champion" if is_champion else "retired" if stored == "champion" else stored
        )
        meta["metrics"] = orjson.loads(self.backend.get(f"{name}:v{n}:metrics") or b"{}")
        return ModelVersion.from_dict(meta)

    def artifact(self, name: str, n: int) -> bytes:
        data = self.backend.get(f"{name}:v{n}:artifact")
        if data is None:
            raise UnknownVersionError(name, n, self.numbers(name))
        return data

    def allocate(self, name: str) -> int:
        """The next version number of `name` (atomic: two writers never get the same)."""
        n = self.backend.incr(f"{name}:last_version")
        if n == 1:
            self.backend.append("names", name.encode())
        return n

    def write_version(
        self,
        name: str,
        n: int,
        artifact: bytes,
        meta: Mapping[str, Any],
        metrics: Mapping[str, float],
        status: str,
    ) -> None:
        """Store a new version; it is listed only once every part of it is written."""
        self.backend.put(f"{name}:v{n}:artifact", artifact)
        self.backend.put(f"{name}:v{n}:meta", orjson.dumps(dict(meta)))
        self.backend.put(f"{name}:v{n}:metrics", orjson.dumps(dict(metrics)))
        self.backend.put(f"{name}:v{n}:status", status.encode())
        self.backend.append(f"{name}:versions", str(n).encode())

    def set_status(self, name: str, n: int, status: str) -> None:
        self.backend.put(f"{name}:v{n}:status", status.encode())

    def crown(self, name: str, n: int, current: int | None) -> None:
        """Make `n` the champion and retire `current`."""
        self.backend.put(f"{name}:v{n}:status", b"champion")
        self.backend.put(f"{name}:champion", str(n).encode())
        if current is not None and current != n:
            self.backend.put(f"{name}:v{current}:status", b"retired")

    def merge_metrics(self, name: str, n: int, metrics: Mapping[str, float]) -> None:
        current = orjson.loads(self.backend.get(f"{name}:v{n}:metrics") or b"{}")
        self.backend.put(f"{name}:v{n}:metrics", orjson.dumps(current | dict(metrics)))

    def log(self, entry: AuditEntry) -> None:
        """Append to the audit log (the model's and the global one)."""
        line = orjson.dumps(entry.to_dict())
        self.backend.append(f"{entry.name}:audit", line)
        self.backend.append("audit", line)

    def audit(self, name: str | None = None) -> list[AuditEntry]:
        key = "audit" if name is None else f"{name}:audit"
        return [AuditEntry.from_dict(orjson.loads(raw)) for raw in self.backend.read_list(key)]
