""""Where this job travelled": which partners have it, who passed it on and how many steps from its
author (node/core/job_travel.py, from what this node knows), in plain words with the organizations'
names. Anyone signed in may read it; for an own job allowed further than our partners, staff can
ask the partners who holds it now (the same question a match beyond partners asks)."""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from node.core.job_travel import DELIVERED, NOT_CONFIRMED, WAITING, holders_now, job_travel
from node.web.context import ROLE_RANK, WEB, session_of
from node.web.jobs import JOB_ID
from protocol.errors import ProtocolError

ASK_SECONDS = 10.0  # the partners' answers are awaited this long


async def travel(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    job_id = ctx.talent.resolve(request.match_info["job_id"], "JOB_ID")
    known = job_travel(ctx.talent, job_id)
    asked, ask_failed = None, None
    # Asking spends the partners' relay quota: staff and up, as running a match (a viewer reads what is known).
    can_ask = known.mine and known.hops >= 2 and ctx.paths is not None and ROLE_RANK[session_of(request).user.role] >= ROLE_RANK["staff"]
    if can_ask and request.query.get("ask") == "1" and ctx.paths is not None:
        try:
            asked = await asyncio.wait_for(holders_now(ctx.talent, ctx.paths, job_id), ASK_SECONDS)
        except (TimeoutError, ProtocolError):
            ask_failed = "your partners did not answer in time; try again in a minute"
    return aiohttp_jinja2.render_template("job_travel.html", request, {
        "t": known, "asked": asked, "ask_failed": ask_failed, "can_ask": can_ask,
        "DELIVERED": DELIVERED, "WAITING": WAITING, "NOT_CONFIRMED": NOT_CONFIRMED})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"/jobs/{JOB_ID}/travel", travel)
