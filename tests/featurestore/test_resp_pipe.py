"""RespPipe against the real Redis: concurrent callers pipelined on one connection, each
getting its own replies, through cancellations, error replies and dropped connections."""

from __future__ import annotations

import asyncio
import random

import pytest
import redis.asyncio as aioredis

from featurestore import StoreUnavailableError
from featurestore.resp_pipe import RespPipe


def echo(*words: str) -> bytes:
    return b"".join(RespPipe.pack((b"ECHO", w.encode())) for w in words)


@pytest.fixture
async def pipe(services: tuple[str, str]):
    p = RespPipe(services[1])
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def test_concurrent_callers_each_get_their_own_replies(pipe: RespPipe) -> None:
    rng = random.Random(7)
    calls = [[f"{i}-{j}" for j in range(rng.randrange(1, 6))] for i in range(400)]

    async def call(words: list[str]) -> list[bytes]:
        await asyncio.sleep(rng.random() / 1000)
        return await pipe.execute(echo(*words), len(words))  # type: ignore[no-any-return]

    got = await asyncio.gather(*(call(w) for w in calls))
    assert got == [[w.encode() for w in words] for words in calls]


async def test_a_cancelled_caller_does_not_shift_the_replies(pipe: RespPipe) -> None:
    slow = asyncio.create_task(
        pipe.execute(RespPipe.pack((b"BLPOP", b"riffle-test-never-pushed", b"0.3")), 1)
    )
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    # the BLPOP's nil arrives first and is dropped; this call gets its own reply
    assert await pipe.execute(echo("after"), 1) == [b"after"]


async def test_an_error_reply_raises_and_the_connection_goes_on(pipe: RespPipe) -> None:
    with pytest.raises(StoreUnavailableError, match="refused a command"):
        await pipe.execute(echo("ok") + RespPipe.pack((b"NOSUCHCOMMAND",)), 2)
    assert await pipe.execute(echo("still"), 1) == [b"still"]


async def test_callers_in_flight_when_the_connection_drops_retry_on_a_new_one(
    pipe: RespPipe, services: tuple[str, str]
) -> None:
    (before,) = await pipe.execute(RespPipe.pack((b"CLIENT", b"ID")), 1)
    waiting = [
        asyncio.create_task(
            pipe.execute(RespPipe.pack((b"BLPOP", f"riffle-test-none-{i}".encode(), b"0.2")), 1)
        )
        for i in range(5)
    ]
    await asyncio.sleep(0.05)
    admin = aioredis.Redis.from_url(services[1])
    try:
        assert await admin.execute_command("CLIENT", "KILL", "ID", before) == 1
    finally:
        await admin.aclose()
    assert await asyncio.gather(*waiting) == [[None]] * 5  # retried, timed out empty
    (after,) = await pipe.execute(RespPipe.pack((b"CLIENT", b"ID")), 1)
    assert after != before


async def test_a_stopped_pipe_refuses_calls(services: tuple[str, str]) -> None:
    p = RespPipe(services[1])
    await p.start()
    await p.stop()
    with pytest.raises(StoreUnavailableError, match="stopped"):
        await p.execute(echo("x"), 1)


async def test_an_unreachable_redis_is_a_store_error() -> None:
    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        await RespPipe("redis://127.0.0.1:1/0").start()
