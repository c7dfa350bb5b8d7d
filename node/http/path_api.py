"""HTTP surface of calls along the trust path (node/core/path_calls.py, docs/protocol.md 17.7): the
federation endpoints a partner posts a path call or a holders query to. Parse, call core, answer."""

from __future__ import annotations

from aiohttp import web

from node.core.path_calls import CALL_PATH, HOLDERS_PATH, PathCalls
from node.http import federation_api
from node.http.part import Part
from protocol.path_call import HoldersQuery, PathCall

MSGPACK = "application/msgpack"

PATHS = web.AppKey("path_calls", PathCalls)


async def call_endpoint(request: web.Request) -> web.Response:
    sender, body = await federation_api.authenticate(request)
    reply = await request.app[PATHS].handle(sender, PathCall.decode(body))  # a bad call is a RemoteProtocolError
    return web.Response(body=reply.encode(), content_type=MSGPACK)


async def holders_endpoint(request: web.Request) -> web.Response:
    sender, body = await federation_api.authenticate(request)
    holders = await request.app[PATHS].holders(sender, HoldersQuery.decode(body))
    return web.Response(body=holders.encode(), content_type=MSGPACK)


FEDERATION_ROUTES = [("POST", CALL_PATH, call_endpoint), ("POST", HOLDERS_PATH, holders_endpoint)]


def part(paths: PathCalls) -> Part:
    """The path-call endpoints and the ``PathCalls`` their handlers (and the match route) read."""
    return Part("paths", tuple(FEDERATION_ROUTES), (), ((PATHS, paths),))
