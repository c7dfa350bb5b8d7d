"""Organizations' nodes found on the local network (LAN discovery, node/lan/discovery.py) and asking
one of them to pair (admins only), with the same ``LanAdmin.request`` as `orgnode trust request`.

Listing browses for ``LOOK_SECONDS`` with the running node's discovery (what `orgnode discover`
shows); announcements are unverified hints, shown as text with the fingerprint in groups to compare
aloud. Nothing found is contacted until an admin sends a pairing request; the request itself checks
the node again (it must still be announced, its card must match its id) before anything is sent.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from node.core.errors import UserError
from node.core.views import peer_view
from node.web.auth import requires, see_other
from node.web.context import WEB, WebContext, session_of
from protocol.lan_pairing import ANSWER_TRUSTED
from storage import peers as P

LOOK_SECONDS = 2.0  # how long the page listens for announcements
REQUEST_SECONDS = 3.0  # how long a pairing request looks for the node again before contacting it
STATE_WORDS = {P.TRUSTED: "already a partner", P.PENDING_OUT: "asked to pair: waiting for their answer",
               P.PENDING_IN: "asked us to pair: see the requests on the partners page",
               P.REMOVED: "a former partner", P.BLOCKED: "blocked"}


async def nearby(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    if ctx.lan is None or not ctx.service.config.lan_discovery:
        return aiohttp_jinja2.render_template("nearby.html", request, {"off": True, "found": []})
    found = [f for f in await ctx.lan.discovery.browse(LOOK_SECONDS) if f.announcement.node_id != ctx.service.node_id]
    peers = {p.node_id: p.state for p in ctx.federation.peers.all()}
    shown = [{"node_id": f.announcement.node_id.hex(), "name": f.announcement.name, "fingerprint": f.announcement.fingerprint,
              "url": f.announcement.url, "state": peers.get(f.announcement.node_id)} for f in found]
    return aiohttp_jinja2.render_template("nearby.html", request, {"off": False, "found": shown, "words": STATE_WORDS,
                                                                  "seconds": LOOK_SECONDS})


@requires("admin")
async def ask_to_pair(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    if ctx.lan is None:
        raise UserError("LAN pairing is not running on this node: pair with an invitation instead")
    node_id = request.match_info["node_id"]
    view = await ctx.lan.request(node_id, REQUEST_SECONDS)
    ctx.accounts.record(session_of(request).user.name, "sent a pairing request", node_id)
    # Only the node's id and a fixed answer travel in the address: the page finds the name itself, so a crafted
    # link cannot put words of its own on the partners page.
    answer = "trusted" if view.get("answer") == ANSWER_TRUSTED else "asked"
    return see_other("/partners?" + urlencode({"requested": node_id, "answer": answer}))


def requested_words(ctx: WebContext, node_id: str, answer: str) -> str | None:
    """The notice after a pairing request, for a node this node knows; None for anything else."""
    if not re.fullmatch(r"[0-9a-f]{64}", node_id):
        return None
    peer = ctx.federation.peers.get(bytes.fromhex(node_id))
    if peer is None:
        return None
    view = peer_view(ctx.service, peer, ctx.federation.clock())
    name = view.get("name") or view.get("declared_name") or "the organization"
    if answer == "trusted":
        return f"{name} already trusts this node: ask their administrator to remove us there, then ask again"
    return f"Asked {name} to pair: their administrator compares fingerprints and approves"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/partners/nearby", nearby)
    router.add_post("/partners/nearby/{node_id:[0-9a-f]{64}}/request", ask_to_pair)
