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

__all__ = ["add_feature_routes", "json_response"]

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
    if isinstance(exc, UnknownViewError):
        return json_response({"error": str(exc), "view": exc.view}, 404)
    if isinstance(exc, InvalidRequestError):
        return json_response({"error": str(exc)}, exc.status)
    if isinstance(exc, StoreUnavailableError):
        return json_response({"error": str(exc)}, 503)
    kind = "feature store error" if isinstance(exc, FeatureStoreError) else "unexpected error"
    log.error("feature serving: %s", kind, exc_info=exc)
    return json_response({"error": f"{kind}: {type(exc).__name__}"}, 500)
