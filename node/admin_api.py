"""The local admin API on a Unix socket in the node's home (mode 0600: only the node's user).

The CLI talks JSON to it for everything that needs the running node. It is never exposed on a
TCP port, so file permissions are its authentication (THREATS row 19).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from node.errors import UserError
from node.http_errors import error_response
from node.logs import log_event
from node.service import NodeService
from node.views import statement_view
from protocol.errors import ProtocolError

SERVICE = web.AppKey("service", NodeService)
STOP = web.AppKey("stop", asyncio.Event)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as exc:
        return error_response("user-error", str(exc), 400)
    except ProtocolError as exc:
        return error_response(exc.code, exc.detail)
    except web.HTTPException:
        raise
    except Exception as exc:
        log_event("admin.error", logging.ERROR, path=request.path, error=type(exc).__name__)
        return error_response("internal", f"internal error ({type(exc).__name__}); see the node's log", 500)


def status_info(service: NodeService, running: bool) -> dict[str, Any]:
    return {
        "node_id": service.node_id.hex(),
        "fingerprint": service.identity.fingerprint,
        "name": service.config.name,
        "sector": service.config.sector,
        "url": service.config.url,
        "listen": service.config.listen,
        "running": running,
        "statements": service.log.count(),
        "own_statements": service.log.head(service.node_id).seq,
        "forked_authors": sorted(a.hex() for a in service.log.forked_authors()),
    }


async def status(request: web.Request) -> web.Response:
    return web.json_response(status_info(request.app[SERVICE], running=True))


async def own_log(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response([statement_view(s) for s in service.own_statements()])


async def stop(request: web.Request) -> web.Response:
    request.app[STOP].set()
    return web.json_response({"stopping": True})


def create_app(service: NodeService, stop_event: asyncio.Event) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=4 * 1024 * 1024)
    app[SERVICE] = service
    app[STOP] = stop_event
    app.router.add_get("/status", status)
    app.router.add_get("/log", own_log)
    app.router.add_post("/stop", stop)
    return app
