"""The feature-serving HTTP routes, shared by the worker's web server (`streams.app`) and the
standalone server (`riffle serve`, `streams.serve`): `GET /features/<view>/<entity>` and
`POST /features/<view>`, with `FeatureServer`'s errors mapped to status codes."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from featurestore import (
    FeatureServer,
    FeatureStoreError,
    InvalidRequestError,
    StoreUnavailableError,
    UnknownViewError,
)

__all__ = ["add_feature_routes", "error_answer", "json_response"]

log = logging.getLogger("riffle.serving")


def add_feature_routes(router: web.UrlDispatcher, server: FeatureServer) -> None:
    async def feature_vector(request: web.Request) -> web.Response:
        try:
            fields = dict(request.query) or None  # request-time data for the transforms
            view, entity = request.match_info["view"], request.match_info["entity"]
            return _body(await server.get_json(view, entity, fields))
        except Exception as exc:
            return _error(exc)

    async def feature_batch(request: web.Request) -> web.Response:
        try:
            view = request.match_info["view"]
            server.view(view)  # an unknown view is a 404 whatever the body
            entities, fields = server.parse_request(await request.read())
            return _body(await server.get_many_json(view, entities, fields))
        except Exception as exc:
            return _error(exc)

    router.add_get("/features/{view}/{entity}", feature_vector)
    router.add_post("/features/{view}", feature_batch)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _body(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _error(exc: Exception) -> web.Response:
    status, body = error_answer(exc)
    return web.Response(body=body, status=status, content_type="application/json")


def error_answer(exc: Exception) -> tuple[int, bytes]:
    """A serving failure as its status code and JSON body (unexpected ones are logged)."""
    if isinstance(exc, UnknownViewError):
        return 404, orjson.dumps({"error": str(exc), "view": exc.view})
    if isinstance(exc, InvalidRequestError):
        return exc.status, orjson.dumps({"error": str(exc)})
    if isinstance(exc, StoreUnavailableError):
        return 503, orjson.dumps({"error": str(exc)})
    kind = "feature store error" if isinstance(exc, FeatureStoreError) else "unexpected error"
    log.error("feature serving: %s", kind, exc_info=exc)
    return 500, orjson.dumps({"error": f"{kind}: {type(exc).__name__}"})
