"""The overview page: the impact figures and their chart over time (node/web/chart.py)."""

from __future__ import annotations

import aiohttp_jinja2
import sqlite_utils
from aiohttp import web

from node.core.off_loop_reads import OffLoopReader
from node.web.chart import series_over_time, svg_chart
from node.web.context import WEB
from storage.log_store import LogStore
from storage.provenance import held_statements


async def overview(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    now = ctx.federation.clock()
    me = ctx.federation.me

    def series(db: sqlite_utils.Database) -> dict[str, list[int]]:
        first = LogStore(db).statements(me, limit=1)
        return series_over_time(me, list(held_statements(db)), first[0].header.ts if first else now, now)

    # Eight impact counts over every statement held: in a worker thread on a read-only connection
    # (node/core/off_loop_reads.py), not on the event loop.
    async with OffLoopReader(ctx.service.home.db_path) as reader:
        chart = svg_chart(await reader.run(series, snapshot=True))
    partners = len(ctx.federation.peers.trusted())
    jobs = len(ctx.talent.list_jobs(mine=True))
    return aiohttp_jinja2.render_template("overview.html", request, {
        "chart": chart, "partners": partners, "own_jobs": jobs, "now": now})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", overview)
