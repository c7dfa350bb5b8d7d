"""The partners page: the trust list with fingerprints in groups, pairing requests waiting for an
answer (approve/decline), invitations, and each partner's health (node/core/peer_health.py: the facts
`orgnode status` uses, in plain words). Changes need the admin role. Nodes found on the local network
are node/web/nearby.py."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.core.errors import UserError
from node.core.pairing import accept_invite
from node.core.peer_health import peer_health
from node.core.views import peer_view
from node.web.auth import requires, see_other
from node.web.context import WEB, session_of
from node.web.nearby import STATE_WORDS, requested_words
from protocol import errors as E
from storage import peers as P

INVITE_TTL_MS = 7 * 86_400_000
# `orgnode status`'s problems about one partner, as the dashboard says them (the admin also sees the detail).
PLAIN_PROBLEMS = {
    "peer-unreachable": "Their node has not answered for a while: updates for them are kept until it does.",
    "clock-skew": "Their computer's clock and ours disagree: ask their administrator to check the time on their server.",
    "fork-evidence": "Their node sent two different versions of its records: this node stopped taking their updates "
                     "until an administrator decides.",
    "over-quota": "They sent more than this node keeps for one partner: some of it was refused.",
    "partner-holds-fork": "Their node holds a different version of our records and refuses our updates.",
    "partner-disk-full": "Their server's disk is full: our updates wait until they free space.",
    "peer-cert-refused": "Their secure-connection certificate was refused, so their node cannot be reached.",
    "peer-address-refused": "Their address was refused, so their node cannot be reached.",
}


async def partner_list(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    now = ctx.federation.clock()
    views = [peer_view(ctx.service, p, now) for p in ctx.federation.peers.all()]
    health = peer_health(ctx.service, ctx.federation.health, now)
    return aiohttp_jinja2.render_template("partners.html", request, {
        "health": {node_id.hex(): h for node_id, h in health.items()}, "plain": PLAIN_PROBLEMS,
        "skew_warn_ms": ctx.federation.health.skew_warn_ms, "now_ms": now, "requested": requested_words(ctx, request.query.get("requested", ""), request.query.get("answer", "")),
        "trusted": [v for v in views if v["state"] == P.TRUSTED],
        "pending": [v for v in views if v["state"] == P.PENDING_IN],
        "others": [v for v in views if v["state"] not in (P.TRUSTED, P.PENDING_IN)],
        "fingerprint": ctx.service.identity.fingerprint,
        "invite": request.query.get("invite"), "peer_words": STATE_WORDS,
        "accepted": accepted_words(views, request.query.get("accepted", "")),
    })


def accepted_words(views: list[dict[str, Any]], node_id: str) -> dict[str, Any] | None:
    """After an invitation was accepted: the new partner, with its fingerprint to compare."""
    return next((v for v in views if node_id and v["node_id"] == node_id and v["state"] == P.TRUSTED), None)


@requires("admin")
async def invite(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    name = str(form.get("name") or "").strip() or None
    token = ctx.federation.create_invite(INVITE_TTL_MS, name, None)
    ctx.accounts.record(session_of(request).user.name, "created an invitation", token.invite_id.hex())
    return aiohttp_jinja2.render_template("invite.html", request, {"token": token.encode(), "name": name,
                                                                   "fingerprint": token.fingerprint})


@requires("admin")
async def accept(request: web.Request) -> web.StreamResponse:
    """`orgnode trust accept TOKEN` from a form: the same request (``TrustAccept``) and use case
    (``accept_invite``); the page then shows the new partner's fingerprint to compare by phone."""
    ctx = request.app[WEB]
    form = await request.post()
    token = R.TrustAccept.from_json({"token": str(form.get("token", "")).strip()}).token
    if not token:
        raise UserError("paste the invitation the other organization sent you; nothing was changed")
    try:
        verified = await accept_invite(ctx.federation, ctx.client, token)
    except UserError as exc:
        if exc.code in (UserError.code, E.EXPIRED):  # said for a reader already
            raise
        # The token did not decode: the core's words name the CLI (`orgnode invite`); here it was pasted.
        raise UserError("this is not a whole invitation: copy all of it from the message the other organization sent "
                        "(it is one long line) and paste it again; nothing was changed", field="token") from exc
    ctx.accounts.record(session_of(request).user.name, "accepted an invitation", verified.node_id.hex())
    return see_other(f"/partners?accepted={verified.node_id.hex()}")


@requires("admin")
async def approve(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    node_id = ctx.federation.resolve_peer(request.match_info["node_id"])
    if ctx.lan is None:
        raise UserError("pairing requests are answered by the node's LAN pairing, which is not running")
    await ctx.lan.approve(node_id.hex())
    ctx.accounts.record(session_of(request).user.name, "approved the pairing request", node_id.hex())
    return see_other("/partners")


@requires("admin")
async def decline(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    node_id = ctx.federation.resolve_peer(request.match_info["node_id"])
    ctx.federation.set_state(node_id, P.REMOVED)
    ctx.accounts.record(session_of(request).user.name, "declined or removed the partner", node_id.hex())
    return see_other("/partners")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/partners", partner_list)
    router.add_post("/partners/invite", invite)
    router.add_post("/partners/accept", accept)
    router.add_post("/partners/{node_id:[0-9a-f]{16,64}}/approve", approve)
    router.add_post("/partners/{node_id:[0-9a-f]{16,64}}/remove", decline)
