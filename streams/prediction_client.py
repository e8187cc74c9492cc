"""Request/reply over Kafka: send an event, await the worker's prediction for it.

The worker answers any event that carries a ``reply-to`` header: the learner publishes the
event's prediction record (the JSON of `<s>.predictions`) to that topic with the request's
``correlation-id`` header echoed. `PredictionClient` owns a reply topic, consumes it, and pairs
each reply with the request waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.config import KafkaConfig, RiffleConfig, StreamConfig
from streams.exceptions import PredictionTimeout, RiffleError, ServiceUnavailableError
from streams.records import Prediction

__all__ = ["PredictionClient"]

log = logging.getLogger("riffle.prediction_client")

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # what the worker accepts in `reply-to`
_ANSWERED, _EXPIRED = True, False


class PredictionClient:
    """Publishes events to `<s>.events` and awaits each one's prediction on a reply topic.

    By default the client creates its own reply topic, ``<s>.replies.<8 hex>`` (one partition),
    on `start()`. A reply topic the client created is deleted on `stop()`; one it found in
    place (a named `reply_topic` that already exists) is left there. One consumer reads every
    partition of the reply topic (assigned directly, no consumer group) from the end it had at
    start, so only replies to this client's requests are awaited.

    Each request gets a fresh correlation id (uuid4 hex). A reply is delivered only to the
    request with its correlation id; a reply that comes after its request timed out is counted
    in `late_replies` and dropped, a second reply to an answered request (the worker replays
    after a crash) in `duplicate_replies`, and one this client never asked for (another client
    sharing the reply topic, or one older than the last `max_retired` requests) in
    `unknown_replies`.

    An event the worker dead-letters (invalid, too late, oversized...) is never answered: its
    request ends with `PredictionTimeout`, and the reason is on `<s>.dlq`. The client checks
    only the id and entity fields, which it needs itself; the worker validates the rest.
    A reply takes two stage hops; at low request rates the learner's merge of its input
    partitions adds up to ``runtime.max_idle_ms`` to each (see `riffle bench reply`).

    Usage, with a worker running::

        async with PredictionClient(cfg, "payments") as client:
            p = await client.predict({"id": "e1", "entity": "a", "ts": 1, "amount": 3.0})
            ps = await client.predict_many(events, timeout=5.0)

    Events are checked before anything is sent (no broker needed here):

    >>> from streams.config import parse_config
    >>> cfg = parse_config({"streams": {"payments": {"schema": {"amount": "float"}}}})
    >>> client = PredictionClient(cfg, "payments", reply_topic="payments.replies.doc")
    >>> asyncio.run(client.predict({"id": "e1", "ts": 1, "amount": 3.0}))
    Traceback (most recent call last):
    ...
    ValueError: event 'e1' has no 'entity' field (the entity field of stream 'payments')
    """

    def __init__(
        self,
        cfg: RiffleConfig | KafkaConfig,
        stream: str | StreamConfig | None = None,
        reply_topic: str | None = None,
        *,
        timeout: float = 10.0,
        max_retired: int = 100_000,
        client_id: str = "riffle-prediction-client",
    ) -> None:
        if isinstance(cfg, RiffleConfig):
            self.kafka = cfg.kafka
            self.stream = stream if isinstance(stream, StreamConfig) else cfg.stream(stream)
        elif isinstance(stream, StreamConfig):
            self.kafka = cfg
            self.stream = stream
        else:
            raise ValueError("with a KafkaConfig, pass the StreamConfig as `stream`")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if max_retired < 0:
            raise ValueError(f"max_retired must be >= 0, got {max_retired!r}")
        name = reply_topic or f"{self.stream.name}.replies.{uuid.uuid4().hex[:8]}"
        if not _TOPIC.fullmatch(name):
            raise ValueError(f"reply_topic {name!r} is no Kafka topic name ([A-Za-z0-9._-]+)")
        self.reply_topic = name
        self.timeout = timeout
        self.max_retired = max_retired
        self.client_id = client_id
        self._reset()

    def _reset(self) -> None:
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._created = False
        self._failure: BaseException | None = None
        # correlation id -> the future of the request waiting for it
        self._pending: dict[str, asyncio.Future[Prediction]] = {}
        # recently finished requests: correlation id -> answered (True) or expired (False)
        self._retired: OrderedDict[str, bool] = OrderedDict()
        self.replies = 0
        self.late_replies = 0
        self.duplicate_replies = 0
        self.unknown_replies = 0

    @property
    def pending(self) -> int:
        """Requests sent and still waiting for their reply."""
        return len(self._pending)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the reply topic if needed, then start reading it from its end."""
        if self._producer is not None:
            return
        try:
            await self._ensure_reply_topic()
            self._producer = AIOKafkaProducer(
                **self.kafka.client_options(), acks="all", client_id=self.client_id
            )
            await self._producer.start()
            parts = await self._producer.partitions_for(self.reply_topic)
            self._consumer = AIOKafkaConsumer(
                **self.kafka.client_options(),
                group_id=None,
                enable_auto_commit=False,
                client_id=f"{self.client_id}-replies",
            )
            await self._consumer.start()
            tps = [TopicPartition(self.reply_topic, p) for p in sorted(parts)]
            self._consumer.assign(tps)
            await self._consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the positions now: a reply may come right after a send
                await self._consumer.position(tp)
        except KafkaConnectionError as exc:
            await self.stop()
            raise ServiceUnavailableError(
                f"cannot reach Kafka at {self.kafka.bootstrap_servers}: {exc}"
            ) from exc
        except BaseException:
            await self.stop()
            raise
        self._reader = asyncio.create_task(self._read(), name=f"replies:{self.reply_topic}")
        self._reader.add_done_callback(self._reader_done)

    async def stop(self) -> None:
        """Fail the requests still waiting, stop the clients, delete a reply topic it created."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending(RiffleError("the PredictionClient stopped before the reply came"))
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        # counters and recent correlation ids stay: a restarted client counts late replies
        self._producer, self._consumer, self._reader, self._failure = None, None, None, None
        if self._created:
            self._created = False
            await self._delete_reply_topic()

    async def __aenter__(self) -> PredictionClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _admin(self) -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(**self.kafka.client_options(), client_id=self.client_id)
        await admin.start()
        return admin

    async def _ensure_reply_topic(self) -> None:
        admin = await self._admin()
        try:
            if self.reply_topic not in set(await admin.list_topics()):
                try:
                    await admin.create_topics([NewTopic(self.reply_topic, 1, 1)])
                    self._created = True
                except TopicAlreadyExistsError:  # another client made it meanwhile: share it
                    pass
        finally:
            await admin.close()

    async def _delete_reply_topic(self) -> None:
        # A reply the worker sends after this (to a request that timed out) recreates the
        # topic on a broker with auto.create.topics.enable=true; turn that off in production.
        try:
            admin = await self._admin()
            try:
                await admin.delete_topics([self.reply_topic])
            finally:
                await admin.close()
        except Exception:  # stopping must not fail on cleanup: the topic is only left behind
            log.warning("could not delete reply topic %s", self.reply_topic, exc_info=True)

    # -- requests ---------------------------------------------------------------------------

    async def predict(self, event: Mapping[str, Any], timeout: float | None = None) -> Prediction:
        """Send `event` and return its prediction.

        Raises `ValueError` if the event lacks the stream's id or entity field (nothing is
        sent), `PredictionTimeout` if no reply comes within `timeout` seconds (default: the
        client's), counted from the call; the send's own Kafka errors propagate.
        """
        event_id, key = self._check(event)
        return await self._request(event, event_id, key, self._timeout(timeout))

    @overload
    async def predict_many(
        self,
        events: Iterable[Mapping[str, Any]],
        timeout: float | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> list[Prediction]: ...

    @overload
    async def predict_many(
        self,
        events: Iterable[Mapping[str, Any]],
        timeout: float | None = ...,
        *,
        return_exceptions: Literal[True],
    ) -> list[Prediction | BaseException]: ...

    async def predict_many(
        self,
        events: Iterable[Mapping[str, Any]],
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[Prediction] | list[Prediction | BaseException]:
        """Send every event at once and return their predictions in order.

        Every event is checked before any is sent. Each request has `timeout` seconds; all
        are waited for, then the first failure is raised, unless `return_exceptions` puts
        each failure (e.g. a `PredictionTimeout`) in its event's place, as `asyncio.gather`.
        """
        batch = list(events)
        checked = [self._check(e) for e in batch]
        t = self._timeout(timeout)
        results = await asyncio.gather(
            *(self._request(e, i, k, t) for e, (i, k) in zip(batch, checked, strict=True)),
            return_exceptions=True,
        )
        if return_exceptions:
            return results
        predictions: list[Prediction] = []
        for r in results:
            if isinstance(r, BaseException):
                raise r
            predictions.append(r)
        return predictions

    def _timeout(self, timeout: float | None) -> float:
        t = self.timeout if timeout is None else timeout
        if not t > 0:
            raise ValueError(f"timeout must be positive, got {t!r}")
        return t

    def _check(self, event: Mapping[str, Any]) -> tuple[str, bytes]:
        """The event's id and its key (the entity, which picks the partition)."""
        if not isinstance(event, Mapping):
            raise TypeError(f"an event is a mapping of field names to values, not {event!r}")
        schema = self.stream.schema
        found: list[Any] = []
        for role, name in (("id", schema.id_field), ("entity", schema.entity_field)):
            if event.get(name) is None:
                which = f"event {str(found[0])!r}" if found else "event"
                raise ValueError(
                    f"{which} has no {name!r} field (the {role} field of stream "
                    f"{self.stream.name!r})"
                )
            found.append(event[name])
        event_id, entity = found
        return str(event_id), str(entity).encode()

    async def _request(
        self, event: Mapping[str, Any], event_id: str, key: bytes, timeout: float
    ) -> Prediction:
        producer = self._started()
        value = orjson.dumps(event)
        cid = uuid.uuid4().hex
        fut: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        headers = [("reply-to", self.reply_topic.encode()), ("correlation-id", cid.encode())]
        try:
            async with asyncio.timeout(timeout) as window:
                sent = await producer.send(
                    self.stream.topics.events, value, key=key, headers=headers
                )
                sent.add_done_callback(lambda f: self._sent(f, fut))
                return await fut
        except TimeoutError:
            if not window.expired():
                raise
            raise PredictionTimeout(event_id, timeout, cid) from None
        finally:
            if self._pending.pop(cid, None) is not None:  # not answered: a reply would be late
                self._retire(cid, _EXPIRED)

    def _started(self) -> AIOKafkaProducer:
        if self._failure is not None:
            raise RiffleError(f"the reply reader of {self.reply_topic} failed: {self._failure}")
        if self._producer is None:
            raise RuntimeError("PredictionClient.start() has not been awaited")
        return self._producer

    @staticmethod
    def _sent(delivery: asyncio.Future[Any], fut: asyncio.Future[Prediction]) -> None:
        """A failed send fails its request at once, instead of at its timeout."""
        exc = None if delivery.cancelled() else delivery.exception()  # always retrieved
        if exc is not None and not fut.done():
            fut.set_exception(exc)

    # -- replies ----------------------------------------------------------------------------

    async def _read(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for msgs in batch.values():
                for m in msgs:
                    self._on_reply(m.headers, m.value)

    def _on_reply(self, headers: Iterable[tuple[str, bytes | None]], value: bytes | None) -> None:
        """Deliver one reply record to the request with its correlation id, or count it."""
        cid = next((v.decode() for k, v in headers if k == "correlation-id" and v), None)
        if cid is None:
            self.unknown_replies += 1
            return
        fut = self._pending.pop(cid, None)
        if fut is not None and fut.done():  # its request ended (timed out...) a moment ago
            self._retire(cid, _EXPIRED)
            self.late_replies += 1
            return
        if fut is None:
            status = self._retired.get(cid)
            if status is None:
                self.unknown_replies += 1
            elif status is _ANSWERED:
                self.duplicate_replies += 1
            else:
                self.late_replies += 1
            return
        self._retire(cid, _ANSWERED)
        self.replies += 1
        try:
            fut.set_result(Prediction.from_json(value or b""))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            fut.set_exception(RiffleError(f"reply {cid} is not a prediction record: {exc!r}"))

    def _retire(self, cid: str, answered: bool) -> None:
        if self.max_retired == 0:
            return
        self._retired[cid] = answered
        if len(self._retired) > self.max_retired:
            self._retired.popitem(last=False)

    def _reader_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("reply reader of %s failed", self.reply_topic, exc_info=exc)
            self._failure = exc
            self._fail_pending(RiffleError(f"the reply reader of {self.reply_topic} failed: {exc}"))

    def _fail_pending(self, exc: BaseException) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
