"""`PredictionClient`'s correlation bookkeeping, without Kafka: a stand-in producer hands each
request to a scripted "worker" that replies through the client's reply handler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams.config import RiffleConfig, parse_config
from streams.exceptions import PredictionTimeout, RiffleError
from streams.prediction_client import PredictionClient
from streams.records import Prediction

Headers = list[tuple[str, bytes]]


@pytest.fixture
def cfg() -> RiffleConfig:
    return parse_config({"streams": {"pay": {"schema": {"amount": "float"}}}})


def _reply(event: dict[str, Any]) -> bytes:
    return Prediction(str(event["id"]), str(event["entity"]), event["ts"], "m@1", 1, 0.8).to_json()


class FakeProducer:
    """Records sends; `on_send(topic, value, key, headers)` plays the worker."""

    def __init__(self, on_send: Callable[[str, bytes, bytes, Headers], None] | None = None):
        self.sent: list[tuple[str, bytes, bytes, Headers]] = []
        self.on_send = on_send
        self.fail: BaseException | None = None

    async def send(self, topic: str, value: bytes, key: bytes, headers: Headers) -> Any:
        self.sent.append((topic, value, key, headers))
        if self.on_send is not None:
            self.on_send(topic, value, key, headers)
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            delivery.set_exception(self.fail)
        else:
            delivery.set_result(None)
        return delivery


def _client(cfg: RiffleConfig, producer: FakeProducer, **kwargs: Any) -> PredictionClient:
    client = PredictionClient(cfg, "pay", reply_topic="pay.replies.test", **kwargs)
    client._producer = producer  # type: ignore[assignment]  # stands in for AIOKafkaProducer
    return client


def _cid(headers: Headers) -> bytes:
    return dict(headers)["correlation-id"]


def _echo(client_ref: list[PredictionClient], delay: float = 0.0) -> Callable[..., None]:
    """A worker answering every request after `delay` seconds."""

    def on_send(topic: str, value: bytes, key: bytes, headers: Headers) -> None:
        event = orjson.loads(value)
        reply = _reply(event)
        cid = _cid(headers)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, client_ref[0]._on_reply, [("correlation-id", cid)], reply)

    return on_send


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"e{i}", "entity": f"a{i % 3}", "ts": 1000 + i, "amount": 1.0, **extra}


async def test_request_carries_key_and_headers_and_gets_its_reply(cfg: RiffleConfig) -> None:
    ref: list[PredictionClient] = []
    producer = FakeProducer(_echo(ref))
    client = _client(cfg, producer)
    ref.append(client)
    p = await client.predict(_event(7), timeout=1)
    assert p.event_id == "e7"
    topic, value, key, headers = producer.sent[0]
    assert topic == "pay.events" and key == b"a1" and orjson.loads(value) == _event(7)
    assert dict(headers)["reply-to"] == b"pay.replies.test"
    assert len(_cid(headers)) == 32
    assert (client.replies, client.pending, client.late_replies) == (1, 0, 0)


async def test_concurrent_requests_each_get_their_own_reply(cfg: RiffleConfig) -> None:
    ref: list[PredictionClient] = []
    # replies come back in the reverse order of the requests
    pending: list[tuple[bytes, bytes]] = []

    def on_send(topic: str, value: bytes, key: bytes, headers: Headers) -> None:
        pending.append((_cid(headers), _reply(orjson.loads(value))))
        if len(pending) == 20:
            for cid, reply in reversed(pending):
                ref[0]._on_reply([("correlation-id", cid)], reply)

    client = _client(cfg, FakeProducer(on_send))
    ref.append(client)
    preds = await client.predict_many([_event(i) for i in range(20)], timeout=1)
    assert [p.event_id for p in preds] == [f"e{i}" for i in range(20)]
    assert len({_cid(h) for *_, h in client._producer.sent}) == 20  # type: ignore[union-attr]


async def test_timeout_names_the_event_and_a_late_reply_is_counted_not_delivered(
    cfg: RiffleConfig,
) -> None:
    ref: list[PredictionClient] = []
    client = _client(cfg, FakeProducer(_echo(ref, delay=0.2)))
    ref.append(client)
    with pytest.raises(PredictionTimeout, match=r"'e1' within 0.05 s") as info:
        await client.predict(_event(1), timeout=0.05)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, RiffleError)
    assert info.value.event_id == "e1" and not info.value.retriable
    assert client.pending == 0
    # the next request is answered in time; the first one's reply must not reach it
    client._producer = FakeProducer(_echo(ref, delay=0.0))  # type: ignore[assignment]
    p = await client.predict(_event(2), timeout=1)
    assert p.event_id == "e2"
    await asyncio.sleep(0.25)
    assert (client.late_replies, client.unknown_replies, client.replies) == (1, 0, 1)


async def test_duplicate_unknown_and_headerless_replies_are_counted(cfg: RiffleConfig) -> None:
    ref: list[PredictionClient] = []
    client = _client(cfg, FakeProducer(_echo(ref)))
    ref.append(client)
    await client.predict(_event(1), timeout=1)
    cid = _cid(client._producer.sent[0][3])  # type: ignore[union-attr]
    client._on_reply([("correlation-id", cid)], _reply(_event(1)))  # a replay's duplicate
    client._on_reply([("correlation-id", b"f" * 32)], _reply(_event(1)))  # never asked
    client._on_reply([], _reply(_event(1)))
    assert (client.duplicate_replies, client.unknown_replies, client.late_replies) == (1, 2, 0)


async def test_retired_ids_are_bounded(cfg: RiffleConfig) -> None:
    ref: list[PredictionClient] = []
    client = _client(cfg, FakeProducer(_echo(ref)), max_retired=3)
    ref.append(client)
    await client.predict_many([_event(i) for i in range(5)], timeout=1)
    first = _cid(client._producer.sent[0][3])  # type: ignore[union-attr]
    assert len(client._retired) == 3
    client._on_reply([("correlation-id", first)], _reply(_event(0)))
    assert client.unknown_replies == 1  # forgotten: no longer told apart from a stranger's


async def test_predict_many_raises_after_all_finish_or_returns_exceptions(
    cfg: RiffleConfig,
) -> None:
    ref: list[PredictionClient] = []

    def on_send(topic: str, value: bytes, key: bytes, headers: Headers) -> None:
        if orjson.loads(value)["id"] != "e1":  # the worker dead-letters e1: no reply
            _echo(ref)(topic, value, key, headers)

    client = _client(cfg, FakeProducer(on_send))
    ref.append(client)
    events = [_event(i) for i in range(3)]
    with pytest.raises(PredictionTimeout, match="'e1'"):
        await client.predict_many(events, timeout=0.05)
    assert client.pending == 0
    out = await client.predict_many(events, timeout=0.05, return_exceptions=True)
    assert isinstance(out[1], PredictionTimeout)
    assert [p.event_id for p in out if isinstance(p, Prediction)] == ["e0", "e2"]


async def test_a_failed_send_fails_its_request_at_once(cfg: RiffleConfig) -> None:
    producer = FakeProducer()
    producer.fail = OSError("broker gone")
    client = _client(cfg, producer)
    with pytest.raises(OSError, match="broker gone"):
        await client.predict(_event(1), timeout=5)
    assert client.pending == 0


async def test_a_malformed_reply_fails_its_request(cfg: RiffleConfig) -> None:
    ref: list[PredictionClient] = []

    def on_send(topic: str, value: bytes, key: bytes, headers: Headers) -> None:
        ref[0]._on_reply([("correlation-id", _cid(headers))], b'{"event_id": "e1"}')

    client = _client(cfg, FakeProducer(on_send))
    ref.append(client)
    with pytest.raises(RiffleError, match="not a prediction record"):
        await client.predict(_event(1), timeout=1)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"entity": "a", "ts": 1}, "event has no 'id' field"),
        ({"id": None, "entity": "a"}, "event has no 'id' field"),
        ({"id": "e9", "ts": 1}, "event 'e9' has no 'entity' field"),
    ],
)
async def test_events_are_checked_before_anything_is_sent(
    cfg: RiffleConfig, event: dict[str, Any], message: str
) -> None:
    producer = FakeProducer()
    client = _client(cfg, producer)
    with pytest.raises(ValueError, match=message):
        await client.predict(event)
    with pytest.raises(ValueError, match=message):
        await client.predict_many([_event(1), event])
    assert producer.sent == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be positive"),
        ({"reply_topic": "bad topic!"}, "no Kafka topic name"),
        ({"max_retired": -1}, "max_retired"),
    ],
)
def test_constructor_validates(cfg: RiffleConfig, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PredictionClient(cfg, "pay", **kwargs)


def test_default_reply_topic_is_unique_per_client(cfg: RiffleConfig) -> None:
    a, b = PredictionClient(cfg, "pay"), PredictionClient(cfg, "pay")
    assert a.reply_topic.startswith("pay.replies.") and a.reply_topic != b.reply_topic


async def test_predict_before_start_says_so(cfg: RiffleConfig) -> None:
    client = PredictionClient(cfg, "pay")
    with pytest.raises(RuntimeError, match="start"):
        await client.predict(_event(1))
