"""Sign-in, sessions, roles and CSRF for the dashboard.

- Every page but ``/login`` and ``/static/`` needs a session: the cookie (HttpOnly, Secure,
  SameSite=Strict, Max-Age the session's life) holds a random token; its hash finds the session.
  No session: a GET is sent to ``/login``, anything else is refused with 401.
- Every POST is refused (403) unless it carries the session's CSRF token in the form field ``csrf``
  and, when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``), comes from this
  site. The login form, before any session, uses a double-submit token (cookie and form field).
- Roles: a viewer may only read; ``requires("staff")`` / ``requires("admin")`` guard each action.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core.accounts import SESSION_MS, LoginRefused
from node.http.conn_guard import source_of
from node.logs import log_event
from node.web.context import COOKIE, LOGIN_COOKIE, MAX_BODY_BYTES, ROLE_RANK, SESSION, WEB, session_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = ("/login", "/static/")
SAFE_METHODS = ("GET", "HEAD")  # read only: no form token (HEAD is a GET without the body, as link checkers send)
MAX_LOGIN_BYTES = 16 * 1024  # a sign-in form is a name, a password and a token: nothing larger is read


def see_other(location: str) -> web.Response:
    """The answer to a form post: go (GET) to ``location``."""
    return web.Response(status=303, headers={"Location": location})


def _cookie_args(max_age: int) -> dict[str, Any]:
    return {"httponly": True, "secure": True, "samesite": "Strict", "max_age": max_age, "path": "/"}


def same_site(request: web.Request) -> bool:
    """The browser's own word on where a form post comes from: a cross-site post is refused."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _form_token_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(expected, given)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    accounts = request.app[WEB].accounts
    token = request.cookies.get(COOKIE)
    session = accounts.session(token) if token else None
    if session is None:
        if request.method in SAFE_METHODS:
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="sign in first")
    request[SESSION] = session
    if request.method not in SAFE_METHODS:
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge as exc:  # aiohttp's own words name a byte count, not what to do
            limit = MAX_BODY_BYTES // (1024 * 1024)
            raise web.HTTPRequestEntityTooLarge(max_size=limit, text=f"what you sent is larger than {limit} MiB: nothing "
                                                "was saved; choose a smaller file (split a large spreadsheet)") from exc
        if not same_site(request) or not _form_token_ok(session.csrf, form.get("csrf")):
            log_event("dashboard.csrf-refused", logging.WARNING, path=request.path)
            raise web.HTTPForbidden(text="this form was not sent from this dashboard (its security token is missing or "
                                         "wrong): reload the page and try again")
    return await handler(request)


def requires(role: str) -> Callable[[Handler], Handler]:
    """Refuse (403) a signed-in user whose role is below ``role``."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if ROLE_RANK[session_of(request).user.role] < ROLE_RANK[role]:
                raise web.HTTPForbidden(text=f"your account may not do this: it needs the {role} role "
                                             "(ask an administrator)")
            return await handler(request)

        guarded.__name__ = handler.__name__
        return guarded

    return wrap


async def login_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    ctx = request.app[WEB]
    # One token per browser while it signs in: a second page load (another tab, a favicon request sent here)
    # must not invalidate the form already shown.
    kept = request.cookies.get(LOGIN_COOKIE, "")
    token = kept if re.fullmatch(r"[0-9a-f]{32}", kept) else ctx.service.random(16).hex()
    response = aiohttp_jinja2.render_template("login.html", request, {"csrf": token, "error": error,
                                                                      "org_name": ctx.service.config.name}, status=status)
    response.set_cookie(LOGIN_COOKIE, token, **_cookie_args(600))
    return response


async def login_get(request: web.Request) -> web.Response:
    return await login_page(request)


async def login_post(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    if request.content_length is None or request.content_length > MAX_LOGIN_BYTES:
        # before any session the body is read only when small: a stranger cannot make the node hold 8 MiB per request
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_LOGIN_BYTES, actual_size=request.content_length or 0,
                                            text="this sign-in form is too large to be one: reload the page and try again")
    try:  # a stranger's body still arriving after read_timeout is a slowloris holding a connection slot
        async with asyncio.timeout(float(ctx.service.config.read_timeout)):
            form = await request.post()
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPRequestTimeout() from None
    if not same_site(request) or not _form_token_ok(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf")):
        raise web.HTTPForbidden(text="this sign-in form was not sent from this dashboard: reload the page and try again")
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    try:
        # One source per IPv4 address or IPv6 /64 (conn_guard.source_of): a host owns a whole /64.
        token, session = await ctx.accounts.login_off_loop(name, password, source_of(request.remote or "?"))
    except LoginRefused as exc:
        log_event("dashboard.login-refused", logging.WARNING, limited=exc.limited)
        return await login_page(request, str(exc), status=429 if exc.limited else 401)
    ctx.accounts.record(session.user.name, "signed in")
    response = see_other("/")
    response.set_cookie(COOKIE, token, **_cookie_args(SESSION_MS // 1000))
    response.del_cookie(LOGIN_COOKIE, path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    if token:
        request.app[WEB].accounts.logout(token)
    response = see_other("/login")
    response.del_cookie(COOKIE, path="/")
    return response
