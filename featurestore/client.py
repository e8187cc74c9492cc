"""HTTP clients of the feature serving API (`GET /features/{view}/{entity}`,
`POST /features/{view}` with ``{"entities": [...]}``) that every `riffle worker` serves."""

from __future__ import annotations

import http.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from featurestore.exceptions import FeatureStoreError
from featurestore.serving import BatchTooLargeError, InvalidRequestError, UnknownViewError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncFeatureClient", "FeatureClient", "FeatureServingError", "FeatureVector"]

_JSON = "application/json"


class FeatureServingError(FeatureStoreError):
    """The feature server failed to answer: `status` is the HTTP status, or None when it
    could not be reached. Server errors and unreachable servers are retriable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retriable = status is None or status >= 500


@dataclass(frozen=True, slots=True)
class FeatureVector:
    """One entity's answer: `values` and the times are None when `found` is false."""

    entity: str
    found: bool
    values: dict[str, float] | None
    event_ts: int | None
    age_ms: int | None
    written_at: int | None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FeatureVector:
        return cls(
            obj["entity"],
            obj["found"],
            obj["values"],
            obj["event_ts"],
            obj["age_ms"],
            obj["written_at"],
        )


class FeatureClient:
    """A blocking client on one persistent keep-alive connection (not thread-safe: one per
    thread). Connects on the first request and reconnects once if the server closed an idle
    connection.

    >>> client = FeatureClient("http://127.0.0.1:6066")
    >>> vec = client.get("payments", "alice")  # doctest: +SKIP
    >>> vec.found, vec.values["amount"], vec.age_ms  # doctest: +SKIP
    (True, 12.5, 840)
    >>> client.close()
    """

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = base_url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def get(
        self, view: str, entity: str | int, fields: Mapping[str, str | float] | None = None
    ) -> FeatureVector:
        """The current vector of one entity (`found` false if the store has none); `fields`
        are request-time data the view's transforms are recomputed with."""
        path = _one_path(self._prefix, view, entity, fields)
        body = self._request("GET", path, None, view)
        return FeatureVector.from_json(body)

    def get_many(
        self,
        view: str,
        entities: Sequence[str | int],
        fields: Mapping[str, str | float] | None = None,
    ) -> list[FeatureVector]:
        """The current vectors of `entities`, in the same order."""
        payload = _many_body(entities, fields)
        body = self._request("POST", _many_path(self._prefix, view), payload, view)
        return [FeatureVector.from_json(r) for r in body["results"]]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> FeatureClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _request(self, method: str, path: str, payload: bytes | None, view: str) -> Any:
        headers = {"Accept": _JSON}
        if payload is not None:
            headers["Content-Type"] = _JSON
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, payload, headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                # the server closed the idle keep-alive connection: one fresh try (reads only)
                self.close()
                if attempt:
                    raise FeatureServingError(
                        f"{self.base_url} dropped the request: {exc}"
                    ) from exc
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise FeatureServingError(f"cannot reach {self.base_url}: {exc}") from exc
            if resp.will_close:
                self.close()
            return _decode(resp.status, raw, view)
        raise AssertionError("unreachable")  # pragma: no cover


class AsyncFeatureClient:
    """The asyncio client: one `aiohttp.ClientSession` (pooled keep-alive connections),
    opened in `start()` or ``async with``.

    >>> async def main() -> None:
    ...     async with AsyncFeatureClient("http://127.0.0.1:6066") as client:
    ...         vecs = await client.get_many("payments", ["alice", "bob"])
    """

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = base_url
        self.timeout = timeout
        self._root = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        import aiohttp  # imported here: `import featurestore` stays light

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Accept": _JSON},
            )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AsyncFeatureClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def get(
        self, view: str, entity: str | int, fields: Mapping[str, str | float] | None = None
    ) -> FeatureVector:
        path = _one_path(self._root, view, entity, fields)
        body = await self._request("GET", path, None, view)
        return FeatureVector.from_json(body)

    async def get_many(
        self,
        view: str,
        entities: Sequence[str | int],
        fields: Mapping[str, str | float] | None = None,
    ) -> list[FeatureVector]:
        payload = _many_body(entities, fields)
        body = await self._request("POST", _many_path(self._root, view), payload, view)
        return [FeatureVector.from_json(r) for r in body["results"]]

    async def _request(self, method: str, url: str, payload: bytes | None, view: str) -> Any:
        import aiohttp

        if self._session is None:
            raise RuntimeError("AsyncFeatureClient.start() has not been awaited")
        headers = {"Content-Type": _JSON} if payload is not None else None
        try:
            async with self._session.request(method, url, data=payload, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise FeatureServingError(f"cannot reach {self.base_url}: {exc}") from exc
        return _decode(status, raw, view)


def _one_path(
    prefix: str, view: str, entity: str | int, fields: Mapping[str, str | float] | None = None
) -> str:
    path = f"{prefix}/features/{quote(view, safe='')}/{quote(str(entity), safe='')}"
    return f"{path}?{urlencode(fields)}" if fields else path


def _many_body(entities: Sequence[str | int], fields: Mapping[str, str | float] | None) -> bytes:
    body: dict[str, Any] = {"entities": list(entities)}
    if fields:
        body["fields"] = dict(fields)
    return orjson.dumps(body)


def _many_path(prefix: str, view: str) -> str:
    return f"{prefix}/features/{quote(view, safe='')}"


def _decode(status: int, raw: bytes, view: str) -> Any:
    if status == 200:
        return orjson.loads(raw)
    try:
        error = orjson.loads(raw)["error"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        error = None  # not one of the serving API's answers (a proxy, a wrong base_url)
    if error is None:
        text = raw[:200].decode(errors="replace")
        raise FeatureServingError(f"feature server answered {status}: {text}", status)
    message = str(error)
    if status == 404:
        unknown = UnknownViewError(view)
        unknown.args = (message,)  # the server's message also lists the views it serves
        raise unknown
    if status == 413:
        raise BatchTooLargeError(message)
    if status == 400:
        raise InvalidRequestError(message)
    raise FeatureServingError(f"feature server answered {status}: {message}", status)
