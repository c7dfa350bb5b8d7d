"""The overview page: the impact figures and their chart over time (node/web/chart.py)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from node.web.chart import series_over_time, svg_chart
from node.web.context import WEB


async def overview(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    now = ctx.federation.clock()
    me = ctx.federation.me
    own = ctx.service.own_statements()
    start = own[0].header.ts if own else now
    held = ctx.provenance.held_statements()
    chart = svg_chart(series_over_time(me, held, start, now))
    partners = len(ctx.federation.peers.trusted())
    jobs = len(ctx.talent.list_jobs(mine=True))
    return aiohttp_jinja2.render_template("overview.html", request, {
        "chart": chart, "partners": partners, "own_jobs": jobs, "now": now})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", overview)
