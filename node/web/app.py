"""The dashboard's aiohttp application: templates, security headers, sign-in, and the page groups.

Every answer carries a strict Content-Security-Policy (``default-src 'self'``, no inline script or
style, ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer`` and ``Cache-Control: no-store``. Templates autoescape everything: text from partners
(titles, names, descriptions) is only ever shown as text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from node.core.errors import ProtocolError, StorageFull, UserError
from node.http.conn_guard import ConnectionPolicy
from node.logs import log_event
from node.web import (
    audit,
    auth,
    candidate_import,
    candidates,
    filters,
    job_import,
    job_travel,
    jobs,
    matches,
    nearby,
    overview,
    partners,
    referrals,
)
from node.web.auth import Handler
from node.web.context import MAX_BODY_BYTES, WEB, WebContext

HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # not no-referrer: with it a browser sends "Origin: null" on our own forms
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


@web.middleware
async def write_turn(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A form post may write: it waits on the loop while a transaction runs off it (a CSV import's
    batch, node/core/off_loop_writes.py), not in SQLite's busy handler, which would hold the loop."""
    if request.method != "GET":
        await request.app[WEB].federation.writes.wait()
    return await handler(request)


# A core message points CLI users at a command ("(see `orgnode referral list`)"); a web page points at its page.
SEE_PAGE = {"referral": "the Referrals page", "candidate": "the Candidates page", "job": "the Jobs page",
            "trust": "the Partners page", "invite": "the Partners page"}
SEE_COMMAND = re.compile(r"\b(see|from) `orgnode (\w+)[^`]*`")
RUN_MATCH = re.compile(r"run `orgnode match[^`]*`")


def page_words(text: str) -> str:
    """A core error for a web page: "see `orgnode job list`" becomes "see the Jobs page", "run `orgnode
    match ID`" "run a match on the Matches page" (no CLI command on a page); a command with no page
    (users) becomes "ask your administrator"."""
    text = RUN_MATCH.sub("run a match on the Matches page", text)
    return SEE_COMMAND.sub(lambda m: f"{m.group(1)} {SEE_PAGE[m.group(2)]}" if m.group(2) in SEE_PAGE
                           else "ask your administrator", text)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A mistake in a form is shown on a page in plain words, with the way back; nothing was changed."""
    try:
        return await handler(request)
    except (UserError, ProtocolError) as exc:
        text = str(exc) if isinstance(exc, UserError) else exc.detail
        return aiohttp_jinja2.render_template("error.html", request, {"message": page_words(text)}, status=400)
    except StorageFull:
        return aiohttp_jinja2.render_template("error.html", request, {"message": "the disk of this server is full: "
                                              "nothing was saved; ask your administrator"}, status=507)
    except web.HTTPException:
        raise
    except Exception as exc:
        log_event("dashboard.error", logging.ERROR, path=request.path, error=type(exc).__name__)
        return aiohttp_jinja2.render_template("error.html", request, {"message": "something went wrong on the server; "
                                              "the node's log says more"}, status=500)


def connection_policy(read_timeout: float) -> ConnectionPolicy:
    """The federation port's guards with caps for a few staff browsers (each opens several connections);
    the server's own error answers (a request the HTTP parser refuses) carry the security headers too."""
    return ConnectionPolicy(read_timeout=read_timeout, max_per_address=32, max_connections=128,
                            error_headers=tuple(SECURITY_HEADERS.items()))


def create_app(ctx: WebContext) -> web.Application:
    app = web.Application(middlewares=[security_headers, write_turn, auth.authenticate, errors], client_max_size=MAX_BODY_BYTES)
    app[WEB] = ctx
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                               context_processors=[filters.page_context])
    filters.install(env)
    app[aiohttp_jinja2.static_root_key] = "/static"
    app.router.add_get("/login", auth.login_get)
    app.router.add_post("/login", auth.login_post)
    app.router.add_post("/logout", auth.logout)
    app.router.add_static("/static/", HERE / "static", append_version=True)
    for module in (overview, jobs, job_import, job_travel, candidate_import, candidates, matches, referrals, partners, nearby, audit):
        module.add_routes(app.router)
    return app
