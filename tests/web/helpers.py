"""Shared helpers for the dashboard tests: a signed-in aiohttp client against a real node's dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp

from node.runtime import NodeRuntime

PASSWORD = "correct horse battery staple"
# What a browser sends with a form posted from another site (the dashboard refuses it).
EVIL = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}


def add_user(runtime: NodeRuntime, name: str, role: str, password: str = PASSWORD) -> None:
    runtime.accounts.add(name, role, password)


def dashboard_url(runtime: NodeRuntime) -> str:
    url = runtime.federation.health.dashboard_url
    assert url is not None, "the dashboard is not running"
    return url.rstrip("/")


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


@dataclass
class Browserless:
    """An HTTP client that keeps the dashboard's cookies by hand (they are Secure; aiohttp's jar would not
    send them over http://127.0.0.1, a browser treats loopback as a secure origin and does)."""

    session: aiohttp.ClientSession
    base: str
    cookies: dict[str, str]

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**({"Cookie": cookie} if cookie else {}), **(extra or {})}

    def _keep(self, resp: aiohttp.ClientResponse) -> None:
        for name, morsel in resp.cookies.items():
            if morsel.value == "" or morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(self.base + path, headers=self.headers(), allow_redirects=False) as resp:
            self._keep(resp)
            return resp.status, await resp.text(), resp

    async def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.post(self.base + path, data=data, headers=self.headers(headers), allow_redirects=False) as resp:
            self._keep(resp)
            return resp.status, await resp.text(), resp

    async def sign_in(self, name: str, password: str = PASSWORD) -> int:
        _, html, _ = await self.get("/login")
        status, _, _ = await self.post("/login", {"csrf": form_token(html), "name": name, "password": password})
        return status

    async def token(self, path: str = "/") -> str:
        _, html, _ = await self.get(path)
        return form_token(html)


async def signed_in(http: aiohttp.ClientSession, node: NodeRuntime, name: str, role: str) -> Browserless:
    """A new dashboard user ``name`` with ``role``, signed in."""
    add_user(node, name, role)
    client = Browserless(http, dashboard_url(node), {})
    assert await client.sign_in(name) == 303
    return client
