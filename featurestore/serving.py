"""Feature serving: the latest vector of entities in a view, as the HTTP API answers it.

Pure logic over an `OnlineStore`; the web layer (`streams.app`) only maps its exceptions to
status codes: `UnknownViewError` → 404, `InvalidRequestError` → its `status` (400, or 413 for
`BatchTooLargeError`), `StoreUnavailableError` → 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from featurestore.answers import VectorBlock, block_of, render_answers
from featurestore.exceptions import FeatureStoreError
from featurestore.store import OnlineStore, StoredVector
from featurestore.view import FeatureView

__all__ = [
    "BatchTooLargeError",
    "FeatureServer",
    "InvalidRequestError",
    "Transform",
    "UnknownViewError",
]

Transform = Callable[[dict[str, float]], dict[str, float]]


class UnknownViewError(FeatureStoreError, KeyError):
    """No feature view of that name is served here."""

    def __init__(self, view: str, known: Sequence[str] = ()) -> None:
        super().__init__(f"unknown feature view {view!r}; serving {sorted(known)}")
        self.view = view

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


class InvalidRequestError(FeatureStoreError, ValueError):
    """A request that cannot be answered as sent (bad body, bad entity)."""

    status = 400


class BatchTooLargeError(InvalidRequestError):
    """More entities in one request than the server's `max_batch`."""

    status = 413


class FeatureServer:
    """Answers "the current feature vector of these entities" from an online store.

    `views` maps the served name to its `FeatureView`; `transforms` optionally maps a served name
    to a function applied to a copy of each found vector's values before answering. Answers are
    plain dicts, ready for JSON; a missing (or expired) entity is `found: false`, not an error.

    >>> import asyncio
    >>> from featurestore.memory_store import InMemoryStore
    >>> from featurestore.record import FeatureRecord
    >>> view = FeatureView("txn", fields=("amount",), aggregations=("count",))
    >>> store = InMemoryStore()
    >>> rec = FeatureRecord("e1", "alice", 1_000, [2.5, 1.0], None, "txn", 1,
    ...                     names=view.feature_names)
    >>> _ = asyncio.run(store.write_many(view, [rec]))
    >>> server = FeatureServer(store, {"txn": view}, clock=lambda: 4.0)
    >>> answer = asyncio.run(server.get("txn", "alice"))
    >>> answer["found"], answer["values"], answer["age_ms"]
    (True, {'amount': 2.5, 'count_5m': 1.0}, 3000)
    >>> [r["found"] for r in asyncio.run(server.get_many("txn", ["alice", "bob"]))["results"]]
    [True, False]
    """

    def __init__(
        self,
        store: OnlineStore,
        views: Mapping[str, FeatureView],
        transforms: Mapping[str, Transform] | None = None,
        max_batch: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        transforms = dict(transforms or {})
        stray = set(transforms) - set(views)
        if stray:
            raise ValueError(f"transforms for views that are not served: {sorted(stray)}")
        self.store = store
        self.views = dict(views)
        self.transforms = transforms
        self.max_batch = max_batch
        self.clock = clock

    def view(self, name: str) -> FeatureView:
        """The served view of that name, or `UnknownViewError`."""
        try:
            return self.views[name]
        except KeyError:
            raise UnknownViewError(name, list(self.views)) from None

    async def get(
        self, view_name: str, entity: str | int, fields: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """The answer for one entity: view, version, then the fields of a batch result.

        ``fields`` are request-time data: the view's transforms are recomputed from the stored
        vector with these values laid over it (e.g. the channel of the request being scored)."""
        view = self.view(view_name)
        key = _entity(entity)
        [vec] = await self.store.read_many(view, [key])
        now = int(self.clock() * 1000)
        return {
            "view": view_name,
            "version": view.version,
            **self._result(view_name, key, vec, now, fields),
        }

    async def get_many(
        self,
        view_name: str,
        entities: Sequence[str | int],
        fields: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        """One result per entity, in request order (duplicates answered at each position)."""
        view = self.view(view_name)
        keys = self._keys(entities)
        vecs = await self.store.read_many(view, keys) if keys else []
        now = int(self.clock() * 1000)
        if fields or view_name in self.transforms:
            results = [
                self._result(view_name, k, v, now, fields) for k, v in zip(keys, vecs, strict=True)
            ]
        else:  # the common case, inlined: no call per entity
            results = [
                _missing(k)
                if v is None
                else {
                    "entity": k,
                    "found": True,
                    "values": v.values,
                    "event_ts": v.event_ts,
                    "age_ms": now - v.event_ts,
                    "written_at": v.written_at,
                }
                for k, v in zip(keys, vecs, strict=True)
            ]
        return {"view": view_name, "version": view.version, "results": results}

    async def get_json(
        self, view_name: str, entity: str | int, fields: Mapping[str, object] | None = None
    ) -> bytes:
        """`get`'s answer as JSON bytes (what the HTTP endpoint sends)."""
        if fields or view_name in self.transforms:
            return orjson.dumps(await self.get(view_name, entity, fields))
        view = self.view(view_name)
        key = _entity(entity)
        block = await self._block(view, [key])
        now = int(self.clock() * 1000)
        return render_answers(
            view_name, view.version, view.feature_names, [key], block, now, single=True
        )

    async def get_many_json(
        self,
        view_name: str,
        entities: Sequence[str | int],
        fields: Mapping[str, object] | None = None,
    ) -> bytes:
        """`get_many`'s answer as JSON bytes, the same bytes ``orjson.dumps`` would give, but
        without a dict per entity when there is nothing to compute at request time."""
        if fields or view_name in self.transforms:
            return orjson.dumps(await self.get_many(view_name, entities, fields))
        view = self.view(view_name)
        keys = self._keys(entities)
        block = await self._block(view, keys) if keys else VectorBlock(b"")
        now = int(self.clock() * 1000)
        return render_answers(view_name, view.version, view.feature_names, keys, block, now)

    def _keys(self, entities: Sequence[str | int]) -> list[str]:
        if isinstance(entities, str | bytes) or not isinstance(entities, Sequence):
            raise InvalidRequestError("entities must be a list of entity ids")
        if len(entities) > self.max_batch:
            raise BatchTooLargeError(
                f"{len(entities)} entities in one request; at most {self.max_batch}"
            )
        return [e if e.__class__ is str and e else _entity(e) for e in entities]

    async def _block(self, view: FeatureView, keys: list[str]) -> VectorBlock:
        read_block = getattr(self.store, "read_block", None)
        if read_block is not None:
            block: VectorBlock = await read_block(view, keys)
            return block
        return block_of(await self.store.read_many(view, keys), view.feature_names)

    def parse_entities(self, body: bytes) -> list[str | int]:
        """The entities of a batch request body ``{"entities": [...]}``, validated."""
        return self.parse_request(body)[0]

    def parse_request(self, body: bytes) -> tuple[list[str | int], dict[str, object] | None]:
        """A batch request body ``{"entities": [...], "fields": {...}}`` (fields optional:
        request-time data for the transforms), validated."""
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise InvalidRequestError('request body must be a JSON object {"entities": [...]}')
        stray = set(obj) - {"entities", "fields"}
        if stray:
            raise InvalidRequestError(
                f"unknown request keys {sorted(stray)}; expected 'entities' (and 'fields')"
            )
        fields = obj.get("fields")
        if fields is not None and (
            not isinstance(fields, dict)
            or not all(isinstance(v, str | int | float) for v in fields.values())
        ):
            raise InvalidRequestError("'fields' must be an object of strings and numbers")
        entities = obj.get("entities")
        if not isinstance(entities, list):
            raise InvalidRequestError("'entities' must be a list of entity ids")
        if len(entities) > self.max_batch:
            raise BatchTooLargeError(
                f"{len(entities)} entities in one request; at most {self.max_batch}"
            )
        for e in entities:
            if e.__class__ is not str or not e:  # the common case costs no call
                _entity(e)
        return entities, fields

    def _result(
        self,
        view_name: str,
        entity: str,
        vec: StoredVector | None,
        now: int,
        fields: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        if vec is None:
            return _missing(entity)
        transform = self.transforms.get(view_name)
        # a copy: the in-memory store hands out the stored dict itself
        values = vec.values if transform is None else transform(dict(vec.values))
        if fields:
            values = _request_time(self.views[view_name], dict(values), fields)
        return {
            "entity": entity,
            "found": True,
            "values": values,
            "event_ts": vec.event_ts,
            "age_ms": now - vec.event_ts,
            "written_at": vec.written_at,
        }


def _missing(entity: str) -> dict[str, Any]:
    return {
        "entity": entity,
        "found": False,
        "values": None,
        "event_ts": None,
        "age_ms": None,
        "written_at": None,
    }


def _request_time(
    view: FeatureView, values: dict[str, float], fields: Mapping[str, object]
) -> dict[str, float]:
    """The view's transforms recomputed with request fields over the stored values."""
    context: dict[str, object] = {**values, **fields}
    for t in view.transforms:
        try:
            outputs = t.apply(context)
        except KeyError as exc:
            raise InvalidRequestError(str(exc.args[0])) from None
        except (TypeError, ValueError):
            raise InvalidRequestError(f"transform {t.names[0]!r} needs numbers") from None
        values.update(zip(t.names, outputs, strict=True))
    return values


def _entity(value: object) -> str:
    """Entity ids as the event schema takes them: a non-empty string or an integer."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidRequestError(f"entity ids must be non-empty strings or integers, got {value!r}")
