"""`riffle serve`: feature serving in a process of its own.

A worker answers `/features/...` on the event loop that runs its stages, so under full stream
load a request waits for the batches ahead of it (seconds when the worker is saturated, see
README). This server answers the same routes with the same bytes from Redis alone, on its own
loop and core: the stream processing and the serving scale apart, as Feast's feature server
does. `GET /health` is 200 once Redis answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web

from featurestore import FeatureServer, RedisStore
from streams.config import RiffleConfig
from streams.event_loop import use_event_loop
from streams.feature_routes import add_feature_routes, json_response

__all__ = ["run_server", "serving_app"]

log = logging.getLogger("riffle.serve")


def serving_app(cfg: RiffleConfig, streams: Sequence[str] | None = None) -> web.Application:
    """The aiohttp app serving the views of `streams` (all by default) from Redis."""
    names = list(streams or cfg.streams)
    views = {v.name: v for n in names for v in cfg.stream(n).views}
    store = RedisStore(cfg.redis_url.get())
    server = FeatureServer(store, views)
    app = web.Application()

    async def connect(_: web.Application) -> None:
        await store.start()
        log.info("serving %s from Redis", sorted(views))

    async def disconnect(_: web.Application) -> None:
        await store.stop()

    async def health(_: web.Request) -> web.Response:
        try:
            await store.client.ping()
        except Exception as exc:  # not started, or Redis gone
            return json_response({"ok": False, "error": str(exc)}, 503)
        return json_response({"ok": True, "views": sorted(views)})

    app.on_startup.append(connect)
    app.on_cleanup.append(disconnect)
    app.router.add_get("/health", health)
    add_feature_routes(app.router, server)
    return app


def run_server(
    cfg: RiffleConfig, streams: Sequence[str] | None = None, host: str = "", port: int = 6067
) -> None:
    """Serve until SIGINT/SIGTERM (aiohttp's `run_app`)."""
    use_event_loop(cfg.runtime)
    web.run_app(
        serving_app(cfg, streams),
        host=host or cfg.runtime.web_host,
        port=port,
        access_log=None,
        print=None,
    )
