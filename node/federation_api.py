"""The federation HTTP API that peers talk to (aiohttp).

Hardening (THREATS rows 7, 8, 11): a small ``client_max_size``; bodies read once with
``request.read()``; any ``Content-Encoding`` refused before the body is read; every protocol error
mapped to a stable code; unexpected exceptions answered with a generic 500 that carries no data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from node.http_errors import error_response
from node.logs import log_event
from node.service import NodeService
from protocol.errors import MALFORMED, ProtocolError

MAX_REQUEST_BYTES = 256 * 1024
MSGPACK = "application/msgpack"

SERVICE = web.AppKey("service", NodeService)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return error_response(MALFORMED, "Content-Encoding is not accepted on the federation API", 415)
    try:
        return await handler(request)
    except ProtocolError as exc:
        log_event("federation.rejected", logging.WARNING, path=request.path, code=exc.code)
        return error_response(exc.code, exc.detail)
    except web.HTTPException:
        raise
    except Exception as exc:
        log_event("federation.error", logging.ERROR, path=request.path, error=type(exc).__name__)
        return error_response("internal", "internal error; the node keeps serving", 500)


async def well_known(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.Response(body=service.card_bundle(), content_type=MSGPACK)


async def health(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"status": "ok", "node_id": service.node_id.hex()})


def create_app(service: NodeService) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[guard])
    app[SERVICE] = service
    app.router.add_get("/.well-known/orgnode", well_known)
    app.router.add_get("/health", health)
    return app
