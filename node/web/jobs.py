"""The jobs pages: this organization's and partners' jobs, posting and closing one (staff and up).

Forms are read into the same typed request the admin API uses (``node.core.requests.JobPost``), and
the same ``Talent`` use case posts it: one validation, whichever surface asks.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.web.auth import requires, see_other
from node.web.context import WEB, session_of


async def job_list(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    jobs = ctx.talent.list_jobs()
    mine = [j for j in jobs if j["mine"]]
    theirs = [j for j in jobs if not j["mine"]]
    return aiohttp_jinja2.render_template("jobs.html", request, {"mine": mine, "theirs": theirs,
                                                                 "posted": request.query.get("posted") == "1"})


@requires("staff")
async def job_post(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    body = {"title": form.get("title", ""), "skills": form.get("skills", ""), "description": form.get("description", ""),
            "hops": int(str(form.get("hops") or "1")) if str(form.get("hops") or "1").isdigit() else form.get("hops")}
    if form.get("location"):
        body["location"] = form.get("location")
    if form.get("where") in ("remote", "hybrid"):
        body[str(form.get("where"))] = True
    job = ctx.talent.post_job(**R.JobPost.from_json(body).core_args())
    ctx.accounts.record(session_of(request).user.name, "posted the job", job.job_id.hex())
    return see_other("/jobs?posted=1")


@requires("staff")
async def job_close(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    job_id = ctx.talent.resolve(request.match_info["job_id"], "JOB_ID")
    ctx.talent.close_job(job_id, None)
    ctx.accounts.record(session_of(request).user.name, "closed the job", job_id.hex())
    return see_other("/jobs")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/jobs", job_list)
    router.add_post("/jobs", job_post)
    router.add_post("/jobs/{job_id:[0-9a-f]{32}}/close", job_close)
