"""The matches page: ask partners for candidates for one of our open jobs and request a referral from
an offer (both need the staff role). Partners answer with pseudonyms and scores only; asking for a
referral is what lets the holder send the person, once the candidate's consent allows it.

Both go through the admin API's requests (``MatchRequest``, ``ReferralRequestCreate``) and use cases
(``node.core.matching.ask_peers``, ``Talent.request_referral``), as `orgnode match` and
`orgnode referral request` do."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.core.matching import ask_peers
from node.web.auth import requires, see_other
from node.web.context import WEB, session_of


def _open_jobs(request: web.Request) -> list[dict[str, Any]]:
    return [j for j in request.app[WEB].talent.list_jobs(mine=True) if j["status"] == "open"]


async def match_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("matches.html", request, {
        "jobs": _open_jobs(request), "found": None, "requested": request.query.get("requested") == "1"})


@requires("staff")
async def run_match(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    form = await request.post()
    req = R.MatchRequest.from_json({"id": str(form.get("job", ""))})
    job_id = ctx.talent.resolve(req.id, "JOB_ID")
    found = await ask_peers(ctx.talent, ctx.client, job_id, req.deadline, paths=ctx.paths)
    ctx.accounts.record(session_of(request).user.name, "asked partners for candidates", job_id.hex())
    return aiohttp_jinja2.render_template("matches.html", request, {"jobs": _open_jobs(request), "found": found,
                                                                    "requested": False})


@requires("staff")
async def request_referral(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    req = R.ReferralRequestCreate.from_json({"job_id": str(form.get("job", "")), "pseudonym": str(form.get("pseudonym", ""))})
    job_id = ctx.talent.resolve(req.job_id, "JOB_ID")
    made = ctx.talent.request_referral(job_id, ctx.talent.resolve(req.pseudonym, "PSEUDONYM"))
    ctx.accounts.record(session_of(request).user.name, "asked for a referral", str(made["id"]))
    return see_other("/matches?requested=1")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/matches", match_page)
    router.add_post("/matches", run_match)
    router.add_post("/matches/request", request_referral)
