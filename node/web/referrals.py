"""The referrals page: each referral with the stage changes this side may make (one click each),
requests waiting for our approval, and who did what here. Changes need the staff role.

The buttons offered are exactly the transitions ``protocol.referrals`` allows this side from the
current stage; the click goes through ``Talent.update_referral``, which checks them again."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.web.auth import requires, see_other
from node.web.context import WEB, session_of
from node.web.filters import when
from protocol.referrals import HOLDER, JOB_ORG, STATUS_UPDATES, TRANSITIONS, WHO, feature_needed
from storage.users import UserStore

STAGE_WORDS = {"requested": "Asked for", "sent": "Sent", "received": "Received", "in_process": "In process",
               "interview": "Interview", "offer": "Offer", "hired": "Hired", "not_hired": "Not hired", "declined": "Declined", "withdrawn": "Withdrawn",
               "expired": "Expired"}


def next_stages(view: dict[str, Any], me: str, peer_features: frozenset[str]) -> list[tuple[str, str]]:
    """The stages this side may set next; ``interview``/``offer`` only if the other node understands them."""
    side = JOB_ORG if view["to"] == me else HOLDER
    allowed = TRANSITIONS.get(view["status"], frozenset())
    return [(s, STAGE_WORDS[s]) for s in STATUS_UPDATES if s in allowed and side in WHO[s]
            and feature_needed(s) in (None, *peer_features)]


def _features(ctx: Any, view: dict[str, Any], me: str) -> frozenset[str]:
    """What the other organization's node last advertised (``OrgNode-Features``)."""
    other = view["from"] if view["to"] == me else view["to"]
    features: frozenset[str] = ctx.service.peer_features.get(bytes.fromhex(other), frozenset())
    return features


async def referral_list(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    me = ctx.federation.me.hex()
    users = UserStore(ctx.service.db)
    referrals = [{**v, "stage": STAGE_WORDS.get(v["status"], v["status"]),
                  "next": next_stages(v, me, _features(ctx, v, me)) if v.get("request_id") != v["id"] else [],
                  "history": [f"{when(a.at)}: {a.user_name} {a.action}" for a in users.actions(v["id"])]}
                 for v in ctx.talent.list_referrals()]
    return aiohttp_jinja2.render_template("referrals.html", request, {
        "referrals": referrals, "pending": ctx.talent.pending_requests()})


@requires("staff")
async def change_stage(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    referral_id = ctx.talent.resolve(request.match_info["referral_id"], "REFERRAL_ID")
    stage = str(form.get("stage", ""))
    ctx.talent.update_referral(referral_id, stage, str(form.get("reason", "")))
    ctx.accounts.record(session_of(request).user.name, f"moved it to “{STAGE_WORDS.get(stage, stage)}”", referral_id.hex())
    return see_other("/referrals")


@requires("staff")
async def answer_request(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    request_id = ctx.talent.resolve(request.match_info["request_id"], "REQUEST_ID")
    if request.match_info["answer"] == "approve":
        ctx.talent.approve_request(request_id, "")
        ctx.accounts.record(session_of(request).user.name, "approved the referral request", request_id.hex())
    else:
        ctx.talent.decline_request(request_id, "")
        ctx.accounts.record(session_of(request).user.name, "declined the referral request", request_id.hex())
    return see_other("/referrals")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/referrals", referral_list)
    router.add_post("/referrals/{referral_id:[0-9a-f]{32}}/stage", change_stage)
    router.add_post("/requests/{request_id:[0-9a-f]{32}}/{answer:approve|decline}", answer_request)
