"""`riffle serve`: feature serving in a process of its own.

A worker answers `/features/...` on the event loop that runs its stages, so under full stream
load a request waits for the batches ahead of it (seconds when the worker is saturated, see
README). This server answers the same routes with the same bytes from Redis alone, on its own
loop and core: the stream processing and the serving scale apart, as Feast's feature server
does. `GET /health` is 200 once Redis answers. Its HTTP is `streams.http_server`, not aiohttp:
a request costs a fraction of the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

import orjson

from featurestore import FeatureServer, RedisStore
from streams.config import RiffleConfig
from streams.event_loop import use_event_loop
from streams.http_server import Answer, FeatureHTTPServer

__all__ = ["run_server", "serving_server"]

log = logging.getLogger("riffle.serve")


def serving_server(
    cfg: RiffleConfig, streams: Sequence[str] | None = None
) -> tuple[FeatureHTTPServer, RedisStore]:
    """The server for the views of `streams` (all by default) and the store it reads; start
    the store before serving."""
    names = list(streams or cfg.streams)
    views = {v.name: v for n in names for v in cfg.stream(n).views}
    store = RedisStore(cfg.redis_url.get())

    async def health() -> Answer:
        try:
            await store.client.ping()
        except Exception as exc:  # not started, or Redis gone
            return 503, orjson.dumps({"ok": False, "error": str(exc)})
        return 200, orjson.dumps({"ok": True, "views": sorted(views)})

    return FeatureHTTPServer(FeatureServer(store, views), health), store


def run_server(
    cfg: RiffleConfig, streams: Sequence[str] | None = None, host: str = "", port: int = 6067
) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight."""
    use_event_loop(cfg.runtime)
    asyncio.run(_serve(cfg, streams, host or cfg.runtime.web_host, port))


async def _serve(cfg: RiffleConfig, streams: Sequence[str] | None, host: str, port: int) -> None:
    http, store = serving_server(cfg, streams)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await store.start()
    try:
        bound = await http.start(host, port)
        log.info("serving %s on %s:%d", sorted(http.features.views), host or "*", bound)
        await stop.wait()
        await http.stop()
    finally:
        await store.stop()
